"""The archive without a network: ingest, duplicates, recovery, verify, delete, export, space."""

from __future__ import annotations

import errno
import os
import threading
from pathlib import Path

import pydicom
import pytest

from storecore.errors import StorageError
from storecore.storage import (
    Archive,
    DuplicatePolicy,
    Durability,
    Finding,
    IngestedInstance,
    Layout,
    StoragePolicy,
    StoreRequest,
)
from storecore.storage.blobstore import Spool, blob_key
from storecore.storage.index import Delete

from .helpers import CT, dataset_bytes, make_instance, write_instance

FREE = StoragePolicy(min_free_bytes=0)


def _archive(tmp_path: Path, **policy: object) -> Archive:
    return Archive(tmp_path / "archive", policy=StoragePolicy(min_free_bytes=0, **policy))  # type: ignore[arg-type]


def test_store_keeps_dataset_bytes_and_indexes_keys(tmp_path: Path) -> None:
    src = write_instance(tmp_path / "in", sop_instance_uid="1.2.3.4.5.6", name="Müller^Hans")
    with _archive(tmp_path) as archive:
        result = archive.store_file(src, calling_ae_title="MODALITY")
        assert result.status == 0x0000
        row = archive.instance("1.2.3.4.5.6")
        assert row is not None
        assert row.blob_key == "1.2.3.4/1.2.3.4.5/1.2.3.4.5.6.dcm"
        assert row.sop_class_uid == CT
        assert row.study_instance_uid == "1.2.3.4"
        assert row.series_instance_uid == "1.2.3.4.5"
        assert row.patient_id == "PID-1"
        assert row.modality == "CT"
        assert row.series_number == 3 and row.instance_number == 7
        assert row.calling_ae_title == "MODALITY"
        assert row.synced is True
        assert row.digest.startswith("blake3:") and row.digest == row.received_digest
        stored = archive.path("1.2.3.4.5.6")
        assert dataset_bytes(stored) == dataset_bytes(src)
        assert row.size == stored.stat().st_size
        # the File Meta names the sender (Source AE Title, PS3.10 7.1)
        assert pydicom.dcmread(stored).file_meta.SourceApplicationEntityTitle == "MODALITY"
        with archive.open("1.2.3.4.5.6") as f:
            assert f.read() == stored.read_bytes()
        assert [s.study_instance_uid for s in archive.studies()] == ["1.2.3.4"]
        assert [s.instances for s in archive.series("1.2.3.4")] == [1]
        assert archive.patients()[0].patient_id == "PID-1"
        # nothing left in the spool once answered
        assert list((tmp_path / "archive" / "spool").iterdir()) == []


def test_hashed_layout(tmp_path: Path) -> None:
    src = write_instance(tmp_path / "in", sop_instance_uid="1.2.3.99")
    with Archive(tmp_path / "a", policy=FREE, layout=Layout.HASHED) as archive:
        assert archive.store_file(src).status == 0
        key = archive.instance("1.2.3.99").blob_key  # type: ignore[union-attr]
        assert key.endswith("/1.2.3.99.dcm") and len(key.split("/")) == 3


@pytest.mark.parametrize(
    "uid", ["../../etc", "1.2/../../x", "1.2.3\x00", "", "a" * 65, "1..2", "/abs"]
)
def test_uids_that_would_escape_the_store_are_refused(uid: str) -> None:
    with pytest.raises(StorageError):
        blob_key(Layout.STUDY, uid, "1.2", "1.3")
    with pytest.raises(StorageError):
        blob_key(Layout.STUDY, "1.2", uid, "1.3")


def test_study_uid_that_is_not_a_uid_is_refused_before_anything_is_written(
    tmp_path: Path,
) -> None:
    src = write_instance(tmp_path / "in", study="../../evil")
    with _archive(tmp_path) as archive:
        result = archive.store_file(src)
        assert result.status == 0xC000
        assert "Study Instance UID" in (result.comment or "")
        assert list(archive.instances()) == []
        assert not any((tmp_path / "archive" / "objects").iterdir())
    assert not (tmp_path / "evil").exists()


def test_uid_mismatch_between_command_and_dataset_is_0xA900(tmp_path: Path) -> None:
    data = make_instance(sop_instance_uid="1.2.3.4.5.6")
    with _archive(tmp_path) as archive:
        handle = archive.sink().begin(
            StoreRequest(CT, "1.2.3.4.5.7", "1.2.840.10008.1.2.1", "A", "B", 1)
        )
        handle.write(memoryview(data[len(_meta(data)) :]))
        result = handle.finish()
        assert result.status == 0xA900
        assert "1.2.3.4.5.6" in (result.comment or "")
        assert list(archive.instances()) == []


def _meta(data: bytes) -> bytes:
    from storecore.dataset import read_file_meta

    return data[: read_file_meta(data).dataset_offset]


def test_truncated_dataset_is_0xC000_and_leaves_nothing(tmp_path: Path) -> None:
    data = make_instance(sop_instance_uid="1.2.3.4.5.6")
    with _archive(tmp_path) as archive:
        handle = archive.sink().begin(
            StoreRequest(CT, "1.2.3.4.5.6", "1.2.840.10008.1.2.1", "A", "B", 1)
        )
        handle.write(memoryview(data[len(_meta(data)) : -10]))
        assert handle.finish().status == 0xC000
        assert list(archive.instances()) == []
        assert list((tmp_path / "archive" / "spool").iterdir()) == []


def test_abort_mid_dataset_leaves_nothing(tmp_path: Path) -> None:
    data = make_instance(sop_instance_uid="1.2.3.4.5.6")
    with _archive(tmp_path) as archive:
        handle = archive.sink().begin(
            StoreRequest(CT, "1.2.3.4.5.6", "1.2.840.10008.1.2.1", "A", "B", 1)
        )
        handle.write(memoryview(data[len(_meta(data)) : 200]))
        handle.abort()
        assert list((tmp_path / "archive" / "spool").iterdir()) == []
        assert list(archive.instances()) == []


def test_a_prepared_spool_is_used_by_the_next_instance(tmp_path: Path) -> None:
    data = make_instance(sop_instance_uid="1.2.3.4.5.6")
    with _archive(tmp_path) as archive:
        sink = archive.sink()
        prepared = sink.prepare()
        (spool,) = (tmp_path / "archive" / "spool").iterdir()  # made before the request
        handle = prepared.begin(StoreRequest(CT, "1.2.3.4.5.6", "1.2.840.10008.1.2.1", "A", "B", 1))
        handle.write(memoryview(data[len(_meta(data)) :]))
        assert handle.finish().status == 0x0000
        assert not spool.exists()
        assert dataset_bytes(archive.path("1.2.3.4.5.6")) == data[len(_meta(data)) :]
        assert list((tmp_path / "archive" / "spool").iterdir()) == []


@pytest.mark.parametrize("sizes", [(3000, 50), (50, 3000)], ids=["smaller", "larger"])
def test_a_prepared_spool_is_prewritten_to_the_last_size_and_cut_back(
    tmp_path: Path, sizes: tuple[int, int]
) -> None:
    # the spool made while the association is idle holds zeros to the size of
    # the last file committed; the next data set overwrites them, and what is
    # stored (and digested, and verified) is exactly what was sent
    spool_dir = tmp_path / "archive" / "spool"
    with _archive(tmp_path) as archive:
        sink = archive.sink()
        for n, pixels in enumerate(sizes):
            uid = f"1.2.3.4.5.{n + 7}"
            data = make_instance(sop_instance_uid=uid, pixels=b"\x05\x06" * pixels)
            prepared = sink.prepare()
            (spool,) = spool_dir.iterdir()
            assert spool.stat().st_size == (sink.expect if n else 0)
            request = StoreRequest(CT, uid, "1.2.840.10008.1.2.1", "A", "B", 1)
            handle = prepared.begin(request)
            handle.write(memoryview(data[len(_meta(data)) :]))
            assert handle.finish().status == 0x0000
            stored = archive.path(uid)
            assert dataset_bytes(stored) == data[len(_meta(data)) :]
            assert sink.expect == stored.stat().st_size
        assert list(spool_dir.iterdir()) == []
        report = archive.verify()
        assert report.ok and report.checked == 2


def test_a_validator_reads_a_prewritten_spool_as_exactly_what_came(tmp_path: Path) -> None:
    # IngestedInstance.path is the complete Part 10 file: no zeros of the
    # pre-write past a data set smaller than the last one
    seen: list[bytes] = []

    def reader(instance: IngestedInstance) -> list[Finding]:
        with open(instance.path, "rb") as f:
            seen.append(f.read())
        return []

    with _archive(tmp_path, validators=(reader,)) as archive:
        sink = archive.sink()
        for n, pixels in enumerate((3000, 50)):
            uid = f"1.2.3.4.5.{n + 20}"
            data = make_instance(sop_instance_uid=uid, pixels=b"\x05\x06" * pixels)
            handle = sink.prepare().begin(StoreRequest(CT, uid, "1.2.840.10008.1.2.1", "A", "B", 1))
            handle.write(memoryview(data[len(_meta(data)) :]))
            assert handle.finish().status == 0x0000
            assert seen[-1][len(_meta(seen[-1])) :] == data[len(_meta(data)) :]


@pytest.mark.parametrize("uid", ["../../x", "1.2.3.4.5.6"], ids=["invalid-uid", "discarded"])
def test_a_prepared_spool_refused_or_discarded_leaves_nothing(tmp_path: Path, uid: str) -> None:
    with _archive(tmp_path) as archive:
        prepared = archive.sink().prepare()
        if uid.startswith(".."):
            handle = prepared.begin(StoreRequest(CT, uid, "1.2.840.10008.1.2.1", "A", "B", 1))
            assert handle.finish().status == 0xC000
        else:
            prepared.discard()
        assert list((tmp_path / "archive" / "spool").iterdir()) == []
        assert list(archive.instances()) == []


def test_a_prepared_spool_under_the_watermark_is_refused_0xA700_and_removed(
    tmp_path: Path,
) -> None:
    archive = Archive(tmp_path / "a", policy=StoragePolicy(min_free_bytes=1 << 62))
    with archive:
        prepared = archive.sink().prepare()
        handle = prepared.begin(StoreRequest(CT, "1.2.3.4", "1.2.840.10008.1.2.1", "A", "B", 1))
        assert handle.finish().status == 0xA700
        assert list((tmp_path / "a" / "spool").iterdir()) == []


# ---------------------------------------------------------------- duplicates


def _two_versions(tmp_path: Path) -> tuple[Path, Path, Path]:
    uid = "1.2.3.4.5.100"
    first = write_instance(tmp_path / "one", sop_instance_uid=uid, comment="first")
    same = write_instance(tmp_path / "same", sop_instance_uid=uid, comment="first")
    other = write_instance(tmp_path / "two", sop_instance_uid=uid, comment="second")
    return first, same, other


@pytest.mark.parametrize("policy", list(DuplicatePolicy))
def test_identical_duplicate_is_a_no_op_success(tmp_path: Path, policy: DuplicatePolicy) -> None:
    first, same, _ = _two_versions(tmp_path)
    with _archive(tmp_path, duplicates=policy) as archive:
        assert archive.store_file(first).status == 0
        before = archive.instance("1.2.3.4.5.100")
        assert archive.store_file(same).status == 0
        assert archive.index.versions("1.2.3.4.5.100") == [before]


@pytest.mark.parametrize(
    ("policy", "status", "kept", "versions"),
    [
        (DuplicatePolicy.KEEP, 0x0000, "first", 1),
        (DuplicatePolicy.OVERWRITE, 0x0000, "second", 1),
        (DuplicatePolicy.REJECT, 0x0111, "first", 1),
        (DuplicatePolicy.VERSION, 0x0000, "second", 2),
    ],
)
def test_different_duplicate_under_each_policy(
    tmp_path: Path, policy: DuplicatePolicy, status: int, kept: str, versions: int
) -> None:
    first, _, other = _two_versions(tmp_path)
    with _archive(tmp_path, duplicates=policy) as archive:
        assert archive.store_file(first).status == 0
        assert archive.store_file(other).status == status
        rows = archive.index.versions("1.2.3.4.5.100")
        assert len(rows) == versions
        with archive.open("1.2.3.4.5.100") as f:
            assert pydicom.dcmread(f).ImageComments == kept
        assert archive.verify().ok  # no orphan file, every digest matches
        if policy is DuplicatePolicy.VERSION:
            assert [r.version for r in rows] == [1, 2]
            with archive.open("1.2.3.4.5.100", version=1) as f:
                assert pydicom.dcmread(f).ImageComments == "first"


def test_overwrite_twice_reuses_names_and_leaves_no_orphans(tmp_path: Path) -> None:
    uid = "1.2.3.4.5.100"
    with _archive(tmp_path, duplicates=DuplicatePolicy.OVERWRITE) as archive:
        for n in range(4):
            src = write_instance(tmp_path / str(n), sop_instance_uid=uid, comment=f"c{n}")
            assert archive.store_file(src).status == 0
        files = list((tmp_path / "archive" / "objects").rglob("*.dcm"))
        assert len(files) == 1
        assert pydicom.dcmread(files[0]).ImageComments == "c3"
        assert archive.verify().ok


@pytest.mark.parametrize("policy", [DuplicatePolicy.REJECT, DuplicatePolicy.VERSION])
def test_racing_duplicates_are_decided_once(tmp_path: Path, policy: DuplicatePolicy) -> None:
    """Eight threads store eight different instances with one SOP Instance UID at once."""
    uid = "1.2.3.4.5.200"
    sources = [
        write_instance(tmp_path / f"s{n}", sop_instance_uid=uid, comment=f"copy {n}")
        for n in range(8)
    ]
    results: list[int] = []
    with _archive(tmp_path, duplicates=policy) as archive:
        start = threading.Barrier(8)

        def store(path: Path) -> None:
            start.wait()
            results.append(archive.store_file(path).status)

        threads = [threading.Thread(target=store, args=(p,)) for p in sources]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        rows = archive.index.versions(uid)
        if policy is DuplicatePolicy.REJECT:
            assert sorted(results) == [0] + [0x0111] * 7
            assert len(rows) == 1
        else:
            assert results == [0] * 8
            assert sorted(r.version for r in rows) == list(range(1, 9))
        assert archive.verify().ok


# ---------------------------------------------------------------- policy hooks


def test_validator_warning_is_answered_and_recorded(tmp_path: Path) -> None:
    def warn(instance: IngestedInstance) -> list[Finding]:
        assert instance.captures[0x00100020] == b"PID-1 "
        assert Path(instance.path).exists()
        return [Finding(0xB000, "coerced something")]

    src = write_instance(tmp_path / "in", sop_instance_uid="1.2.3.7")
    with _archive(tmp_path, validators=(warn,)) as archive:
        result = archive.store_file(src)
        assert (result.status, result.comment) == (0xB000, "coerced something")
        row = archive.instance("1.2.3.7")
        assert row is not None
        assert row.findings == [
            {"status": 0xB000, "comment": "coerced something", "validator": "warn"}
        ]


def test_validator_failure_refuses_and_exception_is_0x0110(tmp_path: Path) -> None:
    def refuse(instance: IngestedInstance) -> list[Finding]:
        return [Finding(0xA900, "not a CT")]

    def crash(instance: IngestedInstance) -> list[Finding]:
        raise RuntimeError("bug")

    src = write_instance(tmp_path / "in")
    with _archive(tmp_path, validators=(refuse,)) as archive:
        assert archive.store_file(src).status == 0xA900
        assert list(archive.instances()) == []
    with Archive(tmp_path / "b", policy=StoragePolicy(min_free_bytes=0, validators=(crash,))) as b:
        result = b.store_file(src)
        assert result.status == 0x0110 and "bug" in (result.comment or "")


def test_store_transfer_syntax_policy_transcodes_and_records(tmp_path: Path) -> None:
    src = write_instance(tmp_path / "in", sop_instance_uid="1.2.3.8", ts="1.2.840.10008.1.2")
    with _archive(tmp_path, store_transfer_syntax="1.2.840.10008.1.2.1") as archive:
        assert archive.store_file(src).status == 0
        row = archive.instance("1.2.3.8")
        assert row is not None
        assert row.received_transfer_syntax == "1.2.840.10008.1.2"
        assert row.stored_transfer_syntax == "1.2.840.10008.1.2.1"
        assert row.transcode is not None and row.transcode["path"] == "SUPPORTED"
        assert row.digest != row.received_digest
        stored = pydicom.dcmread(archive.path("1.2.3.8"))
        assert stored.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"
        assert stored.PixelData == pydicom.dcmread(src).PixelData
        assert archive.verify().ok


# ---------------------------------------------------------------- space


def test_watermark_refuses_before_data_is_accepted(tmp_path: Path) -> None:
    src = write_instance(tmp_path / "in")
    policy = StoragePolicy(min_free_bytes=1 << 62)
    with Archive(tmp_path / "a", policy=policy) as archive:
        result = archive.store_file(src)
        assert result.status == 0xA700 and "out of space" in (result.comment or "")
        assert list((tmp_path / "a" / "spool").iterdir()) == []


def test_reservations_of_instances_in_flight_count(tmp_path: Path) -> None:
    free = os.statvfs(tmp_path).f_bavail * os.statvfs(tmp_path).f_frsize
    # room for exactly one reservation above the watermark
    policy = StoragePolicy(min_free_bytes=free - (96 << 20), reservation_bytes=64 << 20)
    with Archive(tmp_path / "a", policy=policy) as archive:
        req = StoreRequest(CT, "1.2.3.9", "1.2.840.10008.1.2.1", "A", "B", 1)
        first = archive.sink().begin(req)
        second = archive.sink().begin(req)
        assert second.finish().status == 0xA700
        first.abort()
        third = archive.sink().begin(req)
        third.abort()
        assert archive.sink()._reserved == 0


def test_write_error_mid_dataset_is_0xA700_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = make_instance(sop_instance_uid="1.2.3.10", pixels=b"\x00" * 200_000)
    body = data[len(_meta(data)) :]
    real_write = Spool.write

    def full(self: Spool, chunk: object) -> None:
        if self.size > 100_000:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(self, chunk)  # type: ignore[arg-type]

    monkeypatch.setattr(Spool, "write", full)
    with _archive(tmp_path) as archive:
        handle = archive.sink().begin(
            StoreRequest(CT, "1.2.3.10", "1.2.840.10008.1.2.1", "A", "B", 1)
        )
        for i in range(0, len(body), 16384):
            handle.write(memoryview(body[i : i + 16384]))
        result = handle.finish()
        assert result.status == 0xA700 and "disk full" in (result.comment or "")
        assert list((tmp_path / "archive" / "spool").iterdir()) == []
        assert list(archive.instances()) == []
        assert archive.sink()._reserved == 0


def test_index_failure_unpublishes_and_answers_0xA700(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = write_instance(tmp_path / "in", sop_instance_uid="1.2.3.11")
    with _archive(tmp_path) as archive:
        import sqlite3

        def broken(ops: object) -> object:
            raise sqlite3.OperationalError("database or disk is full")

        monkeypatch.setattr(archive.index, "apply", broken)
        result = archive.store_file(src)
        assert result.status == 0xA700
        monkeypatch.undo()
        assert list((tmp_path / "archive" / "objects").rglob("*.dcm")) == []
        assert list((tmp_path / "archive" / "spool").iterdir()) == []
        assert archive.verify().ok


# ---------------------------------------------------------------- crash recovery


def _crash_after_publish(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, uid: str) -> Path:
    """Store an instance but 'crash' between the publication and the index commit."""
    src = write_instance(tmp_path / "in", sop_instance_uid=uid)
    archive = _archive(tmp_path)

    class Crash(BaseException):
        pass

    def crash(ops: object) -> object:
        raise Crash

    monkeypatch.setattr(archive.index, "apply", crash)
    monkeypatch.setattr(archive.store, "unpublish", lambda key: None)  # a crash undoes nothing
    monkeypatch.setattr(Spool, "discard", lambda self: None)
    archive.store_file(src)
    monkeypatch.undo()
    archive.committer.close()
    archive.index.close()
    return src


def test_recovery_indexes_a_published_file_the_crash_left_unindexed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = _crash_after_publish(tmp_path, monkeypatch, "1.2.3.12")
    assert list((tmp_path / "archive" / "objects").rglob("*.dcm"))  # published, not indexed
    with _archive(tmp_path) as archive:
        assert archive.recovery.reindexed == ["1.2.3.4/1.2.3.4.5/1.2.3.12.dcm"]
        row = archive.instance("1.2.3.12")
        assert row is not None and row.findings == [{"recovered": True}]
        assert dataset_bytes(archive.path("1.2.3.12")) == dataset_bytes(src)
        assert list((tmp_path / "archive" / "spool").iterdir()) == []
        assert archive.verify().ok


def test_recovery_discards_unpublished_spool_files(tmp_path: Path) -> None:
    with _archive(tmp_path) as archive:
        spool = archive.store.spool()
        spool.write(b"partial")
        spool.close()
    with _archive(tmp_path) as archive:
        assert archive.recovery.discarded == 1
        assert list((tmp_path / "archive" / "spool").iterdir()) == []


def test_recovery_finishes_or_undoes_deletions(tmp_path: Path) -> None:
    a = write_instance(tmp_path / "in", sop_instance_uid="1.2.3.13")
    b = write_instance(tmp_path / "in", sop_instance_uid="1.2.3.14")
    with _archive(tmp_path) as archive:
        archive.store_file(a)
        archive.store_file(b)
        key_a = archive.instance("1.2.3.13").blob_key  # type: ignore[union-attr]
        key_b = archive.instance("1.2.3.14").blob_key  # type: ignore[union-attr]
        # a: crash after the link into the spool, before the row went: kept
        archive.store.mark_delete(key_a)
        # b: crash after the row went, before the file was removed: removed
        archive.store.mark_delete(key_b)
        row_b = archive.instance("1.2.3.14")
        assert row_b is not None and row_b.pk is not None
        archive.index.apply([Delete(row_b.pk)])
    with _archive(tmp_path) as archive:
        assert archive.recovery.deletions == 2
        assert archive.instance("1.2.3.13") is not None and archive.path("1.2.3.13").exists()
        assert not archive.store.exists(key_b)
        assert archive.verify().ok


# ---------------------------------------------------------------- verify, delete, export


def test_verify_reports_and_repairs(tmp_path: Path) -> None:
    a = write_instance(tmp_path / "in", sop_instance_uid="1.2.3.20")
    b = write_instance(tmp_path / "in", sop_instance_uid="1.2.3.21")
    c = write_instance(tmp_path / "in", sop_instance_uid="1.2.3.22")
    with _archive(tmp_path) as archive:
        for p in (a, b, c):
            archive.store_file(p)
        archive.path("1.2.3.20").unlink()  # missing
        damaged = archive.path("1.2.3.21")
        data = bytearray(damaged.read_bytes())
        data[-1] ^= 0xFF
        damaged.write_bytes(bytes(data))  # corrupt
        stray = archive.store.path("9.9/9.9.9/1.2.3.30.dcm")
        stray.parent.mkdir(parents=True)
        stray.write_bytes(make_instance(sop_instance_uid="1.2.3.30", study="9.9", series="9.9.9"))
        junk = archive.store.path("9.9/9.9.9/junk.dcm")
        junk.write_bytes(b"not dicom")
        report = archive.verify()
        assert report.missing == ["1.2.3.20"]
        assert report.corrupt == ["1.2.3.21"]
        assert sorted(report.orphans) == ["9.9/9.9.9/1.2.3.30.dcm", "9.9/9.9.9/junk.dcm"]
        repaired = archive.verify(repair=True)
        assert repaired.repaired == 3
        assert archive.instance("1.2.3.20") is None
        assert archive.instance("1.2.3.30") is not None
        assert (tmp_path / "archive" / "quarantine" / "9.9/9.9.9/junk.dcm").exists()
        after = archive.verify()
        assert (after.missing, after.orphans, after.corrupt) == ([], [], ["1.2.3.21"])


def test_delete_and_export(tmp_path: Path) -> None:
    srcs = [
        write_instance(tmp_path / "in", sop_instance_uid=f"1.2.3.4{n}", series=f"1.2.3.4.{n % 2}")
        for n in range(4)
    ]
    with _archive(tmp_path) as archive:
        for p in srcs:
            archive.store_file(p)
        assert len(archive.series("1.2.3.4")) == 2
        out = archive.export_study("1.2.3.4", tmp_path / "export")
        assert sorted(p.name for p in out) == sorted(p.name for p in srcs)
        for p in srcs:
            assert (tmp_path / "export" / p.name).read_bytes()[132:] != b""
        assert archive.delete("1.2.3.40") == 1
        assert archive.delete("1.2.3.42") == 1
        assert archive.delete("1.2.3.42") == 0
        assert [s.instances for s in archive.series("1.2.3.4")] == [2]  # series 0 is gone
        for uid in ("1.2.3.41", "1.2.3.43"):
            archive.delete(uid)
        assert archive.studies() == [] and archive.patients() == []
        assert list((tmp_path / "archive" / "objects").rglob("*.dcm")) == []
        assert list((tmp_path / "archive" / "spool").iterdir()) == []


def test_background_durability_flushes_and_marks_synced(tmp_path: Path) -> None:
    src = write_instance(tmp_path / "in", sop_instance_uid="1.2.3.50")
    policy = StoragePolicy(min_free_bytes=0, durability=Durability.BACKGROUND, flush_interval=60)
    with Archive(tmp_path / "a", policy=policy) as archive:
        assert archive.store_file(src).status == 0
        assert archive.instance("1.2.3.50").synced is False  # type: ignore[union-attr]
        assert archive.committer.flush() == 1
        assert archive.instance("1.2.3.50").synced is True  # type: ignore[union-attr]


def test_index_schema_version_is_kept_and_a_newer_one_refused(tmp_path: Path) -> None:
    import sqlite3

    from storecore.storage.index import SCHEMA_VERSION

    with _archive(tmp_path) as archive:
        assert archive.index.schema_version == SCHEMA_VERSION  # type: ignore[attr-defined]
    db = sqlite3.connect(tmp_path / "archive" / "index.sqlite")
    db.execute("UPDATE schema_version SET version = 99")
    db.commit()
    db.close()
    with pytest.raises(StorageError, match="newer"):
        _archive(tmp_path)


def _power_loss_during_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, src: Path, archive: Archive
) -> None:
    """Commit `src` but 'lose power' before the sync: the file's data never reached the disk."""

    class PowerLoss(BaseException):
        pass

    def lost() -> None:
        # what the disk holds after the power loss: the names and the row, the
        # data cut short (ext4 can leave a linked file shorter than written)
        for entry in (tmp_path / "archive" / "spool").iterdir():
            if entry.name.startswith("pub."):
                os.truncate(entry, entry.stat().st_size // 2)
        raise PowerLoss

    monkeypatch.setattr(archive.store, "sync_all", lost)
    monkeypatch.setattr(Spool, "discard", lambda self: None)
    # the power is gone: whatever the process would have answered never leaves it
    archive.store_file(src)
    monkeypatch.undo()
    archive.index.close()


def test_power_loss_before_the_sync_leaves_no_row_without_its_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = write_instance(tmp_path / "in", sop_instance_uid="1.2.3.60")
    archive = _archive(tmp_path)
    _power_loss_during_commit(tmp_path, monkeypatch, src, archive)
    with _archive(tmp_path) as reopened:
        assert reopened.instance("1.2.3.60") is None  # never acknowledged: gone
        assert reopened.recovery.discarded == 1
        assert list((tmp_path / "archive" / "objects").rglob("*.dcm")) == []
        assert list((tmp_path / "archive" / "spool").iterdir()) == []
        assert reopened.verify().ok


def test_power_loss_during_an_overwrite_restores_the_acknowledged_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uid = "1.2.3.61"
    first = write_instance(tmp_path / "a", sop_instance_uid=uid, comment="acknowledged")
    second = write_instance(tmp_path / "b", sop_instance_uid=uid, comment="cut short")
    archive = _archive(tmp_path, duplicates=DuplicatePolicy.OVERWRITE)
    assert archive.store_file(first).status == 0
    _power_loss_during_commit(tmp_path, monkeypatch, second, archive)
    with _archive(tmp_path, duplicates=DuplicatePolicy.OVERWRITE) as reopened:
        row = reopened.instance(uid)
        assert row is not None and row.findings == [{"restored": True}]
        with reopened.open(uid) as f:
            assert pydicom.dcmread(f).ImageComments == "acknowledged"
        assert dataset_bytes(reopened.path(uid)) == dataset_bytes(first)
        assert list((tmp_path / "archive" / "spool").iterdir()) == []
        assert reopened.verify().ok


def test_a_version_1_index_is_migrated(tmp_path: Path) -> None:
    import sqlite3

    from storecore.storage.index import MIGRATIONS, SCHEMA_VERSION, SQLiteIndex

    path = tmp_path / "index.sqlite"
    db = sqlite3.connect(path)
    db.executescript(MIGRATIONS[0])
    db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    db.execute("INSERT INTO schema_version VALUES (1)")
    db.commit()
    db.close()
    index = SQLiteIndex(path)
    try:
        assert index.schema_version == SCHEMA_VERSION == 3
        assert index.forward_jobs() == []
    finally:
        index.close()

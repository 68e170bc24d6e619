"""ArchiveSink.adopt: a Part 10 file written elsewhere, moved into the archive's pipeline.

The same pipeline as a streamed ingest (``store_file``): same index row, same
statuses, and a file that is consumed whatever the outcome (stored, or removed
with nothing left in the spool).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path

import pytest

from storecore.dataset import read_file_meta
from storecore.storage import (
    Archive,
    Finding,
    IngestedInstance,
    StoragePolicy,
    StoreRequest,
)

from .helpers import CT, make_instance

EXPLICIT, IMPLICIT = "1.2.840.10008.1.2.1", "1.2.840.10008.1.2"


def _archive(root: Path, **policy: object) -> Archive:
    return Archive(root, policy=StoragePolicy(min_free_bytes=0, **policy))  # type: ignore[arg-type]


def _request(uid: str, ts: str = EXPLICIT, sop_class: str = CT) -> StoreRequest:
    return StoreRequest(sop_class, uid, ts, "SENDER", "ARCHIVE", 1)


def _file(folder: Path, uid: str, data: bytes | None = None, **kwargs: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"tmp-{uid}.dcm"
    path.write_bytes(data if data is not None else make_instance(sop_instance_uid=uid, **kwargs))  # type: ignore[arg-type]
    return path


def _spool(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "spool").iterdir())


def test_adopted_file_is_moved_and_indexed_as_a_streamed_one(tmp_path: Path) -> None:
    src = _file(tmp_path / "in", "1.2.3.1")
    data = src.read_bytes()
    inode = src.stat().st_ino
    with _archive(tmp_path / "a") as adopted, _archive(tmp_path / "b") as streamed:
        assert adopted.sink().adopt(src, _request("1.2.3.1")).status == 0
        copy = tmp_path / "copy.dcm"
        copy.write_bytes(data)
        assert streamed.store_file(copy).status == 0
        assert not src.exists()
        stored = adopted.path("1.2.3.1")
        assert stored.stat().st_ino == inode  # renamed and linked: no byte copied
        assert stored.read_bytes() == data  # the writer's File Meta kept
        a, b = adopted.instance("1.2.3.1"), streamed.instance("1.2.3.1")
        assert a is not None and b is not None
        # the size differs by the two File Metas (the writer's kept, storecore's written)
        # (store_file has no association: no AE titles)
        volatile = {
            "pk": None,
            "received_at": 0.0,
            "size": 0,
            "calling_ae_title": "",
            "called_ae_title": "",
        }
        assert dataclasses.replace(a, **volatile) == dataclasses.replace(b, **volatile)
        assert (a.calling_ae_title, a.called_ae_title) == ("SENDER", "ARCHIVE")
        assert a.digest == b.digest and a.size == len(data)
        assert _spool(tmp_path / "a") == []
        assert adopted.verify().ok


def test_adopt_from_another_filesystem_copies_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.fail("this test needs /dev/shm on a filesystem other than the temporary folder's")
    src = _file(shm / f"storecore-adopt-{os.getpid()}", "1.2.3.2")
    data = src.read_bytes()
    try:
        with _archive(tmp_path / "a") as archive, caplog.at_level(logging.WARNING):
            assert archive.sink().adopt(src, _request("1.2.3.2")).status == 0
            assert archive.path("1.2.3.2").read_bytes() == data
            assert not src.exists()
            assert _spool(tmp_path / "a") == []
        assert "not on the store's filesystem" in caplog.text
        assert str(tmp_path / "a" / "spool") in caplog.text
    finally:
        src.unlink(missing_ok=True)
        src.parent.rmdir()


@pytest.mark.parametrize(
    ("request_", "status", "comment"),
    [
        # the File Meta names another instance, syntax or class than the command
        (_request("1.2.3.9"), 0x0110, "SOP Instance UID is 1.2.3.3"),
        (_request("1.2.3.3", ts=IMPLICIT), 0x0110, "Transfer Syntax UID is 1.2.840.10008.1.2.1"),
        (_request("1.2.3.3", sop_class="1.2.840.10008.5.1.4.1.1.4"), 0x0110, "SOP Class UID"),
        (_request("1.2.3.4/../x"), 0xC000, "invalid SOP Instance UID"),
    ],
    ids=["instance", "syntax", "class", "bad-uid"],
)
def test_a_file_that_is_not_the_commands_is_refused_and_removed(
    tmp_path: Path, request_: StoreRequest, status: int, comment: str
) -> None:
    src = _file(tmp_path / "in", "1.2.3.3")
    with _archive(tmp_path / "a") as archive:
        result = archive.sink().adopt(src, request_)
        assert result.status == status and comment in (result.comment or ""), result
        assert not src.exists()
        assert _spool(tmp_path / "a") == [] and list(archive.instances()) == []


def test_dataset_that_is_not_the_commands_instance_is_0xA900(tmp_path: Path) -> None:
    data = make_instance(sop_instance_uid="1.2.3.5")
    offset = read_file_meta(data).dataset_offset
    # the File Meta (the command's, as pynetdicom writes it) says 1.2.3.6, the data set 1.2.3.5
    data = data[:offset].replace(b"1.2.3.5\x00", b"1.2.3.6\x00") + data[offset:]
    src = _file(tmp_path / "in", "1.2.3.6", data)
    with _archive(tmp_path / "a") as archive:
        result = archive.sink().adopt(src, _request("1.2.3.6"))
        assert result.status == 0xA900 and "SOP Instance UID in data set" in (result.comment or "")
        assert not src.exists() and _spool(tmp_path / "a") == []


# Pixel Data is the last element: a 12-byte header and 128 bytes of value
@pytest.mark.parametrize("cut", [1, 40, 130], ids=["last-byte", "in-value", "in-element-header"])
def test_truncated_or_empty_file_is_0xC000_and_leaves_nothing(tmp_path: Path, cut: int) -> None:
    data = make_instance(sop_instance_uid="1.2.3.7")
    src = _file(tmp_path / "in", "1.2.3.7", data[:-cut])
    empty = _file(tmp_path / "in", "1.2.3.8", b"")
    with _archive(tmp_path / "a") as archive:
        assert archive.sink().adopt(src, _request("1.2.3.7")).status == 0xC000
        assert archive.sink().adopt(empty, _request("1.2.3.8")).status == 0xC000
        assert not src.exists() and not empty.exists()
        assert _spool(tmp_path / "a") == [] and list(archive.instances()) == []


def test_watermark_refuses_and_removes(tmp_path: Path) -> None:
    src = _file(tmp_path / "in", "1.2.3.9")
    with Archive(tmp_path / "a", policy=StoragePolicy(min_free_bytes=1 << 62)) as archive:
        result = archive.sink().adopt(src, _request("1.2.3.9"))
        assert result.status == 0xA700 and "out of space" in (result.comment or "")
        assert not src.exists() and _spool(tmp_path / "a") == []
        assert archive.sink()._reserved == 0


def test_validators_see_the_adopted_file_and_its_dataset_offset(tmp_path: Path) -> None:
    seen: list[bytes] = []

    def check(instance: IngestedInstance) -> list[Finding]:
        data = Path(instance.path).read_bytes()
        seen.append(data[instance.dataset_offset : instance.dataset_offset + 4])
        assert instance.tokens  # one scan serves the index keys and the validators
        return [Finding(0xB007, "checked")]

    src = _file(tmp_path / "in", "1.2.3.10")
    dataset = src.read_bytes()[read_file_meta(src.read_bytes()).dataset_offset :]
    with _archive(tmp_path / "a", validators=(check,)) as archive:
        result = archive.sink().adopt(src, _request("1.2.3.10"))
        assert (result.status, result.comment) == (0xB007, "checked")
    assert seen == [dataset[:4]]


def test_store_transfer_syntax_policy_transcodes_an_adopted_file(tmp_path: Path) -> None:
    src = _file(tmp_path / "in", "1.2.3.11", ts=IMPLICIT)
    with _archive(tmp_path / "a", store_transfer_syntax=EXPLICIT) as archive:
        assert archive.sink().adopt(src, _request("1.2.3.11", ts=IMPLICIT)).status == 0
        row = archive.instance("1.2.3.11")
        assert row is not None and row.stored_transfer_syntax == EXPLICIT
        assert row.transcode is not None and row.transcode["path"] == "SUPPORTED"
        assert _spool(tmp_path / "a") == [] and archive.verify().ok

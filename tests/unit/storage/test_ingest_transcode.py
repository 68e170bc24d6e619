"""Transcoding on ingest: the storage policy through the matrix, the UID map, its index schema.

pydicom is the oracle for the stored files: their syntax, their decoded pixels
and the attributes a lossy compression must set (PS3.3 C.7.6.1.1.5).
"""

from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path

import numpy as np
import pydicom
import pytest

from storecore.commitment import CommitmentRequest, Reference, encode_request
from storecore.commitment.service import CommitmentService
from storecore.storage import Archive, DuplicatePolicy, StoragePolicy, TranscodeFailure
from storecore.storage.index import MIGRATIONS, SCHEMA_VERSION, SQLiteIndex
from storecore.storage.ingest import lossy_uid
from storecore.transcode import transcode

from ..transcode.helpers import make_image, require_codec_packages
from .helpers import make_instance

JPEG_LS_LOSSLESS = "1.2.840.10008.1.2.4.80"
J2K_LOSSLESS = "1.2.840.10008.1.2.4.90"
J2K_LOSSY = "1.2.840.10008.1.2.4.91"
JPEG_BASELINE = "1.2.840.10008.1.2.4.50"
RLE = "1.2.840.10008.1.2.5"
SC = "1.2.840.10008.5.1.4.1.1.7"


@pytest.fixture(autouse=True)
def _codecs() -> None:
    require_codec_packages()


def _archive(tmp_path: Path, **policy: object) -> Archive:
    return Archive(tmp_path / "archive", policy=StoragePolicy(min_free_bytes=0, **policy))  # type: ignore[arg-type]


def _image(tmp_path: Path, name: str = "in.dcm", **kwargs: object) -> tuple[Path, np.ndarray, str]:
    data, pixels = make_image(**kwargs)  # type: ignore[arg-type]
    path = tmp_path / name
    path.write_bytes(data)
    return path, pixels, str(pydicom.dcmread(io.BytesIO(data)).SOPInstanceUID)


def test_policy_target_by_modality() -> None:
    policy = StoragePolicy(
        store_transfer_syntax=JPEG_LS_LOSSLESS,
        store_transfer_syntax_by_modality={"US": "", "MR": J2K_LOSSLESS},
    )
    assert policy.target_syntax("CT") == JPEG_LS_LOSSLESS
    assert policy.target_syntax("MR") == J2K_LOSSLESS
    assert policy.target_syntax("US") is None  # "": as received


@pytest.mark.parametrize("target", [JPEG_LS_LOSSLESS, J2K_LOSSLESS, RLE])
def test_lossless_policy_stores_compressed_with_the_same_uid(tmp_path: Path, target: str) -> None:
    src, pixels, uid = _image(tmp_path, bits_stored=12)
    with _archive(tmp_path, store_transfer_syntax=target) as archive:
        assert archive.store_file(src).status == 0x0000
        row = archive.instance(uid)
        assert row is not None and row.sop_instance_uid == uid
        assert row.original_sop_instance_uid is None
        assert (row.received_transfer_syntax, row.stored_transfer_syntax) == (
            "1.2.840.10008.1.2.1",
            target,
        )
        assert row.transcode is not None and row.transcode["path"] == "SUPPORTED"
        assert row.transcode["codec"] and row.transcode["ratio"] > 0
        assert row.digest != row.received_digest
        stored = pydicom.dcmread(archive.path(uid))
        assert stored.file_meta.TransferSyntaxUID == target
        assert stored.SOPInstanceUID == uid
        assert np.array_equal(stored.pixel_array, pixels[0])
        assert archive.verify().ok


def test_lossy_policy_stores_a_new_instance_answers_0xB000_and_maps_the_uid(
    tmp_path: Path,
) -> None:
    src, pixels, uid = _image(tmp_path, rows=64, columns=64, bits_allocated=8, bits_stored=8)
    policy = {"store_transfer_syntax": J2K_LOSSY, "allow_lossy": True}
    with _archive(tmp_path, **policy) as archive:
        result = archive.store_file(src)
        assert result.status == 0xB000
        row = archive.instance(uid)  # the sender's UID finds it through the map
        assert row is not None
        new = row.sop_instance_uid
        assert new != uid and row.original_sop_instance_uid == uid
        assert new in (result.comment or "")
        assert archive.instance(new) == row
        assert [r.sop_instance_uid for r in archive.index.by_original_uid(uid)] == [new]
        assert [r.sop_instance_uid for r in archive.versions(uid)] == [new]
        assert row.transcode is not None and row.transcode["path"] == "NEW_UID"
        assert row.findings and row.findings[0]["status"] == 0xB000
        stored = pydicom.dcmread(archive.path(uid))
        assert stored.SOPInstanceUID == stored.file_meta.MediaStorageSOPInstanceUID == new
        assert stored.LossyImageCompression == "01"
        assert float(stored.LossyImageCompressionRatio) > 1
        assert stored.LossyImageCompressionMethod == "ISO_15444_1"
        assert stored.SourceImageSequence[0].ReferencedSOPInstanceUID == uid
        assert stored.SourceImageSequence[0].ReferencedSOPClassUID == SC
        assert stored.ImageType[0] == "DERIVED"
        decoded = stored.pixel_array.astype(int)
        assert np.abs(decoded - pixels[0]).max() < 64  # lossy, but the same image

        # the same instance again: the same new UID, a no-op under the duplicate policy
        again = archive.store_file(src)
        assert again.status == 0xB000 and new in (again.comment or "")
        assert [r.sop_instance_uid for r in archive.instances()] == [new]


def test_lossy_uid_is_derived_from_the_received_instance() -> None:
    a = lossy_uid("1.2.3", "blake3:aa", J2K_LOSSY, None)
    assert a == lossy_uid("1.2.3", "blake3:aa", J2K_LOSSY, None) and a.startswith("2.25.")
    assert a != lossy_uid("1.2.3", "blake3:ab", J2K_LOSSY, None)
    assert a != lossy_uid("1.2.3", "blake3:aa", JPEG_BASELINE, None)
    rooted = lossy_uid("1.2.3", "blake3:aa", J2K_LOSSY, "1.2.826.0.1.3680043.10.999")
    assert rooted.startswith("1.2.826.0.1.3680043.10.999.") and len(rooted) <= 64


def test_a_lossy_target_without_allow_lossy_is_refused(tmp_path: Path) -> None:
    src, _, uid = _image(tmp_path, bits_allocated=8, bits_stored=8)
    with _archive(tmp_path, store_transfer_syntax=JPEG_BASELINE) as archive:
        result = archive.store_file(src)
        assert result.status == 0xC000
        assert "JPEGBaseline8Bit" in (result.comment or "") and "lossy" in (result.comment or "")
        assert archive.instance(uid) is None
        assert list((tmp_path / "archive" / "spool").iterdir()) == []


def _encapsulated_garbage(tmp_path: Path) -> tuple[Path, str]:
    """A JPEG-LS instance whose one fragment is not a JPEG-LS stream."""
    from pydicom.encaps import encapsulate

    data, _ = make_image(rows=16, columns=16)
    ds = pydicom.dcmread(io.BytesIO(data))
    ds.PixelData = encapsulate([b"\xff\xd8 not a JPEG-LS stream \xff\xd9"])
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = JPEG_LS_LOSSLESS
    path = tmp_path / "garbage.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path, str(ds.SOPInstanceUID)


def test_pixel_data_the_codecs_cannot_read_is_refused_by_default(tmp_path: Path) -> None:
    src, uid = _encapsulated_garbage(tmp_path)
    with _archive(tmp_path, store_transfer_syntax=J2K_LOSSLESS) as archive:
        result = archive.store_file(src)
        assert result.status == 0xC000
        assert (result.comment or "").startswith("not stored as JPEG2000Lossless: ")
        assert archive.instance(uid) is None
        assert list((tmp_path / "archive" / "spool").iterdir()) == []


def test_store_as_received_keeps_the_original_and_records_why(tmp_path: Path) -> None:
    src, uid = _encapsulated_garbage(tmp_path)
    policy = {
        "store_transfer_syntax": J2K_LOSSLESS,
        "on_transcode_failure": TranscodeFailure.STORE_AS_RECEIVED,
    }
    with _archive(tmp_path, **policy) as archive:
        assert archive.store_file(src).status == 0x0000
        row = archive.instance(uid)
        assert row is not None
        assert row.stored_transfer_syntax == row.received_transfer_syntax == JPEG_LS_LOSSLESS
        assert row.digest == row.received_digest
        assert row.transcode is not None
        assert row.transcode["path"] == "NOT_SUPPORTED"
        assert row.transcode["target_ts"] == J2K_LOSSLESS
        assert "could not be decoded" in row.transcode["reason"]
        assert row.transcode["outcome"] == "stored as received"


def test_an_image_the_encoder_refuses_is_refused(tmp_path: Path) -> None:
    # JPEG-LS codes 2 to 16 bits per sample (ISO 14495-1): 32-bit pixels cannot go
    src, _, uid = _image(tmp_path, bits_allocated=32, bits_stored=32)
    with _archive(tmp_path, store_transfer_syntax=JPEG_LS_LOSSLESS) as archive:
        result = archive.store_file(src)
        assert result.status == 0xC000 and "JPEGLSLossless" in (result.comment or "")
        assert archive.instance(uid) is None


def test_an_instance_without_pixel_data_is_stored_as_received(tmp_path: Path) -> None:
    data = make_instance(sop_instance_uid="1.2.3.77")
    ds = pydicom.dcmread(io.BytesIO(data))
    del ds.PixelData
    src = tmp_path / "nopixels.dcm"
    ds.save_as(src, enforce_file_format=True)
    with _archive(tmp_path, store_transfer_syntax=JPEG_LS_LOSSLESS) as archive:
        assert archive.store_file(src).status == 0x0000
        row = archive.instance("1.2.3.77")
        assert row is not None and row.stored_transfer_syntax == "1.2.840.10008.1.2.1"
        assert row.transcode is None and row.digest == row.received_digest


def test_overwrite_of_a_lossy_instance_replaces_its_mapped_copy(tmp_path: Path) -> None:
    """A different instance under the same sent UID gets its own new UID; the
    map then names the newest, which look-ups and commitment find."""
    data, _ = make_image(rows=32, columns=32, bits_allocated=8, bits_stored=8)
    ds = pydicom.dcmread(io.BytesIO(data))
    (tmp_path / "a.dcm").write_bytes(data)
    ds.PatientName = "Changed^Name"
    ds.save_as(tmp_path / "b.dcm", enforce_file_format=True)
    policy = {
        "store_transfer_syntax": J2K_LOSSY,
        "allow_lossy": True,
        "duplicates": DuplicatePolicy.OVERWRITE,
    }
    with _archive(tmp_path, **policy) as archive:
        assert archive.store_file(tmp_path / "a.dcm").status == 0xB000
        assert archive.store_file(tmp_path / "b.dcm").status == 0xB000
        row = archive.instance(str(ds.SOPInstanceUID))
        assert row is not None and row.patient_name == "Changed^Name"


def test_commitment_of_the_sent_uid_resolves_through_the_map(tmp_path: Path) -> None:
    src, _, uid = _image(tmp_path, rows=64, columns=64, bits_allocated=8, bits_stored=8)
    with _archive(tmp_path, store_transfer_syntax=J2K_LOSSY, allow_lossy=True) as archive:
        assert archive.store_file(src).status == 0xB000
        row = archive.instance(uid)
        assert row is not None
        service = CommitmentService(archive, deliver=lambda *a: 0)
        try:
            request = CommitmentRequest(
                "2.25.7",
                (
                    Reference(SC, uid),  # the UID the sender sent
                    Reference(SC, row.sop_instance_uid),  # the archive's own
                    Reference(SC, "1.2.3.404"),
                ),
            )
            service.accept("MODALITY", encode_request(request), "1.2.840.10008.1.2")
            result = service.verify(request)
            assert [r.sop_instance_uid for r in result.committed] == [uid, row.sop_instance_uid]
            assert [(r.sop_instance_uid, r.failure_reason) for r in result.failed] == [
                ("1.2.3.404", 0x0112)
            ]
        finally:
            service.close()


def test_a_version_2_index_is_migrated_and_its_map_filled(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite"
    db = sqlite3.connect(path)
    for step in MIGRATIONS[:2]:
        db.executescript(step)
    db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    db.execute("INSERT INTO schema_version VALUES (2)")
    db.execute(
        "INSERT INTO patients (pk, patient_id, patient_name, birth_date, sex) "
        "VALUES (1, 'P', 'N', '', '')"
    )
    columns = (
        "sop_instance_uid, version, sop_class_uid, patient_pk, blob_key, size, digest, "
        "received_digest, received_transfer_syntax, stored_transfer_syntax, calling_ae_title, "
        "called_ae_title, received_at, transcode, findings, synced"
    )
    lossy = {
        "path": "NEW_UID",
        "original_sop_instance_uid": "1.2.3.1",
        "sop_instance_uid": "2.25.9",
    }
    for uid, key, record in (
        ("2.25.9", "a", json.dumps(lossy)),
        ("1.2.3.2", "b", json.dumps({"path": "SUPPORTED", "original_sop_instance_uid": "1.2.3.2"})),
        ("1.2.3.3", "c", None),
    ):
        db.execute(
            f"INSERT INTO instances ({columns}) VALUES "
            "(?, 1, ?, 1, ?, 1, 'd', 'd', '1.2.840.10008.1.2', ?, '', '', 0, ?, '[]', 1)",
            (uid, SC, key, J2K_LOSSY, record),
        )
    db.commit()
    db.close()
    index = SQLiteIndex(path)
    try:
        assert index.schema_version == SCHEMA_VERSION == 3
        assert [r.sop_instance_uid for r in index.by_original_uid("1.2.3.1")] == ["2.25.9"]
        assert index.by_original_uid("1.2.3.2") == []
        row = index.instance("2.25.9")
        assert row is not None and row.original_sop_instance_uid == "1.2.3.1"
        other = index.instance("1.2.3.3")
        assert other is not None and other.original_sop_instance_uid is None
    finally:
        index.close()


def _crash_after_publish(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, src: Path) -> None:
    """Store `src` under the lossy policy, 'crashing' between the publication and the index
    commit (the process dies: nothing is undone, the next open recovers)."""
    from storecore.storage.blobstore import Spool

    archive = _archive(tmp_path, store_transfer_syntax=J2K_LOSSY, allow_lossy=True)

    class Crash(BaseException):
        pass

    def crash(ops: object) -> object:
        raise Crash

    monkeypatch.setattr(archive.index, "apply", crash)
    monkeypatch.setattr(archive.store, "unpublish", lambda key: None)
    monkeypatch.setattr(Spool, "discard", lambda self: None)
    archive.store_file(src)
    monkeypatch.undo()
    archive.committer.close()
    archive.index.close()


def test_recovery_of_a_lossy_ingest_restores_the_uid_map(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src, _, uid = _image(tmp_path, rows=64, columns=64, bits_allocated=8, bits_stored=8)
    _crash_after_publish(tmp_path, monkeypatch, src)
    stored = list((tmp_path / "archive" / "objects").rglob("*.dcm"))
    assert len(stored) == 1  # published under the new UID, with no row
    new = pydicom.dcmread(stored[0]).SOPInstanceUID
    assert new != uid
    with _archive(tmp_path, store_transfer_syntax=J2K_LOSSY, allow_lossy=True) as archive:
        assert len(archive.recovery.reindexed) == 1
        row = archive.instance(uid)  # the sender's UID resolves through the restored map
        assert row is not None
        assert row.sop_instance_uid == new and row.original_sop_instance_uid == uid
        assert row.findings == [{"recovered": True}]
        assert row.transcode is not None and row.transcode["path"] == "NEW_UID"
        assert row.transcode["original_sop_instance_uid"] == uid
        assert [r.sop_instance_uid for r in archive.index.by_original_uid(uid)] == [new]
        assert archive.path(uid) == archive.path(new)
        assert archive.verify().ok
        # the sender sends it again: the same new UID, found, not a second copy
        again = archive.store_file(src)
        assert again.status == 0xB000 and new in (again.comment or "")
        assert [r.sop_instance_uid for r in archive.instances()] == [new]


def test_recovery_does_not_map_a_derived_image_that_is_not_a_lossy_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a Source Image Sequence alone is any derived image's reference to its
    # source: only storecore's lossy copies (their Derivation Description) map
    data, _ = make_image(rows=64, columns=64, bits_allocated=8, bits_stored=8)
    lossy, record = transcode(data, J2K_LOSSY, allow_lossy=True)
    ds = pydicom.dcmread(io.BytesIO(lossy))
    ds.DerivationDescription = "Lossy compression by another archive"
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    src = tmp_path / "derived.dcm"
    src.write_bytes(buf.getvalue())
    _crash_after_publish(tmp_path, monkeypatch, src)  # already J2K .91: stored as received
    with _archive(tmp_path) as archive:
        assert len(archive.recovery.reindexed) == 1
        row = archive.instance(str(ds.SOPInstanceUID))
        assert row is not None and row.original_sop_instance_uid is None
        assert row.transcode is None
        assert record.original_sop_instance_uid is not None
        assert archive.instance(record.original_sop_instance_uid) is None


def test_a_prewritten_spool_smaller_than_the_last_is_transcoded_from_what_came(
    tmp_path: Path,
) -> None:
    # the spool made while the association waits (ArchiveSink.prepare) holds
    # zeros to the last spool's size; the codec must see only the data set
    from storecore.dataset import read_file_meta
    from storecore.storage.sink import StoreRequest

    with _archive(tmp_path, store_transfer_syntax=RLE) as archive:
        sink = archive.sink()
        for n, (rows, columns) in enumerate(((64, 48), (16, 12))):
            data, pixels = make_image(rows=rows, columns=columns, seed=n)
            ds = pydicom.dcmread(io.BytesIO(data))
            uid = str(ds.SOPInstanceUID)
            handle = sink.prepare().begin(
                StoreRequest(str(ds.SOPClassUID), uid, "1.2.840.10008.1.2.1", "A", "B", n + 1)
            )
            handle.write(memoryview(data)[read_file_meta(data).dataset_offset :])
            assert handle.finish().status == 0x0000
            stored = pydicom.dcmread(archive.path(uid))
            assert stored.file_meta.TransferSyntaxUID == RLE
            assert np.array_equal(stored.pixel_array, pixels[0])
        assert archive.verify().ok

"""Storage Commitment without a network: data sets, verification, transactions, delivery."""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path

import pydicom
import pytest
from hypothesis import given
from hypothesis import strategies as st

from storecore.commitment import (
    CommitmentError,
    CommitmentRequest,
    CommitmentResult,
    Reference,
    decode_request,
    decode_result,
    encode_request,
    encode_result,
)
from storecore.commitment.service import CommitmentService
from storecore.storage import Archive, StoragePolicy

from .storage.helpers import CT, write_instance

IMPLICIT, EXPLICIT = "1.2.840.10008.1.2", "1.2.840.10008.1.2.1"

# valid UIDs (PS3.5 9.1): at most 4 components of at most 13 digits keep them
# within 64 characters (4 x 13 + 3 dots = 55); 6 such components could reach 83,
# which the encoder rightly refuses
uids = st.builds(
    lambda parts: ".".join(str(p) for p in parts),
    st.lists(st.integers(0, 10**12), min_size=2, max_size=4),
)
references = st.builds(Reference, uids, uids)


@given(uids, st.lists(references, min_size=1, max_size=8), st.sampled_from([IMPLICIT, EXPLICIT]))
def test_request_round_trip(uid: str, refs: list[Reference], ts: str) -> None:
    request = CommitmentRequest(uid, tuple(refs))
    assert decode_request(encode_request(request, ts), ts) == request


@given(
    uids,
    st.lists(references, max_size=5),
    st.lists(
        st.builds(Reference, uids, uids, st.sampled_from([0x0110, 0x0112, 0x0119])), max_size=5
    ),
    st.sampled_from([IMPLICIT, EXPLICIT]),
)
def test_result_round_trip(uid: str, ok: list[Reference], failed: list[Reference], ts: str) -> None:
    result = CommitmentResult(uid, tuple(ok), tuple(failed))
    assert decode_result(encode_result(result, ts), ts) == result
    assert result.event_type_id == (2 if failed else 1)


def test_encoding_agrees_with_pydicom() -> None:
    """pydicom, as the oracle, reads what we write (PS3.4 Table J.3-2)."""
    result = CommitmentResult(
        "1.2.3", (Reference(CT, "1.2.3.4"),), (Reference(CT, "1.2.3.5", 0x0112),)
    )
    for ts, implicit in ((IMPLICIT, True), (EXPLICIT, False)):
        ds = _read(encode_result(result, ts), implicit)
        assert ds.TransactionUID == "1.2.3"
        assert ds.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == "1.2.3.4"
        assert ds.FailedSOPSequence[0].FailureReason == 0x0112


def _read(data: bytes, implicit: bool) -> pydicom.Dataset:
    from pydicom.filereader import read_dataset

    return read_dataset(io.BytesIO(data), is_implicit_VR=implicit, is_little_endian=True)


@pytest.mark.parametrize(
    ("data", "status", "words"),
    [
        (b"", 0x0120, "Transaction UID is missing"),
        (encode_request(CommitmentRequest("1.2", ()), IMPLICIT), 0x0106, "empty"),
        (
            encode_request(CommitmentRequest("1.2", (Reference(CT, "1.02.3"),)), IMPLICIT),
            0x0106,
            "not a valid UID",
        ),
        (
            encode_request(CommitmentRequest("1.2", ()), IMPLICIT)[:12],
            0x0120,
            "Sequence is missing",
        ),
        (b"\x08\x00\x95\x11\xff\x00\x00\x00", 0x0106, "undecodable"),
    ],
)
def test_malformed_requests_carry_the_status_to_answer(
    data: bytes, status: int, words: str
) -> None:
    with pytest.raises(CommitmentError, match=words) as info:
        decode_request(data, IMPLICIT)
    assert info.value.status == status


# ---------------------------------------------------------------- the SCP role


@pytest.fixture
def archive(tmp_path: Path) -> Archive:
    a = Archive(tmp_path / "archive", policy=StoragePolicy(min_free_bytes=0))
    yield a
    a.close()


def test_verify_reports_each_failure_reason(tmp_path: Path, archive: Archive) -> None:
    for uid in ("1.2.3.1", "1.2.3.2", "1.2.3.3"):
        assert archive.store_file(write_instance(tmp_path / "in", sop_instance_uid=uid)).status == 0
    altered = archive.path("1.2.3.3")
    data = bytearray(altered.read_bytes())
    data[-1] ^= 1
    altered.write_bytes(bytes(data))
    service = CommitmentService(archive, deliver=lambda *a: 0)
    try:
        request = CommitmentRequest(
            "2.25.1",
            (
                Reference(CT, "1.2.3.1"),
                Reference("1.2.840.10008.5.1.4.1.1.4", "1.2.3.2"),  # MR: wrong class
                Reference(CT, "1.2.3.3"),  # altered after storage
                Reference(CT, "1.2.3.9"),  # unknown
            ),
        )
        service.accept("MODALITY", encode_request(request), IMPLICIT)
        result = service.verify(request)
        assert [r.sop_instance_uid for r in result.committed] == ["1.2.3.1"]
        assert {(r.sop_instance_uid, r.failure_reason) for r in result.failed} == {
            ("1.2.3.2", 0x0119),
            ("1.2.3.3", 0x0110),
            ("1.2.3.9", 0x0112),
        }
        with pytest.raises(CommitmentError) as dup:
            service.accept("MODALITY", encode_request(request), IMPLICIT)
        assert dup.value.status == 0x0131
    finally:
        service.close()


def test_pending_transactions_survive_a_restart_and_retry_until_delivered(
    tmp_path: Path, archive: Archive
) -> None:
    archive.store_file(write_instance(tmp_path / "in", sop_instance_uid="1.2.3.1"))
    request = CommitmentRequest("2.25.2", (Reference(CT, "1.2.3.1"),))
    calls: list[tuple[str, int, str]] = []
    refuse = threading.Event()
    refuse.set()

    def deliver(result: CommitmentResult, host: str, port: int, ae: str) -> int:
        calls.append((host, port, ae))
        if refuse.is_set():
            raise OSError("connection refused")
        return 0

    first = CommitmentService(archive, deliver=deliver, directory={}, retry_delays=(0.05,))
    first.accept("WS1", encode_request(request), IMPLICIT)
    first.verify(request)
    first.close()  # "crash": the report was never delivered
    second = CommitmentService(
        archive,
        deliver=deliver,
        directory={"WS1": ("127.0.0.1", 104)},
        retry_delays=(0.05, 0.05, 0.05),
    )
    try:
        deadline = time.monotonic() + 10
        while not calls and time.monotonic() < deadline:
            time.sleep(0.02)
        refuse.clear()  # the requester is reachable again
        while time.monotonic() < deadline:
            t = second.store.get("2.25.2")
            if t is not None and t.state == "delivered":
                break
            time.sleep(0.02)
        t = second.store.get("2.25.2")
        assert t is not None and t.state == "delivered", t
        assert calls[0] == ("127.0.0.1", 104, "WS1")
        assert t.result is not None and len(t.result.committed) == 1
    finally:
        second.close()


def test_an_unknown_requester_ends_undeliverable(tmp_path: Path, archive: Archive) -> None:
    request = CommitmentRequest("2.25.3", (Reference(CT, "1.2.3.1"),))
    service = CommitmentService(archive, deliver=lambda *a: 0, retry_delays=(0.01,))
    try:
        service.accept("NOBODY", encode_request(request), IMPLICIT)
        service.verify(request)
        service.schedule("2.25.3")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            t = service.store.get("2.25.3")
            if t is not None and t.state == "undeliverable":
                break
            time.sleep(0.02)
        assert t is not None and t.state == "undeliverable"
        assert "no address" in t.last_error
    finally:
        service.close()


def test_an_instance_whose_pixel_data_is_only_referenced_is_never_committed(
    tmp_path: Path, archive: Archive
) -> None:
    """PS3.4 J.1.1: a JPIP link to the pixel data is not the pixel data."""
    from pydicom.dataset import FileMetaDataset

    jpip = "1.2.840.10008.1.2.4.94"
    ds = pydicom.Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = jpip
    ds.file_meta.MediaStorageSOPClassUID = CT
    ds.file_meta.MediaStorageSOPInstanceUID = "1.2.3.77"
    ds.SOPClassUID, ds.SOPInstanceUID = CT, "1.2.3.77"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = "1.2.3", "1.2.3.1"
    ds.PatientID, ds.Modality = "P", "CT"
    ds.PixelDataProviderURL = "jpip://pacs.example/1.2.3.77"
    path = tmp_path / "jpip.dcm"
    ds.save_as(path, enforce_file_format=True, implicit_vr=False)
    assert archive.store_file(path).status == 0
    row = archive.instance("1.2.3.77")
    assert row is not None and row.stored_transfer_syntax == jpip
    service = CommitmentService(archive, deliver=lambda *a: 0)
    try:
        request = CommitmentRequest("2.25.9", (Reference(CT, "1.2.3.77"),))
        result = service.verify(request)
        assert result.committed == ()
        assert result.failed == (Reference(CT, "1.2.3.77", 0x0110),)
    finally:
        service.close()

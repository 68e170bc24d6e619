"""storecore's handlers in a pynetdicom AE, over loopback: dcmtk, storecore and pynetdicom peers.

What the AE stores must be what ``storecore serve`` stores (its pipeline is an
``Archive`` sink behind a ``StorageSCP``): the same files byte for byte and the
same index rows.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pynetdicom import AE, _config, evt
from pynetdicom.sop_class import StorageCommitmentPushModel

import storecore
from storecore.commitment import (
    STORAGE_COMMITMENT_INSTANCE,
    STORAGE_COMMITMENT_PUSH_MODEL,
    Reference,
)
from storecore.commitment.service import CommitmentService
from storecore.dataset import read_file_meta
from storecore.dataset.part10 import IMPLEMENTATION_CLASS_UID
from storecore.integrations.pynetdicom import (
    StorecoreHandlers,
    add_storecore_contexts,
    requested_contexts,
    send_file,
    storecore_handlers,
    supported_contexts,
)
from storecore.scp import StorageSCP
from storecore.scu import StorageSCU
from storecore.storage import Archive, StoragePolicy
from storecore.transcode import TranscodePath

from ..unit.storage.helpers import CT, write_instance
from .conftest import STORESCU_PROPOSE as _PROPOSE
from .conftest import corpus_files, dcmtk, dcmtk_env, free_port, wait_listening

ROOT = Path(__file__).resolve().parents[2]
EXPLICIT, IMPLICIT = "1.2.840.10008.1.2.1", "1.2.840.10008.1.2"


_POLICY = StoragePolicy(min_free_bytes=0)


def _archive(path: Path) -> Archive:
    return Archive(path, policy=_POLICY)


@contextmanager
def pynetdicom_scp(
    archive: Archive, commitment: CommitmentService | None = None, ae_title: str = "STORECORE"
) -> Iterator[tuple[int, StorecoreHandlers]]:
    """A pynetdicom AE serving with storecore's handlers; yields its port and the handlers."""
    ae = AE(ae_title=ae_title)
    add_storecore_contexts(ae, commitment=commitment is not None)
    handlers = StorecoreHandlers(archive, commitment)
    port = free_port()
    server = ae.start_server(("127.0.0.1", port), block=False, evt_handlers=handlers.handlers())
    try:
        yield port, handlers
    finally:
        server.shutdown()
        handlers.join(10)


@contextmanager
def storecore_scp(archive: Archive) -> Iterator[int]:
    """The pipeline of `storecore serve`: the archive's sink behind StorageSCP."""
    scp = StorageSCP(archive.sink(), host="127.0.0.1", port=0, ae_title="STORECORE").start()
    try:
        yield scp.address[1]
    finally:
        scp.shutdown(5)


def _meta(path: Path) -> tuple[str, str, int]:
    data = path.read_bytes()
    meta = read_file_meta(data)
    return meta.media_storage_sop_instance_uid or "", meta.transfer_syntax_uid, meta.dataset_offset


def _rows(root: Path, *, size: bool = True) -> dict[str, tuple[Any, ...]]:
    """Index rows by SOP Instance UID, without what differs between two receptions.

    `size` False leaves out the file size too (an adopted file keeps
    pynetdicom's File Meta, whose length differs from storecore's); each
    row's size is then checked against its file instead.
    """
    with sqlite3.connect(f"file:{root / 'index.sqlite'}?mode=ro", uri=True) as db:
        db.row_factory = sqlite3.Row
        out = {}
        for row in db.execute("SELECT * FROM instances"):
            d = dict(row)
            for volatile in ("pk", "patient_pk", "received_at"):
                d.pop(volatile)
            if not size:
                assert d.pop("size") == (root / "objects" / d["blob_key"]).stat().st_size
            out[d["sop_instance_uid"]] = tuple(sorted(d.items()))
        return out


def _files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes() for p in (root / "objects").rglob("*.dcm")
    }


def _datasets(root: Path) -> dict[str, tuple[str, str, str, bytes]]:
    """Per stored file: the File Meta's SOP Class, SOP Instance and Transfer Syntax UIDs
    and the dataset bytes after it (what an adopted file shares with a streamed one)."""
    out = {}
    for key, data in _files(root).items():
        meta = read_file_meta(data)
        out[key] = (
            meta.media_storage_sop_class_uid,
            meta.media_storage_sop_instance_uid,
            meta.transfer_syntax_uid,
            data[meta.dataset_offset :],
        )
    return out


def _same_as_serve(ours: Path, serve: Path, *, adopted: bool) -> None:
    """`ours` holds what `storecore serve` stored in `serve`: files, or with adopt datasets."""
    if adopted:
        assert _datasets(ours) == _datasets(serve)
        assert _rows(ours, size=False) == _rows(serve, size=False)
        for data in _files(ours).values():  # pynetdicom's File Meta, as it wrote it
            assert read_file_meta(data).implementation_class_uid != IMPLEMENTATION_CLASS_UID
    else:
        assert _files(ours) == _files(serve)
        assert _rows(ours) == _rows(serve)


def _storescu(port: int, path: Path, ts: str) -> subprocess.CompletedProcess[str]:
    # -R and the file's own syntax only: dcmtk sends the file without conversion
    return subprocess.run(
        [
            dcmtk("storescu"),
            "-R",
            _PROPOSE[ts],
            "-aec",
            "STORECORE",
            "127.0.0.1",
            str(port),
            str(path),
        ],
        env=dcmtk_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _sample(tmp_path: Path) -> list[Path]:
    """pydicom's test files dcmtk can send as is, one per SOP Instance UID, plus small CTs."""
    seen: set[str] = set()
    out = []
    for f in corpus_files():
        try:
            uid, ts, _ = _meta(f)
        except Exception:
            continue
        if uid and ts in _PROPOSE and uid not in seen:
            seen.add(uid)
            out.append(f)
    out += [
        write_instance(tmp_path / "made", sop_instance_uid=f"1.2.826.0.1.3680043.9.{n}")
        for n in range(3)
    ]
    return out


@pytest.mark.parametrize("chunked", [False, True], ids=["in-memory", "STORE_RECV_CHUNKED_DATASET"])
def test_dcmtk_storescu_into_pynetdicom_ae_stores_what_serve_stores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunked: bool
) -> None:
    monkeypatch.setattr(_config, "STORE_RECV_CHUNKED_DATASET", chunked)
    files = _sample(tmp_path)
    ours, reference = _archive(tmp_path / "pynetdicom"), _archive(tmp_path / "serve")
    sent = 0
    try:
        with pynetdicom_scp(ours) as (port, _), storecore_scp(reference) as ref_port:
            for f in files:
                _, ts, _ = _meta(f)
                to_ref = _storescu(ref_port, f, ts)
                if to_ref.returncode != 0:  # dcmtk cannot send it to storecore either
                    continue
                to_ours = _storescu(port, f, ts)
                assert to_ours.returncode == 0, (f.name, to_ours.stderr)
                sent += 1
    finally:
        ours.close()
        reference.close()
    assert sent > 20, sent
    theirs = _files(tmp_path / "serve")
    _same_as_serve(tmp_path / "pynetdicom", tmp_path / "serve", adopted=chunked)
    assert list((tmp_path / "pynetdicom" / "spool").iterdir()) == []
    assert len(theirs) >= sent - 5  # a few of pydicom's files are refused by both alike
    # the dataset bytes as sent (dcmtk re-encodes some of pydicom's odd files on the
    # way; the serve tests compare those with dcmtk's bit-preserving storescp): the
    # instances made here go through unchanged
    with _archive(tmp_path / "pynetdicom") as again:
        for f in files[-3:]:
            raw = f.read_bytes()
            uid = _meta(f)[0]
            kept = again.path(uid).read_bytes()
            assert kept[read_file_meta(kept).dataset_offset :] == raw[_meta(f)[2] :]
    with _archive(tmp_path / "pynetdicom") as again:
        assert not again.recovery and again.verify().ok


def test_storecore_scu_into_pynetdicom_ae_and_refusals(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_config, "STORE_RECV_CHUNKED_DATASET", True)
    monkeypatch.setattr(_config, "STORE_SEND_CHUNKED_DATASET", True)
    files = [write_instance(tmp_path / "in", sop_instance_uid=f"1.2.3.{n}") for n in range(1, 6)]
    # the command's UID (pynetdicom takes it from the File Meta) differs from the
    # data set's: 0xA900 with the pipeline's Error Comment
    bad = tmp_path / "bad.dcm"
    raw = files[0].read_bytes()
    bad.write_bytes(raw.replace(b"1.2.3.1\x00", b"1.2.3.9\x00", 1))
    assert _meta(bad)[0] == "1.2.3.9"
    answers = []
    with _archive(tmp_path / "a") as ours, _archive(tmp_path / "b") as reference:
        with pynetdicom_scp(ours) as (port, _), storecore_scp(reference) as ref_port:
            assert StorageSCU().echo("127.0.0.1", port, "STORECORE") == 0
            got = StorageSCU().send(files, "127.0.0.1", port, "STORECORE")
            expected = StorageSCU().send(files, "127.0.0.1", ref_port, "STORECORE")
            for p in (port, ref_port):
                ae = AE(ae_title="PYNETDICOM")
                ae.requested_contexts = requested_contexts([bad])
                assoc = ae.associate("127.0.0.1", p, ae_title="STORECORE")
                try:
                    status = send_file(assoc, bad).status
                finally:
                    assoc.release()
                answers.append((status.Status, status.get("ErrorComment")))
        assert [(o.status, o.comment) for o in got] == [(o.status, o.comment) for o in expected]
        assert [o.status for o in got] == [0] * 5
        assert answers[0] == answers[1]
        assert answers[0][0] == 0xA900 and "SOP Instance UID in data set" in answers[0][1]
        assert [r.sop_instance_uid for r in ours.instances()] == [f"1.2.3.{n}" for n in range(1, 6)]
    _same_as_serve(tmp_path / "a", tmp_path / "b", adopted=True)
    assert list((tmp_path / "a" / "spool").iterdir()) == []


def test_chunked_dataset_file_is_moved_into_the_archive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """STORE_RECV_CHUNKED_DATASET with pynetdicom's temporary folder in the spool: each
    stored file is the very inode pynetdicom wrote (renamed, linked), never a copy."""
    monkeypatch.setattr(_config, "STORE_RECV_CHUNKED_DATASET", True)
    files = [write_instance(tmp_path / "in", sop_instance_uid=f"1.2.3.{n}") for n in range(1, 4)]
    written: dict[str, int] = {}
    with _archive(tmp_path / "archive") as archive:
        monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "archive" / "spool"))
        handlers = StorecoreHandlers(archive)

        def store(event: Any) -> Any:
            path = event.dataset_path
            assert path.parent == tmp_path / "archive" / "spool"
            written[str(event.request.AffectedSOPInstanceUID)] = path.stat().st_ino
            return handlers.handle_store(event)

        ae = AE(ae_title="STORECORE")
        add_storecore_contexts(ae)
        port = free_port()
        server = ae.start_server(
            ("127.0.0.1", port),
            block=False,
            evt_handlers=[(evt.EVT_C_STORE, store), *handlers.handlers()[1:]],
        )
        try:
            for f in files:
                sent = _storescu(port, f, EXPLICIT)
                assert sent.returncode == 0, sent.stderr
        finally:
            server.shutdown()
        assert sorted(written) == ["1.2.3.1", "1.2.3.2", "1.2.3.3"]
        for uid, inode in written.items():
            stored = archive.path(uid)
            assert stored.stat().st_ino == inode, uid
            kept = stored.read_bytes()
            raw = (tmp_path / "in" / f"{uid}.dcm").read_bytes()
            assert (
                kept[read_file_meta(kept).dataset_offset :]
                == raw[_meta(tmp_path / "in" / f"{uid}.dcm")[2] :]
            )
        assert list((tmp_path / "archive" / "spool").iterdir()) == []
        assert archive.verify().ok


_KILLED_SENDER = """
import os, signal, socket, sys
rq, command, half = (open(sys.argv[1] + n, "rb").read() for n in (".rq", ".cmd", ".half"))
sock = socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=10)
sock.sendall(rq)
assert sock.recv(65536)[:1] == b"\\x02"  # A-ASSOCIATE-AC
sock.sendall(command + half)
print("sent", flush=True)
sys.stdin.readline()
os.kill(os.getpid(), signal.SIGKILL)  # mid-dataset: the kernel closes the socket
"""


def test_sender_killed_mid_dataset_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pynetdicom keeps the partial temporary file of a dead sender; the handlers remove it."""
    from storecore.dimse import C_STORE_RQ, encode_command
    from storecore.ul import Policy, build_request, encode_pdu

    from .test_bad_input import pdata

    monkeypatch.setattr(_config, "STORE_RECV_CHUNKED_DATASET", True)
    source = write_instance(tmp_path / "in", sop_instance_uid="1.2.3.1")
    raw = source.read_bytes()
    dataset = raw[read_file_meta(raw).dataset_offset :]
    base = str(tmp_path / "sender")
    rq = build_request(
        Policy(ae_title="KILLED", max_pdu_length=16384), "STORECORE", [(CT, (EXPLICIT,))]
    )
    Path(base + ".rq").write_bytes(encode_pdu(rq))
    command = encode_command(
        C_STORE_RQ(MessageID=1, AffectedSOPClassUID=CT, AffectedSOPInstanceUID="1.2.3.1")
    )
    Path(base + ".cmd").write_bytes(pdata(1, 3, command))
    half = dataset[: len(dataset) // 2]
    Path(base + ".half").write_bytes(
        b"".join(pdata(1, 0, half[i : i + 8000]) for i in range(0, len(half), 8000))
    )
    spool = tmp_path / "archive" / "spool"
    with _archive(tmp_path / "archive") as archive:
        monkeypatch.setattr(tempfile, "tempdir", str(spool))
        with pynetdicom_scp(archive) as (port, _):
            sender = subprocess.Popen(
                [sys.executable, "-c", _KILLED_SENDER, base, str(port)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            assert sender.stdout is not None and sender.stdin is not None
            assert sender.stdout.readline() == "sent\n"
            # pynetdicom's partial file is in the spool, holding the half received
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                partial = list(spool.glob("tmp*.dcm"))
                if partial and partial[0].stat().st_size > len(half) // 2:
                    break
                time.sleep(0.02)
            assert partial, "pynetdicom wrote no temporary file in the spool"
            sender.stdin.write("die\n")
            sender.stdin.flush()
            assert sender.wait(10) == -signal.SIGKILL
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and list(spool.iterdir()):
                time.sleep(0.02)
            assert list(spool.iterdir()) == []
        assert archive.instance("1.2.3.1") is None
        assert _files(tmp_path / "archive") == {}


def test_storecore_scu_commit_against_pynetdicom_ae(tmp_path: Path) -> None:
    files = [write_instance(tmp_path / "in", sop_instance_uid=f"1.2.3.{n}") for n in range(1, 4)]
    with _archive(tmp_path / "archive") as archive:
        service = CommitmentService(archive)
        try:
            with pynetdicom_scp(archive, service) as (port, _):
                outcomes = StorageSCU().send(files, "127.0.0.1", port, "STORECORE")
                assert all(o.ok for o in outcomes)
                result = StorageSCU().commit(outcomes, "127.0.0.1", port, "STORECORE", timeout=20)
                assert result.ok, result
                assert result.result is not None
                assert {r.sop_instance_uid for r in result.result.committed} == {
                    "1.2.3.1",
                    "1.2.3.2",
                    "1.2.3.3",
                }
                t = service.store.get(result.transaction_uid)
                assert t is not None and t.state == "delivered"
                refs = [Reference(CT, "1.2.3.1"), Reference(CT, "1.2.3.404")]
                bad = StorageSCU().commit(refs, "127.0.0.1", port, "STORECORE", timeout=20)
                assert bad.state == "failed" and bad.result is not None
                assert [(r.sop_instance_uid, r.failure_reason) for r in bad.result.failed] == [
                    ("1.2.3.404", 0x0112)
                ]
                again = StorageSCU().commit(
                    refs, "127.0.0.1", port, "STORECORE", transaction_uid=bad.transaction_uid
                )
                assert (again.state, again.status) == ("refused", 0x0131)
        finally:
            service.close()


def test_pynetdicom_scu_requests_commitment_on_the_same_association(tmp_path: Path) -> None:
    files = [write_instance(tmp_path / "in", sop_instance_uid=f"1.2.3.{n}") for n in range(1, 3)]
    reports: list[tuple[int, pydicom.Dataset]] = []
    got = threading.Event()

    def on_report(event: Any) -> tuple[int, None]:
        reports.append((event.request.EventTypeID, event.event_information))
        got.set()
        return 0x0000, None

    with _archive(tmp_path / "archive") as archive:
        service = CommitmentService(archive)
        try:
            with pynetdicom_scp(archive, service) as (port, handlers):
                requester = AE(ae_title="PYNETDICOM")
                requester.requested_contexts = requested_contexts(files)
                requester.add_requested_context(StorageCommitmentPushModel, [EXPLICIT, IMPLICIT])
                assoc = requester.associate(
                    "127.0.0.1",
                    port,
                    ae_title="STORECORE",
                    evt_handlers=[(evt.EVT_N_EVENT_REPORT, on_report)],
                )
                assert assoc.is_established
                try:
                    for n, f in enumerate(files, start=1):
                        status, record, ts = send_file(assoc, f, msg_id=n)
                        assert status.Status == 0 and record is None and ts == EXPLICIT
                    info = pydicom.Dataset()
                    info.TransactionUID = "1.2.3.4.5.6"
                    item = pydicom.Dataset()
                    item.ReferencedSOPClassUID = CT
                    item.ReferencedSOPInstanceUID = "1.2.3.1"
                    info.ReferencedSOPSequence = [item]
                    status, _ = assoc.send_n_action(
                        info, 1, STORAGE_COMMITMENT_PUSH_MODEL, STORAGE_COMMITMENT_INSTANCE
                    )
                    assert status.Status == 0
                    assert got.wait(20), "no N-EVENT-REPORT on the requester's association"
                    handlers.join(20)  # the report's answer is in
                    t = service.store.get("1.2.3.4.5.6")
                    assert t is not None and t.state == "delivered"
                finally:
                    assoc.release()
        finally:
            service.close()
    event_type, ds = reports[0]
    assert event_type == 1
    assert ds.TransactionUID == "1.2.3.4.5.6"
    assert [i.ReferencedSOPInstanceUID for i in ds.ReferencedSOPSequence] == ["1.2.3.1"]
    assert "FailedSOPSequence" not in ds


def test_report_on_a_new_association_when_the_requester_leaves(tmp_path: Path) -> None:
    """pynetdicom asks and releases at once: the report comes on an association of our own."""
    write_instance(tmp_path / "in", sop_instance_uid="1.2.3.7")
    reports: list[int] = []
    got = threading.Event()

    def on_report(event: Any) -> tuple[int, None]:
        reports.append(event.request.EventTypeID)
        got.set()
        return 0x0000, None

    listener_port = free_port()
    listener = AE(ae_title="PYNETDICOM")
    listener.add_supported_context(StorageCommitmentPushModel, scu_role=True, scp_role=True)
    server = listener.start_server(
        ("127.0.0.1", listener_port),
        block=False,
        evt_handlers=[(evt.EVT_N_EVENT_REPORT, on_report)],
    )
    with _archive(tmp_path / "archive") as archive:
        archive.store_file(tmp_path / "in" / "1.2.3.7.dcm")
        service = CommitmentService(
            archive, directory={"PYNETDICOM": ("127.0.0.1", listener_port)}, retry_delays=(0.2,)
        )
        try:
            with pynetdicom_scp(archive, service) as (port, handlers):
                requester = AE(ae_title="PYNETDICOM")
                requester.add_requested_context(StorageCommitmentPushModel)
                assoc = requester.associate("127.0.0.1", port, ae_title="STORECORE")
                info = pydicom.Dataset()
                info.TransactionUID = "1.2.3.4.5.7"
                item = pydicom.Dataset()
                item.ReferencedSOPClassUID = CT
                item.ReferencedSOPInstanceUID = "1.2.3.7"
                info.ReferencedSOPSequence = [item]
                status, _ = assoc.send_n_action(
                    info, 1, STORAGE_COMMITMENT_PUSH_MODEL, STORAGE_COMMITMENT_INSTANCE
                )
                assert status.Status == 0
                assoc.release()
                assert got.wait(30), "the report never came"
                handlers.join(10)
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:
                    t = service.store.get("1.2.3.4.5.7")
                    if t is not None and t.state == "delivered":
                        break
                    time.sleep(0.05)
                assert t is not None and t.state == "delivered"
        finally:
            service.close()
            server.shutdown()
    assert reports == [1]


def test_send_file_streams_rewrites_or_says_not_supported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_config, "STORE_SEND_CHUNKED_DATASET", True)
    explicit = write_instance(tmp_path / "in", sop_instance_uid="1.2.3.1")
    implicit = write_instance(tmp_path / "in", sop_instance_uid="1.2.3.2", ts=IMPLICIT)
    jpeg = next(f for f in corpus_files() if f.name == "JPEG2000.dcm")
    jpeg_class = pydicom.dcmread(jpeg, stop_before_pixels=True).SOPClassUID
    with _archive(tmp_path / "archive") as archive:
        # the peer accepts CT in Implicit VR LE only, the JPEG 2000 file's class natively only
        scp = StorageSCP(
            archive.sink(),
            host="127.0.0.1",
            port=0,
            ae_title="STORECORE",
            sop_classes=[CT, jpeg_class],
            transfer_syntaxes=[IMPLICIT],
        ).start()
        try:
            ae = AE(ae_title="PYNETDICOM")
            ae.requested_contexts = requested_contexts([explicit, implicit, jpeg])
            assoc = ae.associate("127.0.0.1", scp.address[1], ae_title="STORECORE")
            assert assoc.is_established
            try:
                as_is = send_file(assoc, implicit, msg_id=1)
                rewritten = send_file(assoc, explicit, msg_id=2)
                refused = send_file(assoc, jpeg, msg_id=3)
            finally:
                assoc.release()
        finally:
            scp.shutdown(5)
        assert (as_is.status.Status, as_is.transcode, as_is.transfer_syntax_uid) == (
            0,
            None,
            IMPLICIT,
        )
        assert rewritten.status.Status == 0 and rewritten.transfer_syntax_uid == IMPLICIT
        assert rewritten.transcode is not None
        assert rewritten.transcode.path is TranscodePath.SUPPORTED
        assert (rewritten.transcode.source_ts, rewritten.transcode.target_ts) == (
            EXPLICIT,
            IMPLICIT,
        )
        assert refused.transcode is not None
        assert refused.transcode.path is TranscodePath.NOT_SUPPORTED
        assert refused.transfer_syntax_uid is None and "Status" not in refused.status
        stored = archive.instance("1.2.3.1")
        assert stored is not None and stored.received_transfer_syntax == IMPLICIT
        # every value kept: pydicom reads the same data set from both
        a, b = pydicom.dcmread(explicit), pydicom.dcmread(archive.path("1.2.3.1"))
        assert [(e.tag, e.value) for e in a] == [(e.tag, e.value) for e in b]
        assert (
            archive.instance(pydicom.dcmread(jpeg, stop_before_pixels=True).SOPInstanceUID) is None
        )


def test_send_file_without_chunked_send_lets_pynetdicom_encode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_config, "STORE_SEND_CHUNKED_DATASET", False)
    f = write_instance(tmp_path / "in", sop_instance_uid="1.2.3.1")
    with _archive(tmp_path / "archive") as archive, storecore_scp(archive) as port:
        ae = AE(ae_title="PYNETDICOM")
        ae.requested_contexts = requested_contexts([f])
        assoc = ae.associate("127.0.0.1", port, ae_title="STORECORE")
        try:
            result = send_file(assoc, f)
        finally:
            assoc.release()
        assert result.status.Status == 0 and result.transcode is None
        assert archive.instance("1.2.3.1") is not None


def test_contexts() -> None:
    from storecore.scp import default_storage_transfer_syntaxes
    from storecore.uid import STORAGE_SOP_CLASSES

    contexts = supported_contexts(commitment=True)
    assert len(contexts) == len(STORAGE_SOP_CLASSES) + 2  # beyond 128: supported ones have no limit
    assert contexts[0].transfer_syntax == list(default_storage_transfer_syntaxes())
    ae = AE()
    add_storecore_contexts(ae)
    assert len(ae.supported_contexts) == len(STORAGE_SOP_CLASSES) + 1
    handlers = storecore_handlers(_FakeSink())  # type: ignore[arg-type]
    assert [h[0] for h in handlers] == [evt.EVT_C_STORE, evt.EVT_CONN_CLOSE, evt.EVT_C_ECHO]


def test_requested_contexts_refuse_more_than_128(tmp_path: Path) -> None:
    from storecore.uid import STORAGE_SOP_CLASSES

    files = []
    for n, sop_class in enumerate(c.uid for c in STORAGE_SOP_CLASSES[:65]):
        ds = pydicom.dcmread(write_instance(tmp_path / "in", sop_instance_uid=f"1.2.3.{n + 1}"))
        ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = sop_class
        path = tmp_path / "many" / f"{n}.dcm"
        path.parent.mkdir(exist_ok=True)
        ds.save_as(path, enforce_file_format=True)
        files.append(path)
    assert len(requested_contexts(files[:64])) == 128
    with pytest.raises(ValueError, match="130 presentation contexts"):
        requested_contexts(files)


class _FakeSink:
    def begin(self, request: object) -> object:
        raise AssertionError("not called")


# ------------------------------------------------------------------ the documented example


def _documented_example() -> str:
    text = (ROOT / "docs" / "pynetdicom.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) == 1, "docs/pynetdicom.md must hold exactly one python block"
    return blocks[0]


def test_the_documented_example_runs(tmp_path: Path) -> None:
    """Run exactly the python block of docs/pynetdicom.md (the README's example)."""
    script = tmp_path / "example.py"
    script.write_text(_documented_example())
    port = free_port()
    env = {
        **os.environ,
        "STORESCP_PORT": str(port),
        # the storecore this process imported (installed in CI, src/ when built in place)
        "PYTHONPATH": os.pathsep.join(
            [str(Path(storecore.__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")]
        ),
    }
    proc = subprocess.Popen(
        # faulthandler: a hang below ends with SIGABRT and every thread's stack
        [sys.executable, "-X", "faulthandler", str(script)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Ctrl-C must reach it even when this run inherited SIGINT ignored (a
        # shell's background job): Python then keeps it ignored, and the
        # example never stopped (its stack, in such a run: still in select)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        wait_listening(port, proc, timeout=30)
        ct = next(f for f in corpus_files() if f.name == "CT_small.dcm")
        sent = subprocess.run(
            [
                dcmtk("storescu"),
                "-aet",
                "MODALITY",
                "-aec",
                "STORESCP",
                "127.0.0.1",
                str(port),
                str(ct),
            ],
            env=dcmtk_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert sent.returncode == 0, sent.stderr
        outcomes = StorageSCU("MODALITY").send(
            [write_instance(tmp_path / "in", sop_instance_uid="1.2.3.1")],
            "127.0.0.1",
            port,
            "STORESCP",
        )
        assert outcomes[0].ok, outcomes
        refs = [
            Reference(str(pydicom.dcmread(ct).SOPClassUID), str(pydicom.dcmread(ct).SOPInstanceUID))
        ]
        committed = StorageSCU("MODALITY").commit(refs, "127.0.0.1", port, "STORESCP", timeout=20)
        assert committed.ok, committed
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGABRT)
            _, err = proc.communicate(timeout=10)
            raise AssertionError(f"the example did not stop on SIGINT:\n{err}") from None
    assert proc.returncode == 0, err
    with _archive(tmp_path / "archive") as archive:
        assert not archive.recovery and archive.verify().ok
        uids = {r.sop_instance_uid for r in archive.instances()}
        assert uids == {refs[0].sop_instance_uid, "1.2.3.1"}

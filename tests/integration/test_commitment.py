"""Storage Commitment over loopback: storecore and pynetdicom in both roles, faults, restarts."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from storecore.commitment import (
    STORAGE_COMMITMENT_PUSH_MODEL,
    CommitmentRequest,
    Reference,
    encode_request,
)
from storecore.commitment.service import CommitmentService
from storecore.scp import StorageSCP
from storecore.scu import StorageSCU
from storecore.storage import Archive, StoragePolicy

from ..unit.storage.helpers import CT, write_instance
from .conftest import free_port, start_serve

CLI = [sys.executable, "-m", "storecore.cli"]


@pytest.fixture
def archive(tmp_path: Path) -> Iterator[Archive]:
    a = Archive(tmp_path / "archive", policy=StoragePolicy(min_free_bytes=0))
    yield a
    a.close()


def _n_action_dataset(transaction_uid: str, sop_instance_uid: str) -> Any:
    """A pynetdicom requester's N-ACTION data set for one CT instance (PS3.4 Table J.3-1)."""
    from pydicom.dataset import Dataset

    ds = Dataset()
    ds.TransactionUID = transaction_uid
    item = Dataset()
    item.ReferencedSOPClassUID = CT
    item.ReferencedSOPInstanceUID = sop_instance_uid
    ds.ReferencedSOPSequence = [item]
    return ds


def _wait_delivered(service: CommitmentService, transaction_uid: str) -> None:
    """The SCP marks a report delivered once the requester's N-EVENT-REPORT-RSP is in:
    a moment after the requester itself has the report."""
    deadline = time.monotonic() + 10
    while True:
        t = service.store.get(transaction_uid)
        if t is not None and t.state == "delivered":
            return
        assert time.monotonic() < deadline, t
        time.sleep(0.02)


def _scp(archive: Archive, service: CommitmentService) -> StorageSCP:
    return StorageSCP(
        archive.sink(), host="127.0.0.1", port=0, ae_title="STORECORE", commitment=service
    ).start()


def test_storecore_scu_sends_then_commits(tmp_path: Path, archive: Archive) -> None:
    files = [write_instance(tmp_path / "in", sop_instance_uid=f"1.2.3.{n}") for n in range(1, 5)]
    service = CommitmentService(archive)
    scp = _scp(archive, service)
    try:
        port = scp.address[1]
        outcomes = StorageSCU().send(files, "127.0.0.1", port, "STORECORE")
        assert all(o.ok for o in outcomes)
        result = StorageSCU().commit(outcomes, "127.0.0.1", port, "STORECORE")
        assert result.ok, result
        assert result.result is not None
        assert {r.sop_instance_uid for r in result.result.committed} == {
            f"1.2.3.{n}" for n in range(1, 5)
        }
        _wait_delivered(service, result.transaction_uid)
        # altered after storage, unknown, wrong class: each with its Failure Reason
        altered = archive.path("1.2.3.1")
        data = bytearray(altered.read_bytes())
        data[-2] ^= 0xFF
        altered.write_bytes(bytes(data))
        refs = [
            Reference(CT, "1.2.3.1"),
            Reference(CT, "1.2.3.99"),
            Reference("1.2.840.10008.5.1.4.1.1.4", "1.2.3.2"),
            Reference(CT, "1.2.3.3"),
        ]
        bad = StorageSCU().commit(refs, "127.0.0.1", port, "STORECORE")
        assert bad.state == "failed" and bad.result is not None
        assert {(r.sop_instance_uid, r.failure_reason) for r in bad.result.failed} == {
            ("1.2.3.1", 0x0110),
            ("1.2.3.99", 0x0112),
            ("1.2.3.2", 0x0119),
        }
        assert [r.sop_instance_uid for r in bad.result.committed] == ["1.2.3.3"]
        # the same Transaction UID again: refused with 0x0131
        again = StorageSCU().commit(
            refs, "127.0.0.1", port, "STORECORE", transaction_uid=bad.transaction_uid
        )
        assert (again.state, again.status) == ("refused", 0x0131)
    finally:
        scp.shutdown(5)
        service.close()


def test_pynetdicom_requester_gets_the_report_on_a_new_association(
    tmp_path: Path, archive: Archive
) -> None:
    """pynetdicom asks, releases at once; storecore reports on an association of its own."""
    from pynetdicom import AE, evt
    from pynetdicom.sop_class import StorageCommitmentPushModel

    archive.store_file(write_instance(tmp_path / "in", sop_instance_uid="1.2.3.7"))
    reports: list[object] = []
    got = threading.Event()

    def on_report(event: object) -> tuple[int, None]:
        ds = event.event_information  # type: ignore[attr-defined]
        reports.append((event.event_type, event.request.EventTypeID, ds))  # type: ignore[attr-defined]
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
    service = CommitmentService(archive, directory={"PYNETDICOM": ("127.0.0.1", listener_port)})
    scp = _scp(archive, service)
    try:
        requester = AE(ae_title="PYNETDICOM")
        requester.add_requested_context(StorageCommitmentPushModel)
        assoc = requester.associate("127.0.0.1", scp.address[1], ae_title="STORECORE")
        assert assoc.is_established

        ds = _n_action_dataset("2.25.77", "1.2.3.7")
        status, _ = assoc.send_n_action(ds, 1, StorageCommitmentPushModel, "1.2.840.10008.1.20.1.1")
        assert status.Status == 0x0000
        assoc.release()
        assert got.wait(30), "no N-EVENT-REPORT arrived"
        _, event_type, report = reports[0]  # type: ignore[misc]
        assert event_type == 1  # all committed (PS3.4 J.3.3)
        assert report.TransactionUID == "2.25.77"
        assert report.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == "1.2.3.7"
        deadline = time.monotonic() + 10
        while service.store.get("2.25.77").state != "delivered":  # type: ignore[union-attr]
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        scp.shutdown(5)
        service.close()
        server.shutdown()


def test_malformed_n_action_is_refused_with_its_status(archive: Archive) -> None:
    from pydicom.dataset import Dataset
    from pynetdicom import AE
    from pynetdicom.sop_class import StorageCommitmentPushModel

    service = CommitmentService(archive)
    scp = _scp(archive, service)
    try:
        requester = AE(ae_title="PYNETDICOM")
        requester.add_requested_context(StorageCommitmentPushModel)
        assoc = requester.associate("127.0.0.1", scp.address[1], ae_title="STORECORE")
        no_uid = Dataset()
        no_uid.ReferencedSOPSequence = []
        status, _ = assoc.send_n_action(
            no_uid, 1, StorageCommitmentPushModel, "1.2.840.10008.1.20.1.1"
        )
        assert status.Status == 0x0120  # Missing Attribute
        ok = _n_action_dataset("2.25.78", "1.2.3.7")
        status, _ = assoc.send_n_action(ok, 2, StorageCommitmentPushModel, "1.2.840.10008.1.20.1.1")
        assert status.Status == 0x0123  # No such action type
        status, _ = assoc.send_n_action(ok, 1, StorageCommitmentPushModel, "1.2.3.4")
        assert status.Status == 0x0112  # No such object instance
        assoc.release()
    finally:
        scp.shutdown(5)
        service.close()


def test_serve_killed_before_the_report_delivers_it_after_restart(tmp_path: Path) -> None:
    """kill -9 between N-ACTION-RSP and N-EVENT-REPORT; the restarted server still reports."""
    from pynetdicom import AE, evt
    from pynetdicom.sop_class import StorageCommitmentPushModel

    listener_port = free_port()
    config = tmp_path / "storecore.toml"
    config.write_text(
        "[storage]\nmin_free_bytes = 0\n"
        f'[peers.directory]\nPYNETDICOM = "127.0.0.1:{listener_port}"\n'
    )
    storage = tmp_path / "archive"
    src = write_instance(tmp_path / "in", sop_instance_uid="1.2.3.8")

    def serve() -> tuple[subprocess.Popen[str], int]:
        return start_serve(config, storage)

    proc, port = serve()
    try:
        assert StorageSCU().send([src], "127.0.0.1", port, "STORECORE")[0].ok
        requester = AE(ae_title="PYNETDICOM")
        requester.add_requested_context(StorageCommitmentPushModel)
        assoc = requester.associate("127.0.0.1", port, ae_title="STORECORE")
        ds = _n_action_dataset("2.25.79", "1.2.3.8")
        status, _ = assoc.send_n_action(ds, 1, StorageCommitmentPushModel, "1.2.840.10008.1.20.1.1")
        assert status.Status == 0x0000
        assoc.abort()  # gone before any report; nobody listens at its address yet
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    got = threading.Event()
    reports: list[str] = []

    def on_report(event: object) -> tuple[int, None]:
        reports.append(event.event_information.TransactionUID)  # type: ignore[attr-defined]
        got.set()
        return 0x0000, None

    listener = AE(ae_title="PYNETDICOM")
    listener.add_supported_context(StorageCommitmentPushModel, scu_role=True, scp_role=True)
    server = listener.start_server(
        ("127.0.0.1", listener_port),
        block=False,
        evt_handlers=[(evt.EVT_N_EVENT_REPORT, on_report)],
    )
    proc, port = serve()
    try:
        assert got.wait(60), "the restarted server did not deliver the pending report"
        assert reports == ["2.25.79"]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
        server.shutdown()


def test_the_command_line_send_commit(tmp_path: Path) -> None:
    files = [write_instance(tmp_path / "in", sop_instance_uid=f"1.2.3.{n}") for n in (20, 21)]
    config = tmp_path / "storecore.toml"
    config.write_text("[storage]\nmin_free_bytes = 0\n")
    proc, port = start_serve(config, tmp_path / "archive")
    try:
        sent = subprocess.run(
            [*CLI, "send", "127.0.0.1", str(port), "--aec", "STORECORE", "--commit",
             *map(str, files)],
            capture_output=True,
            text=True,
            timeout=120,
        )  # fmt: skip
        assert sent.returncode == 0, sent.stderr
        assert "2 committed, 0 failed" in sent.stdout
        missing = subprocess.run(
            [*CLI, "commit", "127.0.0.1", str(port), "--aec", "STORECORE",
             str(write_instance(tmp_path / "other", sop_instance_uid="1.2.3.22"))],
            capture_output=True,
            text=True,
            timeout=120,
        )  # fmt: skip
        assert missing.returncode == 1
        assert "not committed: 1.2.3.22 (failure reason 0x0112)" in missing.stdout
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)


def test_request_encoding_is_what_pynetdicom_would_send() -> None:
    """Our N-ACTION data set reads back in pydicom as the attributes of PS3.4 Table J.3-1."""
    import io

    from pydicom.filereader import read_dataset

    data = encode_request(CommitmentRequest("2.25.5", (Reference(CT, "1.2.3"),)))
    ds = read_dataset(io.BytesIO(data), is_implicit_VR=True, is_little_endian=True)
    assert ds.TransactionUID == "2.25.5"
    assert ds.ReferencedSOPSequence[0].ReferencedSOPClassUID == CT
    assert STORAGE_COMMITMENT_PUSH_MODEL == "1.2.840.10008.1.20.1"


def test_storecore_scu_takes_the_report_on_an_association_of_the_scps(
    tmp_path: Path, archive: Archive
) -> None:
    """With a report address, the SCU releases at once and listens (PS3.4 J.3.3)."""
    files = [write_instance(tmp_path / "in", sop_instance_uid=f"1.2.9.{n}") for n in (1, 2)]
    report_port = free_port()
    service = CommitmentService(archive, directory={"SCU": ("127.0.0.1", report_port)})
    scp = _scp(archive, service)
    try:
        port = scp.address[1]
        outcomes = StorageSCU("SCU").send(files, "127.0.0.1", port, "STORECORE")
        refs = [*outcomes, Reference(CT, "1.2.9.99")]
        result = StorageSCU("SCU").commit(
            refs, "127.0.0.1", port, "STORECORE", report_address=("127.0.0.1", report_port)
        )
        assert result.state == "failed", result
        assert result.result is not None
        assert [r.sop_instance_uid for r in result.result.failed] == ["1.2.9.99"]
        assert {r.sop_instance_uid for r in result.result.committed} == {"1.2.9.1", "1.2.9.2"}
        _wait_delivered(service, result.transaction_uid)
    finally:
        scp.shutdown(5)
        service.close()


def test_the_scu_journal_keeps_what_was_committed(tmp_path: Path, archive: Archive) -> None:
    from storecore.commitment.service import TransactionStore

    files = [write_instance(tmp_path / "in", sop_instance_uid=f"1.2.10.{n}") for n in (1, 2)]
    journal = tmp_path / "scu-journal.sqlite"
    service = CommitmentService(archive)
    scp = _scp(archive, service)
    try:
        port = scp.address[1]
        outcomes = StorageSCU().send(files, "127.0.0.1", port, "STORECORE")
        done = StorageSCU().commit(outcomes, "127.0.0.1", port, "STORECORE", journal=journal)
        refused = StorageSCU().commit(
            outcomes, "127.0.0.1", port, "STORECORE",
            transaction_uid=done.transaction_uid, journal=tmp_path / "other.sqlite",
        )  # fmt: skip
        assert done.ok and refused.state == "refused"
    finally:
        scp.shutdown(5)
        service.close()
    reopened = TransactionStore(journal)  # as after a restart of the sender
    try:
        t = reopened.get(done.transaction_uid)
        assert t is not None and t.state == "delivered" and t.calling_ae_title == "STORECORE"
        assert t.result is not None
        assert {r.sop_instance_uid for r in t.result.committed} == {"1.2.10.1", "1.2.10.2"}
    finally:
        reopened.close()
    other = TransactionStore(tmp_path / "other.sqlite")
    try:
        t = other.get(done.transaction_uid)
        assert t is not None and t.state == "undeliverable" and "0x0131" in t.last_error
    finally:
        other.close()


def test_pynetdicom_requester_gets_the_report_on_its_own_association(
    tmp_path: Path, archive: Archive
) -> None:
    """A requester that stays associated gets the N-EVENT-REPORT there (PS3.4 J.3.3)."""
    from pydicom.dataset import Dataset
    from pynetdicom import AE, evt
    from pynetdicom.sop_class import StorageCommitmentPushModel

    archive.store_file(write_instance(tmp_path / "in", sop_instance_uid="1.2.3.31"))
    got = threading.Event()
    reports: list[Dataset] = []

    def on_report(event: object) -> tuple[int, None]:
        reports.append(event.event_information)  # type: ignore[attr-defined]
        got.set()
        return 0x0000, None

    service = CommitmentService(archive)
    scp = _scp(archive, service)
    try:
        requester = AE(ae_title="PYNETDICOM")
        requester.add_requested_context(StorageCommitmentPushModel)
        assoc = requester.associate(
            "127.0.0.1",
            scp.address[1],
            ae_title="STORECORE",
            evt_handlers=[(evt.EVT_N_EVENT_REPORT, on_report)],
        )
        assert assoc.is_established
        ds = _n_action_dataset("2.25.80", "1.2.3.31")
        status, _ = assoc.send_n_action(ds, 1, StorageCommitmentPushModel, "1.2.840.10008.1.20.1.1")
        assert status.Status == 0x0000
        assert got.wait(30), "no report on the requester's association"
        assert reports[0].TransactionUID == "2.25.80"
        _wait_delivered(service, "2.25.80")
        assoc.release()
    finally:
        scp.shutdown(5)
        service.close()

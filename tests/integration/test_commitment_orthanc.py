"""Storage Commitment over loopback with Debian's Orthanc, in both roles (issue 6).

Orthanc (1.6 and later) is an SCP and an SCU of the Storage Commitment Push
Model; its SCU is driven through its REST API. What these tests establish of
Orthanc 1.10 (Debian 12):

- as SCP it answers the N-ACTION, then reports from a job on a *new*
  association to the requester's entry in its ``DicomModalities`` (the Orthanc
  Book: "Orthanc makes the assumption that the storage commitment responses
  are sent asynchronously"), never on the requester's association. storecore's
  SCU waits only on its own association, so its outcome says ``pending``; the
  report is taken here by a pynetdicom listener (storecore has no listener for
  the SCU role yet) and read back with storecore's own decoder;
- as SCU it releases its association as soon as the N-ACTION-RSP arrives, so
  storecore's CommitmentService reports on an association of its own, calling
  Orthanc's DICOM port as the Storage Commitment SCP (role selection), and
  Orthanc's ``/storage-commitment/{transaction}`` shows the result.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from storecore.commitment import CommitmentResult, Reference, decode_result
from storecore.commitment.service import CommitmentService, Transaction
from storecore.scp import StorageSCP
from storecore.scu import StorageSCU
from storecore.storage import Archive, StoragePolicy

from ..unit.storage.helpers import CT, write_instance
from .conftest import free_port

ORTHANC = Path("/usr/sbin/Orthanc")  # Debian's package; /usr/sbin is not on every PATH
MR = "1.2.840.10008.5.1.4.1.1.4"
NO_SUCH_OBJECT = 0x0112
PROCESSING_FAILURE = 0x0110
CLASS_INSTANCE_CONFLICT = 0x0119


def orthanc_binary() -> str:
    if ORTHANC.exists():
        return str(ORTHANC)
    found = shutil.which("Orthanc")
    if found is None:
        pytest.fail("Orthanc is missing: `tools/dev test` installs Debian's orthanc package")
    return found


@dataclass
class Orthanc:
    """A running Orthanc and where its peers (storecore's SCP, the SCU's listener) listen."""

    process: subprocess.Popen[bytes]
    dicom_port: int
    http_port: int
    storecore_port: int
    listener_port: int
    log: Path

    def rest(self, method: str, path: str, body: object = None) -> Any:
        # a str goes as it is (/tools/lookup takes a bare UID), anything else as JSON
        data = body.encode() if isinstance(body, str) else None
        if body is not None and data is None:
            data = json.dumps(body).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.http_port}{path}", data=data, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            pytest.fail(f"Orthanc {method} {path}: HTTP {exc.code}: {exc.read()[:500]!r}")

    def upload(self, path: Path) -> str:
        """POST /instances: Orthanc's identifier of the instance."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.http_port}/instances", data=path.read_bytes(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return str(json.loads(response.read())["ID"])

    def report(self, transaction_uid: str, timeout: float = 15.0) -> dict[str, Any]:
        """Poll /storage-commitment/{uid} until Orthanc has received the report."""
        deadline = time.monotonic() + timeout
        while True:
            answer: dict[str, Any] = self.rest("GET", f"/storage-commitment/{transaction_uid}")
            if answer["Status"] != "Pending":
                return answer
            if time.monotonic() > deadline:
                pytest.fail(f"no report reached Orthanc for {transaction_uid}: {answer}")
            time.sleep(0.05)


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Orthanc]:
    # one Orthanc for the module: it takes ~3 s to stop (its servers poll once a
    # second); the tests use distinct SOP Instance UIDs
    binary = orthanc_binary()
    home = tmp_path_factory.mktemp("orthanc")
    dicom_port, http_port = free_port(), free_port()
    storecore_port, listener_port = free_port(), free_port()
    config = {
        "Name": "storecore-interop",
        "StorageDirectory": str(home / "storage"),
        "IndexDirectory": str(home / "index"),
        "DicomAet": "ORTHANC",
        "DicomPort": dicom_port,
        "HttpPort": http_port,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "DicomCheckCalledAet": False,
        "Plugins": [],
        "SaveJobs": False,
        "WebDavEnabled": False,
        # Orthanc's SCP reports to the requester's entry here, on a new association;
        # its SCU stores to and asks commitment of an entry by its identifier
        "DicomModalities": {
            "storecore": {
                "AET": "STORECORE",
                "Host": "127.0.0.1",
                "Port": storecore_port,
                "AllowStorageCommitment": True,
            },
            "storecore-scu": {
                "AET": "STORECORE_SCU",
                "Host": "127.0.0.1",
                "Port": listener_port,
                "AllowStorageCommitment": True,
            },
        },
    }
    (home / "orthanc.json").write_text(json.dumps(config, indent=2))
    log = home / "orthanc.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [binary, "--verbose", str(home / "orthanc.json")],
            stdout=out,
            stderr=subprocess.STDOUT,
            # Debian's dcmtk (inside Orthanc) leaves Nagle on unless told
            env={**os.environ, "TCP_NODELAY": "1"},
        )
    server = Orthanc(process, dicom_port, http_port, storecore_port, listener_port, log)
    try:
        deadline = time.monotonic() + 20
        while True:
            if process.poll() is not None:
                pytest.fail(f"Orthanc exited with {process.returncode}:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/system", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"Orthanc did not start:\n{log.read_text()[-3000:]}")
                time.sleep(0.05)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def archive(tmp_path: Path) -> Iterator[Archive]:
    a = Archive(tmp_path / "archive", policy=StoragePolicy(min_free_bytes=0))
    yield a
    a.close()


def _instances(folder: Path, *numbers: int) -> list[Path]:
    return [write_instance(folder, sop_instance_uid=f"1.2.3.{n}") for n in numbers]


def _delivered(service: CommitmentService, transaction_uid: str) -> Transaction:
    """The transaction once storecore has the N-EVENT-REPORT-RSP.

    Orthanc shows the report as soon as it has read it, a moment before its
    N-EVENT-REPORT-RSP and release reach storecore: wait for that moment.
    """
    deadline = time.monotonic() + 10
    while True:
        t = service.store.get(transaction_uid)
        assert t is not None, f"storecore has no transaction {transaction_uid}"
        if t.state == "delivered":
            return t
        assert time.monotonic() < deadline, f"not delivered: {t}"
        time.sleep(0.02)


class _Listener:
    """A pynetdicom AE taking the reports Orthanc sends on associations of its own."""

    def __init__(self, port: int, ae_title: str) -> None:
        from pynetdicom import AE, evt
        from pynetdicom.sop_class import StorageCommitmentPushModel

        self.reports: list[tuple[str, int, CommitmentResult]] = []
        self.arrived = threading.Condition()
        ae = AE(ae_title=ae_title)
        # Orthanc proposes the SCP role for itself (PS3.4 J.3.3, SCP/SCU Role Selection)
        ae.add_supported_context(StorageCommitmentPushModel, scu_role=True, scp_role=True)
        server = ae.start_server(
            ("127.0.0.1", port),
            block=False,
            evt_handlers=[(evt.EVT_N_EVENT_REPORT, self._on_report)],
        )
        assert server is not None  # non-blocking: the server is returned
        self.server = server

    def _on_report(self, event: Any) -> tuple[int, None]:
        # read with storecore's decoder, in the syntax Orthanc negotiated
        result = decode_result(
            event.request.EventInformation.getvalue(), event.context.transfer_syntax
        )
        with self.arrived:
            self.reports.append(
                (event.assoc.requestor.ae_title.strip(), event.request.EventTypeID, result)
            )
            self.arrived.notify_all()
        return 0x0000, None

    def wait_for(
        self, transaction_uid: str, timeout: float = 15.0
    ) -> tuple[str, int, CommitmentResult]:
        with self.arrived:
            found = self.arrived.wait_for(
                lambda: any(r[2].transaction_uid == transaction_uid for r in self.reports),
                timeout,
            )
            assert found, f"Orthanc sent no N-EVENT-REPORT for {transaction_uid}"
            return next(r for r in self.reports if r[2].transaction_uid == transaction_uid)

    def close(self) -> None:
        self.server.shutdown()


def test_storecore_scu_commits_against_orthanc_scp(tmp_path: Path, orthanc: Orthanc) -> None:
    """storecore sends, asks commitment; Orthanc reports on a new association."""
    files = _instances(tmp_path / "in", 11, 12, 13)
    listener = _Listener(orthanc.listener_port, "STORECORE_SCU")
    try:
        scu = StorageSCU("STORECORE_SCU")
        outcomes = scu.send(files, "127.0.0.1", orthanc.dicom_port, "ORTHANC")
        assert all(o.ok for o in outcomes), outcomes
        for n in (11, 12, 13):
            assert orthanc.rest("POST", "/tools/lookup", f"1.2.3.{n}"), f"1.2.3.{n} not in Orthanc"

        # Orthanc reports only on an association of its own: on ours, nothing comes
        # (the short time-out keeps the test fast; the report comes within ms)
        sent = scu.commit(outcomes, "127.0.0.1", orthanc.dicom_port, "ORTHANC", timeout=1.0)
        assert (sent.state, sent.status) == ("pending", 0), sent
        calling, event_type, result = listener.wait_for(sent.transaction_uid)
        assert calling == "ORTHANC"
        assert event_type == 1  # all committed (PS3.4 J.3.3)
        assert {r.sop_instance_uid for r in result.committed} == {
            "1.2.3.11",
            "1.2.3.12",
            "1.2.3.13",
        }
        assert all(r.sop_class_uid == CT for r in result.committed)
        assert result.failed == ()

        # an instance Orthanc never received: Failure Reason 0x0112
        refs = [Reference(CT, "1.2.3.11"), Reference(CT, "1.2.3.99")]
        missing = scu.commit(refs, "127.0.0.1", orthanc.dicom_port, "ORTHANC", timeout=1.0)
        assert missing.state == "pending", missing
        _, event_type, result = listener.wait_for(missing.transaction_uid)
        assert event_type == 2  # failures exist
        assert [r.sop_instance_uid for r in result.committed] == ["1.2.3.11"]
        assert [(r.sop_class_uid, r.sop_instance_uid, r.failure_reason) for r in result.failed] == [
            (CT, "1.2.3.99", NO_SUCH_OBJECT)
        ]
    finally:
        listener.close()


def test_orthanc_scu_commits_against_storecore_scp(
    tmp_path: Path, orthanc: Orthanc, archive: Archive, caplog: pytest.LogCaptureFixture
) -> None:
    """Orthanc stores and asks commitment (REST); storecore reports on a new association."""
    caplog.set_level(logging.INFO, logger="storecore")
    ids = [orthanc.upload(f) for f in _instances(tmp_path / "in", 1, 2, 3)]
    service = CommitmentService(
        archive,
        directory={"ORTHANC": ("127.0.0.1", orthanc.dicom_port)},
        retry_delays=(0.5, 1.0, 2.0),
    )
    scp = StorageSCP(
        archive.sink(),
        host="127.0.0.1",
        port=orthanc.storecore_port,
        ae_title="STORECORE",
        commitment=service,
    ).start()
    try:
        # C-STORE then N-ACTION in one REST call (Orthanc's store job with StorageCommitment)
        job = orthanc.rest(
            "POST",
            "/modalities/storecore/store",
            {"Resources": ids, "Synchronous": True, "StorageCommitment": True},
        )
        assert (job["InstancesCount"], job["FailedInstancesCount"]) == (3, 0), job
        uid = job["StorageCommitmentTransactionUID"]
        for n in (1, 2, 3):
            assert archive.index.instance(f"1.2.3.{n}") is not None
        report = orthanc.report(uid)
        assert report["Status"] == "Success", report
        assert report["RemoteAET"] == "STORECORE"
        assert {s["SOPInstanceUID"] for s in report["Success"]} == {"1.2.3.1", "1.2.3.2", "1.2.3.3"}
        assert report["Failures"] == []
        t = _delivered(service, uid)
        assert t.calling_ae_title == "ORTHANC"
        # Orthanc released right after our N-ACTION-RSP: the report went on a new
        # association (logged by the delivery thread just after it marks delivery)
        line = f"commitment {uid} reported to ORTHANC on a new association (event type 1)"
        deadline = time.monotonic() + 5
        while line not in caplog.text:
            assert time.monotonic() < deadline, f"not reported on a new association:\n{caplog.text}"
            time.sleep(0.02)

        # altered after storage (0x0110), unknown (0x0112), the wrong class (0x0119),
        # asked through Orthanc's own storage-commitment route with explicit UIDs
        altered = archive.path("1.2.3.1")
        data = bytearray(altered.read_bytes())
        data[-2] ^= 0xFF
        altered.write_bytes(bytes(data))
        asked = orthanc.rest(
            "POST",
            "/modalities/storecore/storage-commitment",
            {
                "DicomInstances": [
                    {"SOPClassUID": CT, "SOPInstanceUID": "1.2.3.1"},
                    {"SOPClassUID": CT, "SOPInstanceUID": "1.2.3.99"},
                    {"SOPClassUID": MR, "SOPInstanceUID": "1.2.3.2"},
                    {"SOPClassUID": CT, "SOPInstanceUID": "1.2.3.3"},
                ]
            },
        )
        failed = orthanc.report(asked["ID"])
        assert failed["Status"] == "Failure", failed
        assert [s["SOPInstanceUID"] for s in failed["Success"]] == ["1.2.3.3"]
        assert {
            (f["SOPClassUID"], f["SOPInstanceUID"], f["FailureReason"]) for f in failed["Failures"]
        } == {
            (CT, "1.2.3.1", PROCESSING_FAILURE),
            (CT, "1.2.3.99", NO_SUCH_OBJECT),
            (MR, "1.2.3.2", CLASS_INSTANCE_CONFLICT),
        }
        t = _delivered(service, asked["ID"])
        assert t.result is not None and t.result.event_type_id == 2
    finally:
        scp.shutdown(5)
        service.close()


def test_storecore_scu_listens_for_orthancs_report(tmp_path: Path, orthanc: Orthanc) -> None:
    """With a report address the SCU takes Orthanc's report itself (no pynetdicom)."""
    files = _instances(tmp_path / "in", 21, 22)
    scu = StorageSCU("STORECORE_SCU")
    outcomes = scu.send(files, "127.0.0.1", orthanc.dicom_port, "ORTHANC")
    assert all(o.ok for o in outcomes), outcomes
    refs = [*outcomes, Reference(CT, "1.2.3.98")]
    result = scu.commit(
        refs,
        "127.0.0.1",
        orthanc.dicom_port,
        "ORTHANC",
        timeout=30,
        report_address=("127.0.0.1", orthanc.listener_port),
    )
    assert result.state == "failed" and result.result is not None, result
    assert {r.sop_instance_uid for r in result.result.committed} == {"1.2.3.21", "1.2.3.22"}
    assert [(r.sop_instance_uid, r.failure_reason) for r in result.result.failed] == [
        ("1.2.3.98", NO_SUCH_OBJECT)
    ]

"""Peers with roles and [limits], through `storecore serve` and real peers over loopback.

One server declares four peers: CT1 may store and echo, ECHOER may only echo,
RIS may request Storage Commitment (its reports go to the address the peers
table gives), and B is only a forwarding destination named by AE title in a
[[forward]] rule. dcmtk's storescu/echoscu and storecore's SCU play the callers;
pynetdicom plays RIS; an in-process StorageSCP plays B. A second server runs
with [limits]: one association at a time, a short ACSE timeout and a 1 KiB
element length.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pydicom
import pytest

from storecore.errors import StorecoreError
from storecore.scp import StorageSCP
from storecore.scu import StorageSCU
from storecore.storage import DirectorySink

from ..unit.storage.helpers import write_instance
from .conftest import dcmtk, dcmtk_env, free_port, start_serve

CLI = [sys.executable, "-m", "storecore.cli"]


def _serve(config: Path, tmp: Path) -> tuple[subprocess.Popen[str], int]:
    return start_serve(config, tmp / "archive")


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    return err


def _stored(tmp: Path) -> list[str]:
    objects = tmp / "archive" / "objects"
    return sorted(p.name for p in objects.rglob("*") if p.is_file()) if objects.exists() else []


def _wait(condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


@dataclass
class Node:
    port: int
    tmp: Path
    b_dir: Path
    ris_port: int


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    tmp = tmp_path_factory.mktemp("peers")
    b_dir = tmp / "b"
    b = StorageSCP(DirectorySink(b_dir), host="127.0.0.1", port=0, ae_title="B").start()
    ris_port = free_port()
    config = tmp / "storecore.toml"
    config.write_text(
        "[storage]\nmin_free_bytes = 0\n"
        "[peers.ae.CT1]\nroles = ['store', 'echo']\n"
        "[peers.ae.ECHOER]\nroles = ['echo']\n"
        f"[peers.ae.RIS]\nroles = ['store', 'commit']\nhost = '127.0.0.1'\nport = {ris_port}\n"
        f"[peers.ae.B]\nroles = ['destination']\nhost = '127.0.0.1'\nport = {b.address[1]}\n"
        "[[forward]]\nname = 'to-b'\ndestination = 'B'\n"
    )
    proc, port = _serve(config, tmp)
    try:
        yield Node(port, tmp, b_dir, ris_port)
    finally:
        err = _stop(proc)
        b.shutdown(5)
        print(err)


def _storescu(node: Node, calling: str, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [dcmtk("storescu"), "-aet", calling, "-aec", "STORECORE", "127.0.0.1", str(node.port),
         str(path)],
        capture_output=True, text=True, env=dcmtk_env(), timeout=60,
    )  # fmt: skip


def test_a_peer_without_the_store_role_cannot_store(node: Node) -> None:
    src = write_instance(node.tmp / "in-echoer", sop_instance_uid="1.2.826.0.1.9.1")
    run = _storescu(node, "ECHOER", src)
    assert run.returncode != 0
    # dcmtk: the CT context came back rejected, so it has nothing to send it on
    assert "No Acceptable Presentation Contexts" in run.stdout + run.stderr, run.stderr
    # storecore's SCU sees the same refusal, as an outcome with no status
    [outcome] = StorageSCU(ae_title="ECHOER").send([src], "127.0.0.1", node.port, "STORECORE")
    assert outcome.status is None and not outcome.ok
    assert "1.2.826.0.1.9.1.dcm" not in " ".join(_stored(node.tmp))
    # its echo role still works
    echo = subprocess.run(
        [dcmtk("echoscu"), "-aet", "ECHOER", "-aec", "STORECORE", "127.0.0.1", str(node.port)],
        capture_output=True, text=True, env=dcmtk_env(), timeout=60,
    )  # fmt: skip
    assert echo.returncode == 0, echo.stderr


def test_a_peer_with_the_store_role_stores_and_it_is_forwarded_to_the_destination_peer(
    node: Node,
) -> None:
    src = write_instance(node.tmp / "in-ct1", sop_instance_uid="1.2.826.0.1.9.2")
    run = _storescu(node, "CT1", src)
    assert run.returncode == 0, run.stderr
    _wait(lambda: any("1.2.826.0.1.9.2" in p for p in _stored(node.tmp)))
    # the [[forward]] rule named B by AE title: it went to the peers table's host:port
    _wait(lambda: node.b_dir.exists() and any(node.b_dir.rglob("*.dcm")))
    [got] = list(node.b_dir.rglob("*.dcm"))
    assert pydicom.dcmread(got).SOPInstanceUID == "1.2.826.0.1.9.2"


def test_an_unknown_caller_is_rejected(node: Node) -> None:
    src = write_instance(node.tmp / "in-x", sop_instance_uid="1.2.826.0.1.9.3")
    run = _storescu(node, "STRANGER", src)
    assert run.returncode != 0
    text = run.stdout + run.stderr
    assert "Calling AE Title Not Recognized" in text, text


def test_a_peer_without_the_commit_role_cannot_request_commitment(node: Node) -> None:
    from storecore.commitment import Reference

    ref = [Reference("1.2.840.10008.5.1.4.1.1.2", "1.2.826.0.1.9.2")]
    # CT1 has no commit role: its N-ACTION has no accepted context to go on
    with pytest.raises(StorecoreError, match="did not accept Storage Commitment Push Model"):
        StorageSCU(ae_title="CT1").commit(ref, "127.0.0.1", node.port, "STORECORE", timeout=20)


def test_a_commitment_report_goes_to_the_peers_table_address(node: Node) -> None:
    """RIS requests commitment and leaves; the report goes to RIS's host:port."""
    from pynetdicom import AE, evt
    from pynetdicom.sop_class import StorageCommitmentPushModel

    src = write_instance(node.tmp / "in-ris", sop_instance_uid="1.2.826.0.1.9.4")
    assert StorageSCU(ae_title="RIS").send([src], "127.0.0.1", node.port, "STORECORE")[0].ok
    got = threading.Event()
    reports: list[tuple[str, int]] = []

    def on_report(event: object) -> tuple[int, None]:
        info = event.event_information  # type: ignore[attr-defined]
        reports.append((info.TransactionUID, len(info.ReferencedSOPSequence)))
        got.set()
        return 0x0000, None

    listener = AE(ae_title="RIS")
    listener.add_supported_context(StorageCommitmentPushModel, scu_role=True, scp_role=True)
    server = listener.start_server(
        ("127.0.0.1", node.ris_port), block=False,
        evt_handlers=[(evt.EVT_N_EVENT_REPORT, on_report)],
    )  # fmt: skip
    try:
        requester = AE(ae_title="RIS")
        requester.add_requested_context(StorageCommitmentPushModel)
        assoc = requester.associate("127.0.0.1", node.port, ae_title="STORECORE")
        assert assoc.is_established
        ds = pydicom.Dataset()
        ds.TransactionUID = "2.25.4242"
        item = pydicom.Dataset()
        item.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
        item.ReferencedSOPInstanceUID = "1.2.826.0.1.9.4"
        ds.ReferencedSOPSequence = [item]
        status, _ = assoc.send_n_action(ds, 1, StorageCommitmentPushModel, "1.2.840.10008.1.20.1.1")
        assert status.Status == 0x0000
        assoc.abort()  # gone before the report: it must take a new association
        assert got.wait(60), "no report at the peers table's address"
        assert reports == [("2.25.4242", 1)]
    finally:
        server.shutdown()


# ---------------------------------------------------------------- [limits]


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    tmp = tmp_path_factory.mktemp("limits")
    config = tmp / "storecore.toml"
    config.write_text(
        "[storage]\nmin_free_bytes = 0\n"
        "[limits]\nmax_associations = 1\nacse_timeout = 1\nmax_element_length = 1024\n"
    )
    proc, port = _serve(config, tmp)
    try:
        yield port, tmp
    finally:
        print(_stop(proc))


def test_max_associations_rejects_one_more_as_transient(limited: tuple[int, Path]) -> None:
    from pynetdicom import AE
    from pynetdicom.sop_class import Verification

    port, _ = limited
    ae = AE(ae_title="HOLDER")
    ae.add_requested_context(Verification)
    first = ae.associate("127.0.0.1", port, ae_title="STORECORE")
    assert first.is_established
    try:
        echo = subprocess.run(
            [dcmtk("echoscu"), "-aet", "SECOND", "-aec", "STORECORE", "127.0.0.1", str(port)],
            capture_output=True, text=True, env=dcmtk_env(), timeout=60,
        )  # fmt: skip
        text = echo.stdout + echo.stderr
        assert echo.returncode != 0
        assert "Result: Rejected Transient, Source: Service Provider (Presentation" in text
        assert "Reason: Local Limit Exceeded" in text, text
    finally:
        first.release()
    # the slot is free again once the first association ended (its thread may still be
    # finishing when release() returns: a transient rejection until then)

    def echoes() -> bool:
        try:
            return StorageSCU(ae_title="THIRD").echo("127.0.0.1", port, "STORECORE") == 0
        except StorecoreError:
            return False

    _wait(echoes, 30)


def test_acse_timeout_closes_a_silent_connection(limited: tuple[int, Path]) -> None:
    port, _ = limited
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.settimeout(20)  # the default ARTIM (30 s) would not close it by then
        assert sock.recv(1) == b""


def test_max_element_length_refuses_a_larger_element(limited: tuple[int, Path]) -> None:
    port, tmp = limited
    small = write_instance(tmp / "in", sop_instance_uid="1.2.826.0.1.9.5", pixels=b"\0\1" * 64)
    large = write_instance(tmp / "in", sop_instance_uid="1.2.826.0.1.9.6", pixels=b"\0\1" * 1024)
    ok, refused = StorageSCU(ae_title="ANY").send([small, large], "127.0.0.1", port, "STORECORE")
    assert ok.status == 0x0000
    assert refused.status == 0xC000, refused
    assert refused.comment and "(7FE0,0010)" in refused.comment.upper(), refused.comment
    stored = " ".join(_stored(tmp))
    assert "1.2.826.0.1.9.5" in stored and "1.2.826.0.1.9.6" not in stored


def test_network_timeout_bounds_the_connect_to_a_forwarding_destination(tmp_path: Path) -> None:
    """[limits] network_timeout reaches the associations serve opens itself.

    The destination is a listener whose accept queue is full, so a new
    connection's SYNs are dropped and ``connect`` waits: with network_timeout
    = 0.5 the forwarding job is put back for a retry with "timed out" as its
    error (with the default 30 s it would still be connecting). The log line
    of the failed send is checked too.
    """
    stuck = socket.socket()
    stuck.bind(("127.0.0.1", 0))
    stuck.listen(0)
    host, port = stuck.getsockname()
    held = []
    for _ in range(4):  # fill the accept queue (backlog 0 admits one) and the SYN queue
        s = socket.socket()
        s.setblocking(False)
        with contextlib.suppress(BlockingIOError):  # connecting in the background
            s.connect((host, port))
        held.append(s)
    config = tmp_path / "storecore.toml"
    config.write_text(
        "[limits]\nnetwork_timeout = 0.5\n"
        f"[[forward]]\nname = 'stuck'\ndestination = 'STUCK@{host}:{port}'\n"
    )
    proc, scp_port = _serve(config, tmp_path)
    try:
        path = write_instance(tmp_path / "in", sop_instance_uid="1.2.826.0.1.9.71")
        [outcome] = StorageSCU("SENDER").send([path], "127.0.0.1", scp_port, "STORECORE")
        assert outcome.status == 0x0000

        def queue() -> str:
            return subprocess.run(
                [*CLI, "archive", "queue", "--storage", str(tmp_path / "archive")],
                capture_output=True, text=True, check=True,
            ).stdout  # fmt: skip

        _wait(lambda: "timed out" in queue(), timeout=20)
        assert "pending" in queue()
    finally:
        err = _stop(proc)
        stuck.close()
        for s in held:
            s.close()
    assert f"forward stuck: 1 instances not sent: cannot connect to {host}:{port}: timed out" in err

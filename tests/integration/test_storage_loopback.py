"""End to end over loopback: storecore, dcmtk and pynetdicom in both roles."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pydicom
import pytest

from storecore.dataset import read_file_meta, summarize_file
from storecore.scp import StorageSCP
from storecore.scu import AssociationRejected, StorageSCU

from .conftest import corpus_files, dcmtk, dcmtk_env, free_port, leftovers


def dataset_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    return data[read_file_meta(data).dataset_offset :]


def test_storecore_scu_to_storecore_scp_keeps_every_byte(scp: StorageSCP, store_dir: Path) -> None:
    host, port = scp.address
    scu = StorageSCU()
    assert scu.echo(host, port, "STORECORE") == 0
    files = corpus_files()
    outcomes = scu.send(files, host, port, "STORECORE")
    assert len(outcomes) == len(files)
    stored = [o for o in outcomes if o.ok]
    assert len(stored) > 40
    # some test files share a SOP Instance UID: the last one sent is the one kept
    last = {o.sop_instance_uid: o for o in stored}
    for outcome in last.values():
        assert outcome.transcode is None  # sent in its own syntax
        received = store_dir / f"{outcome.sop_instance_uid}.dcm"
        assert dataset_bytes(received) == dataset_bytes(outcome.path), outcome.path.name
        meta = read_file_meta(received.read_bytes())
        assert meta.transfer_syntax_uid == outcome.transfer_syntax_uid
        assert meta.source_application_entity_title == "STORECORE_SCU"
    # every refusal says why; nothing partial is left
    for outcome in outcomes:
        if not outcome.ok:
            assert outcome.comment, outcome
            assert outcome.status in (None, 0xA900, 0xC000), outcome
    assert leftovers(store_dir) == []


def test_dataset_not_matching_the_command_is_refused_with_a900(
    scp: StorageSCP, store_dir: Path, tmp_path: Path
) -> None:
    ds = pydicom.dcmread(pydicom.data.get_testdata_file("CT_small.dcm"))
    ds.file_meta.MediaStorageSOPInstanceUID = "1.2.3.4.5"  # meta and dataset differ
    path = tmp_path / "mismatch.dcm"
    ds.save_as(path)
    host, port = scp.address
    # dcmtk's storescu sends the dataset's own UIDs; build the mismatch ourselves:
    scu = StorageSCU()
    offset = read_file_meta(path.read_bytes()).dataset_offset
    scu._inspect = lambda p: __import__("storecore.scu", fromlist=["_File"])._File(  # type: ignore[method-assign]
        p, ds.SOPClassUID, "1.2.3.4.5", ds.file_meta.TransferSyntaxUID, offset
    )
    (outcome,) = scu.send([path], host, port, "STORECORE")
    assert outcome.status == 0xA900
    assert "SOP Instance UID in data set is" in (outcome.comment or "")
    assert not any(store_dir.iterdir())


def test_dcmtk_storescu_and_echoscu_to_storecore(scp: StorageSCP, store_dir: Path) -> None:
    host, port = scp.address
    echo = subprocess.run(
        [dcmtk("echoscu"), "-aec", "STORECORE", host, str(port)],
        env=dcmtk_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert echo.returncode == 0, echo.stderr
    files = [
        f
        for f in corpus_files()
        if f.name
        in ("CT_small.dcm", "MR_small.dcm", "JPEG2000.dcm", "MR_small_bigendian.dcm", "rtplan.dcm")
    ]
    run = subprocess.run(
        # -xw: also propose JPEG 2000, so that JPEG2000.dcm goes as it is
        [dcmtk("storescu"), "-xw", "-aec", "STORECORE", host, str(port), *map(str, files)],
        env=dcmtk_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    for f in files:
        s = summarize_file(f)
        received = store_dir / f"{s.sop_instance_uid}.dcm"
        assert received.exists(), f.name
        a, b = pydicom.dcmread(f), pydicom.dcmread(received)
        assert b.SOPInstanceUID == a.SOPInstanceUID
        if not a.file_meta.TransferSyntaxUID.is_compressed:
            # dcmtk's storescu proposes Explicit VR LE first for any native file
            if "PixelData" in a:
                assert (a.pixel_array == b.pixel_array).all()
            # dcmtk drops Data Set Trailing Padding (FFFC,FFFC) when it re-encodes
            assert set(a.dir()) - {"DataSetTrailingPadding"} == set(b.dir())
            continue
        # the SCP takes the proposer's first syntax: a compressed file travels as it is
        assert b.file_meta.TransferSyntaxUID == a.file_meta.TransferSyntaxUID
        assert b.PixelData == a.PixelData


@contextmanager
def dcmtk_storescp(out: Path, *options: str) -> Iterator[int]:
    """dcmtk's storescp writing into `out`, answering C-ECHO; yields its port."""
    out.mkdir()
    port = free_port()
    proc = subprocess.Popen(
        [dcmtk("storescp"), "-aet", "DCMTK", "-od", str(out), *options, str(port)],
        env=dcmtk_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(100):  # until it listens
            try:
                StorageSCU().echo("127.0.0.1", port, "DCMTK")
                break
            except AssociationRejected:
                threading.Event().wait(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


def test_storecore_scu_to_dcmtk_storescp(tmp_path: Path) -> None:
    out = tmp_path / "dcmtk"
    files = [
        f
        for f in corpus_files()
        if f.name in ("CT_small.dcm", "MR_small.dcm", "JPEG2000.dcm", "rtplan.dcm")
    ]
    with dcmtk_storescp(out, "--accept-all") as port:
        outcomes = StorageSCU().send(files, "127.0.0.1", port, "DCMTK")
    assert [o.status for o in outcomes] == [0] * len(files), outcomes
    received = list(out.iterdir())
    assert len(received) == len(files)
    by_uid = {pydicom.dcmread(p).SOPInstanceUID: p for p in received}
    for f in files:
        a = pydicom.dcmread(f)
        b = pydicom.dcmread(by_uid[a.SOPInstanceUID])
        assert b.get("PixelData") == a.get("PixelData")


def test_native_transcoding_when_the_peer_refuses_the_file_syntax(tmp_path: Path) -> None:
    """dcmtk's storescp accepting only Implicit VR LE: an Explicit VR BE file is rewritten,
    a JPEG 2000 (lossless) file decoded through the transcoding matrix, the UIDs kept."""
    out = tmp_path / "dcmtk"
    src = Path(pydicom.data.get_testdata_file("MR_small_bigendian.dcm"))
    jpeg = Path(pydicom.data.get_testdata_file("MR_small_jp2klossless.dcm"))
    with dcmtk_storescp(out, "+xi") as port:
        big, compressed = StorageSCU().send([src, jpeg], "127.0.0.1", port, "DCMTK")
    assert big.status == 0 and big.transcode is not None
    assert big.transfer_syntax_uid == "1.2.840.10008.1.2"
    assert big.transcode.path.value == "SUPPORTED"
    assert compressed.status == 0, compressed.comment
    assert compressed.transcode is not None and compressed.transcode.path.value == "SUPPORTED"
    assert compressed.transcode.source_ts == "1.2.840.10008.1.2.4.90"
    assert compressed.transfer_syntax_uid == "1.2.840.10008.1.2"
    received = {pydicom.dcmread(p).SOPInstanceUID: pydicom.dcmread(p) for p in out.iterdir()}
    for path in (src, jpeg):
        a = pydicom.dcmread(path)
        b = received[a.SOPInstanceUID]  # the UID is kept: lossless
        assert b.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2"
        assert (a.pixel_array == b.pixel_array).all()


def test_pynetdicom_scu_to_storecore(scp: StorageSCP, store_dir: Path) -> None:
    from pynetdicom import AE, StoragePresentationContexts

    host, port = scp.address
    ae = AE(ae_title="PYNETDICOM")
    ae.requested_contexts = StoragePresentationContexts[:120]
    assoc = ae.associate(host, port, ae_title="STORECORE")
    assert assoc.is_established
    ds = pydicom.dcmread(pydicom.data.get_testdata_file("CT_small.dcm"))
    status = assoc.send_c_store(ds)
    assoc.release()
    assert status.Status == 0
    assert pydicom.dcmread(store_dir / f"{ds.SOPInstanceUID}.dcm").PixelData == ds.PixelData


def test_storecore_scu_to_pynetdicom_scp(tmp_path: Path) -> None:
    from pynetdicom import AE, AllStoragePresentationContexts, evt

    received: list[pydicom.Dataset] = []

    def on_store(event: evt.Event) -> int:
        received.append(event.dataset)
        return 0x0000

    ae = AE(ae_title="PYNETDICOM")
    ae.supported_contexts = AllStoragePresentationContexts
    ae.add_supported_context("1.2.840.10008.1.1")
    server = ae.start_server(
        ("127.0.0.1", 0), block=False, evt_handlers=[(evt.EVT_C_STORE, on_store)]
    )
    try:
        port = server.server_address[1]
        scu = StorageSCU()
        assert scu.echo("127.0.0.1", port, "PYNETDICOM") == 0
        src = Path(pydicom.data.get_testdata_file("CT_small.dcm"))
        (outcome,) = scu.send([src], "127.0.0.1", port, "PYNETDICOM")
    finally:
        server.shutdown()
    assert outcome.status == 0
    assert received[0].PixelData == pydicom.dcmread(src).PixelData


def test_several_associations_in_parallel(scp: StorageSCP, store_dir: Path) -> None:
    host, port = scp.address
    files = [f for f in corpus_files() if summarize_safe(f)]
    outcomes = StorageSCU().send(files, host, port, "STORECORE", associations=4)
    assert scp.associations == 4
    assert [o.path for o in outcomes] == files  # one outcome per file, in order
    ok = [o for o in outcomes if o.ok]
    assert len(ok) > 40
    for o in ok:
        assert (store_dir / f"{o.sop_instance_uid}.dcm").exists()
    assert leftovers(store_dir) == []


def summarize_safe(path: Path) -> bool:
    try:
        s = summarize_file(path)
    except Exception:
        return False
    return bool(s.sop_class_uid and s.sop_instance_uid)


def test_association_refused_for_a_wrong_called_title(scp: StorageSCP) -> None:
    host, port = scp.address
    with pytest.raises(AssociationRejected, match="rejected"):
        StorageSCU().echo(host, port, "SOMEONE_ELSE")


def test_nothing_listens() -> None:
    with pytest.raises(AssociationRejected, match="cannot connect"):
        StorageSCU().echo("127.0.0.1", free_port(), "X")


def test_the_command_line_receive_echo_and_send(tmp_path: Path) -> None:
    import sys

    port = free_port()
    received = tmp_path / "in"
    cli = [sys.executable, "-m", "storecore.cli"]
    server = subprocess.Popen(
        [*cli, "receive", "--host", "127.0.0.1", "--port", str(port), "--dir", str(received)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert "listening" in server.stdout.readline()
        echo = subprocess.run(
            [*cli, "echo", "127.0.0.1", str(port), "--aec", "STORECORE"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert echo.returncode == 0, echo.stderr
        files = [str(f) for f in corpus_files() if f.name in ("CT_small.dcm", "MR_small.dcm")]
        send = subprocess.run(
            [*cli, "send", "127.0.0.1", str(port), "--aec", "STORECORE", *files],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert send.returncode == 0, send.stderr
        assert send.stdout.count(": 0x0000") == 2
        bad = subprocess.run(
            [*cli, "send", "127.0.0.1", str(port), "--aec", "NOBODY", *files],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert bad.returncode == 1 and "rejected" in bad.stderr
    finally:
        server.terminate()
        out, err = server.communicate(timeout=30)
    assert server.returncode == 0, err
    assert "stopping" in out
    assert len(list(received.glob("*.dcm"))) == 2

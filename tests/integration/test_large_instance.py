"""A 1 GiB instance through the SCP in another process: memory stays flat."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import pytest

from storecore.dataset import encode_file_meta, read_file_meta
from storecore.scu import StorageSCU

SC = "1.2.840.10008.5.1.4.1.1.7"  # Secondary Capture Image Storage
UID = "1.2.826.0.1.3680043.9.7133.99.1"
SIZE = 1 << 30

RUNNER = """
import signal, sys
from storecore.scp import StorageSCP
from storecore.storage import DirectorySink
scp = StorageSCP(DirectorySink(sys.argv[1]), host="127.0.0.1", port=0, ae_title="STORECORE")
signal.signal(signal.SIGTERM, lambda *a: scp.server._stopping.set() or scp.server._listener.close())
print(scp.address[1], flush=True)
scp.serve_forever()
"""


def element(group: int, elem: int, vr: bytes, value: bytes) -> bytes:
    if vr in (b"OB", b"OW", b"UN"):
        return struct.pack("<HH2sHI", group, elem, vr, 0, len(value)) + value
    return struct.pack("<HH2sH", group, elem, vr, len(value)) + value


def make_file(path: Path) -> None:
    header = b"".join(
        [
            element(0x0008, 0x0016, b"UI", SC.encode() + b"\x00"),
            element(0x0008, 0x0018, b"UI", UID.encode() + b"\x00"),
            element(0x0028, 0x0002, b"US", struct.pack("<H", 1)),
            element(0x0028, 0x0004, b"CS", b"MONOCHROME2 "),
            element(0x0028, 0x0008, b"IS", b"1024"),
            element(0x0028, 0x0010, b"US", struct.pack("<H", 512)),
            element(0x0028, 0x0011, b"US", struct.pack("<H", 1024)),
            element(0x0028, 0x0100, b"US", struct.pack("<H", 16)),
        ]
    )
    pixel_header = struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OW", 0, SIZE)
    with open(path, "wb") as f:
        f.write(encode_file_meta(SC, UID, "1.2.840.10008.1.2.1"))
        f.write(header + pixel_header)
        f.truncate(f.tell() + SIZE)  # sparse: zeros, read back at page-cache speed


def peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def test_one_gib_instance_with_flat_memory(tmp_path: Path) -> None:
    source = tmp_path / "big.dcm"
    make_file(source)
    received = tmp_path / "received"
    received.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-c", RUNNER, str(received)], stdout=subprocess.PIPE, text=True
    )
    try:
        port = int(proc.stdout.readline())
        (outcome,) = StorageSCU().send([source], "127.0.0.1", port, "STORECORE")
        rss_mib = peak_rss_kib(proc.pid) / 1024
    finally:
        proc.terminate()
        proc.wait(30)
    print(f"\nSCP peak RSS while receiving a 1 GiB instance: {rss_mib:.0f} MiB")
    assert outcome.status == 0, outcome
    stored = received / f"{UID}.dcm"
    assert stored.stat().st_size - read_file_meta(stored.read_bytes()[:4096]).dataset_offset == (
        source.stat().st_size - read_file_meta(source.read_bytes()[:4096]).dataset_offset
    )
    # flat: the receive buffer and a few file buffers, not the dataset
    assert rss_mib < 150, f"the SCP's peak RSS was {rss_mib:.0f} MiB"


@pytest.fixture(autouse=True)
def _enough_disk(tmp_path: Path) -> None:
    import shutil

    free = shutil.disk_usage(tmp_path).free
    if free < 3 * SIZE:
        pytest.fail(f"this test needs 3 GiB free in {tmp_path}, there are {free >> 20} MiB")

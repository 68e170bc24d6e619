"""What the disk under the benchmark's folder allows: the floors a durable archive is held to.

Used by ``network.py`` (in the same run and the same rotation as the archive
pairs) and checked quickly by ``test_bench_archive.py``:

``dd``
    Sequential write bandwidth with one fdatasync at the end:
    ``dd if=/dev/zero of=F bs=1M count=1024 conv=fdatasync`` in the folder
    (ANCHORS.md: 363 MB/s here). The bound for large instances made durable.
``create``
    Files per second of the loop every durable one-file-per-instance store
    runs: create a temp name, write 4 KB, fsync, close, rename to the final
    name (ANCHORS.md: 1,209/s). ``create+dirsync`` also fsyncs the folder after
    each rename, which makes the new name itself durable (905/s). The bound
    for small instances made durable, one at a time. ``create-instance`` is
    the same loop with files of the corpus's mean size: what one association
    adds per instance when each response waits for its instance's fsync.

``receive``
    The floor of any SCP that writes one file per instance, no fsync: the CPU
    (user + system) per instance of a bare receiver process that takes the
    corpus's instance size off a loopback TCP socket (``recv_into`` a 128 KiB
    buffer, TCP_NODELAY) and writes it into a new file (create, write, close,
    rename), then answers one byte; no DICOM at all. Sent by a second process
    that only ``sendall``s one buffer and waits for the byte. The CPU no
    one-file-per-instance receiver can go below on this kernel and filesystem,
    whatever its protocol code costs (network.py compares the SCP CPU targets
    with it).

The ``create`` and ``receive`` probes leave their files in a new folder
under the one given, for the caller to delete at the end: deleting them at
once would make the next creates on this machine's journal-less ext4 slower
(``_netpeers.settle`` says why).

The loops are Python, but per file they spend microseconds in the interpreter
against the milliseconds of the fsyncs (or the ~0.1-0.4 ms the kernel spends
copying and allocating 0.5 MB), so they measure the kernel and the device, not
Python.
"""

from __future__ import annotations

import os
import re
import resource
import socket
import subprocess
import tempfile
import time
from pathlib import Path

__all__ = ["NETWORK_PROBES", "PROBES", "create_rate", "dd_bandwidth", "receive_floor", "run_probe"]

#: probe name -> what its figure is
PROBES = {
    "dd": "MB/s, dd bs=1M count=1024 conv=fdatasync",
    "create": "files/s, create + write 4 KB + fsync + rename",
    "create+dirsync": "files/s, the same + fsync of the folder",
    "create-instance": "files/s, create + write one instance (the corpus's mean) + fsync + rename",
}
#: the network runs' probe (see ``receive`` above); its figure is per instance
NETWORK_PROBES = {
    "receive": "ms CPU per instance, a bare receiver: socket -> new file",
}

# "1073741824 bytes (1.1 GB, 1.0 GiB) copied, 2.9 s, 370 MB/s"
_DD = re.compile(r"^(\d+) bytes .* copied, ([0-9.eE+-]+) s,", re.MULTILINE)


def dd_bandwidth(folder: Path, mib: int = 1024) -> float:
    """MB/s (10^6 bytes) of dd writing `mib` MiB of zeros with one fdatasync, in `folder`."""
    target = folder / "dd.probe"
    try:
        done = subprocess.run(
            ["dd", "if=/dev/zero", f"of={target}", "bs=1M", f"count={mib}", "conv=fdatasync"],
            capture_output=True,
            text=True,
            env={**os.environ, "LC_ALL": "C"},  # dd's summary line, in the C locale's words
            check=True,
        )
    finally:
        target.unlink(missing_ok=True)
    m = _DD.search(done.stderr)
    if not m:
        raise RuntimeError(f"cannot read dd's summary: {done.stderr[-300:]!r}")
    return int(m.group(1)) / 1e6 / float(m.group(2))


def create_rate(
    folder: Path, files: int = 2000, size: int = 4096, dir_fsync: bool = False
) -> float:
    """Files/s: create, write `size` bytes, fsync, close, rename (and fsync the folder)."""
    work = Path(tempfile.mkdtemp(prefix="create.probe-", dir=folder))  # left to the caller
    payload = os.urandom(size)
    dfd = os.open(work, os.O_RDONLY | os.O_DIRECTORY)
    try:
        t0 = time.perf_counter()
        for i in range(files):
            tmp = os.path.join(work, f".tmp-{i}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                os.write(fd, payload)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.rename(tmp, os.path.join(work, f"{i}.dcm"))
            if dir_fsync:
                os.fsync(dfd)
        elapsed = time.perf_counter() - t0
    finally:
        os.close(dfd)
    return files / elapsed


def receive_floor(folder: Path, size: int, count: int = 1000) -> float:
    """ms of CPU per instance of a bare socket -> new file receiver (see ``receive``)."""
    work = Path(tempfile.mkdtemp(prefix="receive.probe-", dir=folder))  # left to the caller
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the receiver: measures itself, reports through the pipe
        code = 1
        try:
            os.close(r)
            conn, _ = listener.accept()
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            buf = memoryview(bytearray(131072))
            before = resource.getrusage(resource.RUSAGE_SELF)
            for i in range(count):
                tmp = os.path.join(work, f".tmp-{i}")
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
                left = size
                while left:
                    n = conn.recv_into(buf, min(left, len(buf)))
                    if not n:
                        raise ConnectionError("the sender closed early")
                    os.write(fd, buf[:n])
                    left -= n
                os.close(fd)
                os.rename(tmp, os.path.join(work, f"{i}.dcm"))
                conn.sendall(b"k")
            after = resource.getrusage(resource.RUSAGE_SELF)
            cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
            os.write(w, repr(cpu * 1e3 / count).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(w)
    listener.close()
    payload = os.urandom(size)
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(count):
            s.sendall(payload)
            if s.recv(1) != b"k":
                raise RuntimeError("the receive probe's receiver failed")
    with os.fdopen(r, "rb") as f:
        figure = f.read()
    _, status = os.waitpid(pid, 0)
    if status or not figure:
        raise RuntimeError("the receive probe's receiver failed")
    return float(figure)


def run_probe(
    name: str, folder: Path, *, dd_mib: int = 1024, files: int = 2000, size: int = 4096
) -> float:
    """The figure of one probe (see :data:`PROBES` and :data:`NETWORK_PROBES`).

    ``size`` is the instance size of the ``receive`` probe (the corpus's mean).
    """
    if name == "dd":
        return dd_bandwidth(folder, dd_mib)
    if name == "create":
        return create_rate(folder, files)
    if name == "create+dirsync":
        return create_rate(folder, files, dir_fsync=True)
    if name == "create-instance":
        return create_rate(folder, min(files, 1000), size=size)
    if name == "receive":
        return receive_floor(folder, size, min(files, 1000))
    raise ValueError(name)

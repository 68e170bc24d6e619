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
    for small instances made durable, one at a time.

The loop is Python, but per file it spends microseconds in the interpreter
against the milliseconds of the fsyncs, so it measures the kernel and the
device, not Python.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

__all__ = ["PROBES", "create_rate", "dd_bandwidth", "run_probe"]

#: probe name -> what its figure is
PROBES = {
    "dd": "MB/s, dd bs=1M count=1024 conv=fdatasync",
    "create": "files/s, create + write 4 KB + fsync + rename",
    "create+dirsync": "files/s, the same + fsync of the folder",
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
    work = folder / "create.probe"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
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
        shutil.rmtree(work, ignore_errors=True)
    return files / elapsed


def run_probe(name: str, folder: Path, *, dd_mib: int = 1024, files: int = 2000) -> float:
    """The figure of one probe (see :data:`PROBES`)."""
    if name == "dd":
        return dd_bandwidth(folder, dd_mib)
    if name == "create":
        return create_rate(folder, files)
    if name == "create+dirsync":
        return create_rate(folder, files, dir_fsync=True)
    raise ValueError(name)

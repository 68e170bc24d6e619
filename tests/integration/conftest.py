"""Loopback fixtures: a storecore SCP on a free port, dcmtk's tools, pynetdicom."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from storecore.scp import StorageSCP
from storecore.storage import DirectorySink

DCMTK = Path("/usr/bin")  # Debian's dcmtk; pyenv/pip shims named storescu are pynetdicom's


def dcmtk(tool: str) -> str:
    path = DCMTK / tool
    if not path.exists():
        pytest.fail(f"dcmtk's {tool} is missing: `tools/dev test` installs Debian's dcmtk")
    return str(path)


# storescu's proposal option for each syntax it can send as is (storescu --help)
STORESCU_PROPOSE = {
    "1.2.840.10008.1.2": "-xi",
    "1.2.840.10008.1.2.1": "-xe",
    "1.2.840.10008.1.2.2": "-xb",
    "1.2.840.10008.1.2.1.99": "-xd",
    "1.2.840.10008.1.2.4.50": "-xy",
    "1.2.840.10008.1.2.4.51": "-xx",
    "1.2.840.10008.1.2.4.70": "-xs",
    "1.2.840.10008.1.2.4.80": "-xt",
    "1.2.840.10008.1.2.4.81": "-xu",
    "1.2.840.10008.1.2.4.90": "-xv",
    "1.2.840.10008.1.2.4.91": "-xw",
    "1.2.840.10008.1.2.5": "-xr",
}


def dcmtk_env() -> dict[str, str]:
    # Debian's dcmtk leaves Nagle on unless told: ~50 ms stall per message
    return {**os.environ, "TCP_NODELAY": "1"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_listening(port: int, proc: subprocess.Popen[Any], timeout: float = 20) -> None:
    """Return once something accepts connections on loopback `port`.

    Fails (AssertionError, with what `proc` printed) if `proc` exits first, or
    when nothing listens after `timeout` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise AssertionError(
                f"exited ({proc.returncode}) before listening on {port}: {proc.communicate()}"
            )
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise AssertionError(f"nothing listens on {port} after {timeout:g} s") from None
            time.sleep(0.05)


@contextlib.contextmanager
def storescp(out: Path, ae_title: str = "STORESCP") -> Iterator[int]:
    """dcmtk's storescp writing into `out` on a free port, once it listens; yields the port."""
    out.mkdir(parents=True, exist_ok=True)
    port = free_port()
    proc = subprocess.Popen(
        [dcmtk("storescp"), "-aet", ae_title, "-od", str(out), str(port)],
        env=dcmtk_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_listening(port, proc, timeout=10)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


SERVE = [sys.executable, "-m", "storecore.cli", "serve"]


def start_serve(config: Path, storage: Path, *args: str) -> tuple[subprocess.Popen[str], int]:
    """`storecore serve --config C --storage S` on a free loopback port, once it listens.

    Returns the process (stdout and stderr piped, text) and its port; a server
    that does not say "listening" first is killed, and the test fails with its
    first line and its stderr.
    """
    port = free_port()
    proc = subprocess.Popen(
        [*SERVE, "--config", str(config), "--host", "127.0.0.1", "--port", str(port),
         "--storage", str(storage), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "listening" not in line:
        proc.kill()
        raise AssertionError(f"storecore serve did not start: {line}{proc.communicate()[1]}")
    return proc, port


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    return tmp_path / "received"


@pytest.fixture
def scp(store_dir: Path) -> Iterator[StorageSCP]:
    server = StorageSCP(DirectorySink(store_dir), host="127.0.0.1", port=0, ae_title="STORECORE")
    server.start()
    yield server
    server.shutdown(drain_timeout=5)


def leftovers(directory: Path) -> list[str]:
    """Partial files a sink left behind (temporary names start with a dot)."""
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


def corpus_files(limit: int | None = None) -> list[Path]:
    import pydicom

    root = Path(pydicom.__file__).parent / "data" / "test_files"
    files = sorted(root.glob("*.dcm"))
    return files[:limit] if limit else files


def copy_tree(files: list[Path], dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for f in files:
        shutil.copy(f, dest / f.name)
    return dest

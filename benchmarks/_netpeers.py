"""The senders and receivers of the network benchmark, and one measured transfer.

Shared by ``network.py`` (the side-by-side table) and ``test_bench_network.py``
(the pytest version). Every receiver and every sender is a process of its own:

receivers (Storage SCPs writing one file per instance, no fsync)
    ``storecore``: ``_scp_runner.py`` (``StorageSCP(DirectorySink(dir))``);
    ``dcmtk``: Debian's ``/usr/bin/storescp -od DIR`` (no ``--fork``);
    ``pynetdicom``: pynetdicom's bundled app, ``python -m pynetdicom storescp
    -od DIR`` (``event.dataset`` + ``event.file_meta``, ``save_as``).
senders (one association for the whole corpus)
    ``storecore`` and ``pynetdicom``: ``_scu_runner.py``; ``dcmtk``:
    ``/usr/bin/storescu`` with the files on its command line.

dcmtk always runs with ``TCP_NODELAY=1`` in its environment: without it dcmtk
leaves Nagle on and stalls ~50 ms per message (ANCHORS.md). The receiver's CPU
seconds (utime + stime of all its threads) are read from /proc/<pid>/stat just
after it listens and again once every instance has arrived, so its start-up
(interpreter, imports) is not counted; its peak RSS is VmHWM from
/proc/<pid>/status, start-up included.

Every transfer is checked: the receiver must hold exactly the corpus's SOP
Instance UIDs (read from its file names); a sample of the received files must
read back with pydicom equal to the source's dataset, and for storecore's SCP,
which stores datasets as received, the sample's dataset bytes must equal the
source file's.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pydicom

import storecore
from _netcorpus import NetCorpus, dataset_bytes

__all__ = [
    "DCMTK_MISSING",
    "PAIRS",
    "RECEIVERS",
    "SENDERS",
    "ReceiverProcess",
    "Transfer",
    "child_env",
    "dcmtk_missing",
    "dirty_mb",
    "received_files",
    "run_transfer",
    "settle",
    "verify",
    "warm",
]

HERE = Path(__file__).resolve().parent
STORESCU = "/usr/bin/storescu"
STORESCP = "/usr/bin/storescp"
DCMTK_MISSING = (
    f"dcmtk's storescu/storescp not found at {STORESCU} and {STORESCP}: "
    "`tools/dev test` installs it (apt-get install dcmtk); "
    "/root/.pyenv/shims/storescu is pynetdicom's app, not dcmtk's"
)

#: receiver -> the AE title it answers to
RECEIVERS = {"storecore": "STORECORE", "dcmtk": "STORESCP", "pynetdicom": "STORESCP"}
SENDERS = ("storecore", "dcmtk", "pynetdicom")

#: the pairs, numbered as in benchmarks/README.md: (sender, receiver)
PAIRS = {
    1: ("storecore", "storecore"),
    2: ("dcmtk", "storecore"),
    3: ("dcmtk", "dcmtk"),
    4: ("dcmtk", "pynetdicom"),
    5: ("pynetdicom", "pynetdicom"),
    6: ("storecore", "dcmtk"),
}

_CLK_TCK = os.sysconf("SC_CLK_TCK")
# storecore "<uid>.dcm"; dcmtk and pynetdicom "<modality prefix>.<uid>" (CT., SC., SCw.)
_NAME = re.compile(r"(?:[A-Za-z]+\.)?([0-9][0-9.]*[0-9]|[0-9])(?:\.dcm)?")


def dcmtk_missing() -> bool:
    return not (os.access(STORESCU, os.X_OK) and os.access(STORESCP, os.X_OK))


def child_env() -> dict[str, str]:
    # the storecore the caller imported (src/ or the installed package) for the children
    src = str(Path(storecore.__file__).resolve().parent.parent)
    path = os.environ.get("PYTHONPATH")
    return {
        **os.environ,
        "TCP_NODELAY": "1",  # dcmtk's switch; the Python processes ignore it
        "PYTHONPATH": src if not path else f"{src}{os.pathsep}{path}",
        "PYTHONUNBUFFERED": "1",
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_times(pid: int) -> tuple[float, float]:
    """(utime, stime) of the process (all its threads), from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / _CLK_TCK, int(fields[12]) / _CLK_TCK  # fields 14, 15 of proc(5)


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process (all its threads)."""
    return sum(cpu_times(pid))


def peak_rss_mb(pid: int) -> float:
    """VmHWM of the process, in MB (10^6 bytes)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024 / 1e6
    return 0.0


def _listening(port: int) -> bool:
    want = f":{port:04X}"
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                cols = line.split()
                if cols[1].endswith(want) and cols[3] == "0A":  # 0A: LISTEN
                    return True
    return False


def dirty_mb() -> float:
    """Dirty + Writeback page cache, system-wide, in MB (/proc/meminfo)."""
    total = 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith(("Dirty:", "Writeback:")):
                total += int(line.split()[1])
    return total * 1024 / 1e6


def settle(max_wait: float = 30.0, below_mb: float = 32.0) -> None:
    """Wait (up to `max_wait` s) until the page cache has little left to write back.

    A receiver that writes 0.5-0.8 GB leaves that much to write back; while
    it is written (ext4, data=ordered) creating a file costs ~1 ms of kernel
    CPU on this machine instead of ~0.05 ms, which would slow whichever pair
    runs next.
    """
    deadline = time.monotonic() + max_wait
    while dirty_mb() > below_mb and time.monotonic() < deadline:
        time.sleep(0.1)


def warm(corpus: NetCorpus) -> None:
    """Read every file of `corpus` once, so that the sender reads from the page cache.

    Needed right before each transfer on machines that reclaim idle page cache
    proactively (this one runs DAMON with a pageout scheme: file pages idle for
    a few seconds are dropped), else the senders would read from the disk by
    chance.
    """
    for path in corpus.files:
        with open(path, "rb", buffering=0) as fh:
            while fh.read(1 << 22):
                pass


def receiver_argv(receiver: str, out: Path, port: int, pdu: int) -> list[str]:
    ae = RECEIVERS[receiver]
    if receiver == "storecore":
        return [sys.executable, str(HERE / "_scp_runner.py"), str(out), str(port),
                "--pdu", str(pdu), "--ae", ae]  # fmt: skip
    if receiver == "dcmtk":
        return [STORESCP, "-aet", ae, "-pdu", str(pdu), "-od", str(out), str(port)]
    if receiver == "pynetdicom":
        return [sys.executable, "-m", "pynetdicom", "storescp", str(port), "-q",
                "-aet", ae, "-pdu", str(pdu), "-od", str(out), "-ba", "127.0.0.1"]  # fmt: skip
    raise ValueError(receiver)


def sender_argv(sender: str, receiver: str, port: int, files: Path, pdu: int) -> list[str]:
    ae = RECEIVERS[receiver]
    if sender == "dcmtk":
        paths = files.read_text().split()
        return [STORESCU, "-aet", "DCMTK_SCU", "-aec", ae, "-pdu", str(pdu),
                "127.0.0.1", str(port), *paths]  # fmt: skip
    return [sys.executable, str(HERE / "_scu_runner.py"), sender, "127.0.0.1", str(port), ae,
            str(files), "--pdu", str(pdu)]  # fmt: skip


@dataclass
class Transfer:
    """One measured transfer of a corpus from a sender to a receiver."""

    sender: str
    receiver: str
    corpus: str
    pdu: int
    instances: int
    nbytes: int
    wall: float = 0.0  # the transfer: the sender's own window (Python) or process (dcmtk)
    sender_process_wall: float = 0.0  # spawn to exit, start-up included
    sender_cpu: float = 0.0  # in the same window as `wall`
    sender_process_cpu: float = 0.0  # start-up included
    receiver_cpu: float = 0.0  # from listening to the last instance stored
    receiver_sys: float = 0.0  # of which in the kernel (stime)
    receiver_rss_mb: float = 0.0  # VmHWM, start-up included
    received: int = 0
    load: float = 0.0  # 1-minute load average at the end
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def pair(self) -> str:
        return f"{self.sender} → {self.receiver}"

    @property
    def per_second(self) -> float:
        return self.instances / self.wall if self.wall else 0.0

    @property
    def mb_per_second(self) -> float:
        return self.nbytes / 1e6 / self.wall if self.wall else 0.0

    @property
    def cpu_ms_per_instance(self) -> float:
        return self.receiver_cpu * 1e3 / max(self.instances, 1)

    def as_dict(self) -> dict[str, object]:
        return {k: v for k, v in vars(self).items()} | {
            "per_second": self.per_second,
            "mb_per_second": self.mb_per_second,
        }


def received_files(out: Path) -> tuple[dict[str, Path], list[str]]:
    """UID -> file of what a receiver stored, and the names that are not instances."""
    found: dict[str, Path] = {}
    other: list[str] = []
    with os.scandir(out) as it:
        for entry in it:
            m = _NAME.fullmatch(entry.name)
            if m and entry.is_file():
                found[m.group(1)] = Path(entry.path)
            else:
                other.append(entry.name)
    return found, other


def _sample(n: int, k: int) -> list[int]:
    return sorted({round(i * (n - 1) / max(k - 1, 1)) for i in range(min(n, k))})


def verify(t: Transfer, corpus: NetCorpus, out: Path, sample: int) -> None:
    """Append to ``t.problems`` what is wrong with what the receiver stored."""
    found, other = received_files(out)
    t.received = len(found)
    want = set(corpus.uids)
    missing = want - found.keys()
    if missing:
        t.problems.append(f"{len(missing)} of {len(want)} instances missing")
    if found.keys() - want:
        t.problems.append(f"{len(found.keys() - want)} unexpected instances")
    if other:
        t.problems.append(f"left in the folder: {sorted(other)[:3]}")
    for i in _sample(len(corpus), sample):
        uid, src = corpus.uids[i], corpus.files[i]
        if uid not in found:
            continue
        got = found[uid]
        if t.receiver == "storecore" and dataset_bytes(got) != dataset_bytes(src):
            t.problems.append(f"{got.name}: dataset bytes differ from {src.name}")
        a, b = pydicom.dcmread(src), pydicom.dcmread(got)
        if a != b or a.file_meta.TransferSyntaxUID != b.file_meta.TransferSyntaxUID:
            t.problems.append(f"{got.name}: reads back different from {src.name}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _tail(path: Path, n: int = 400) -> str:
    with contextlib.suppress(OSError):
        return path.read_text(errors="replace")[-n:].strip()
    return ""


class ReceiverProcess:
    """A receiver running in a process of its own, listening on a free port of 127.0.0.1.

    Use as a context manager: on entry the process is started and has
    listened; on exit it gets SIGTERM (SIGKILL 15 s later). ``cpu()`` and
    ``peak_rss_mb()`` read its /proc entries.
    """

    def __init__(self, receiver: str, out: Path, pdu: int = 131072, log: Path | None = None):
        self.receiver = receiver
        self.ae_title = RECEIVERS[receiver]
        self.out = out
        self.pdu = pdu
        self.log = log or out.parent / f"{receiver}-receiver.log"
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ReceiverProcess:
        self.out.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        argv = receiver_argv(self.receiver, self.out, self.port, self.pdu)
        with open(self.log, "wb") as fh:
            self.proc = subprocess.Popen(argv, stdout=fh, stderr=fh, env=child_env())
        deadline = time.monotonic() + 60
        while not _listening(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.receiver} receiver did not listen: {_tail(self.log)}")
            time.sleep(0.02)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def cpu_times(self) -> tuple[float, float]:
        return cpu_times(self.pid)

    def peak_rss_mb(self) -> float:
        return peak_rss_mb(self.pid)

    def stop(self) -> int | None:
        """SIGTERM, wait; the exit status (None if never started)."""
        if self.proc is None:
            return None
        _stop(self.proc)
        return self.proc.returncode

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def problems(self) -> list[str]:
        """What went wrong with the process itself (once stopped)."""
        code = self.proc.returncode if self.proc else None
        if code in (None, 0, -signal.SIGTERM):
            return []
        return [f"{self.receiver} exited {code}: {_tail(self.log)}"]


def run_transfer(
    sender: str,
    receiver: str,
    corpus: NetCorpus,
    workdir: Path,
    *,
    pdu: int = 131072,
    sample: int = 3,
    timeout: float = 900.0,
) -> Transfer:
    """Start `receiver`, send `corpus` with `sender`, measure, check, clean up.

    The receiver's output folder is deleted afterwards (its dirty pages need
    never reach the disk, so one run's writeback does not slow the next).
    """
    t = Transfer(sender, receiver, corpus.name, pdu, len(corpus), corpus.total_bytes)
    out = workdir / f"recv-{receiver}"
    shutil.rmtree(out, ignore_errors=True)
    listfile = workdir / "files.txt"
    listfile.write_text("\n".join(str(p) for p in corpus.files) + "\n")
    slog = workdir / "sender.log"
    rp = ReceiverProcess(receiver, out, pdu, workdir / "receiver.log")
    settle()
    try:
        with rp:
            warm(corpus)
            user0, sys0 = rp.cpu_times()
            argv = sender_argv(sender, receiver, rp.port, listfile, pdu)
            with open(slog, "wb") as efh:
                # only the sender is reaped in this window: its rusage is the children's delta
                ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
                t0 = time.perf_counter()
                sproc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=efh, env=child_env())
                try:
                    stdout, _ = sproc.communicate(timeout=timeout)
                except subprocess.TimeoutExpired:
                    sproc.kill()
                    stdout, _ = sproc.communicate()
                    t.problems.append(f"{sender} sender timed out after {timeout:.0f} s")
                t.sender_process_wall = time.perf_counter() - t0
                ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            t.sender_process_cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
            # every receiver answers a C-STORE only once its file is written; wait for
            # the last one all the same (a few ms at most)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and len(received_files(out)[0]) < len(corpus):
                time.sleep(0.01)
            user1, sys1 = rp.cpu_times()
            t.receiver_cpu, t.receiver_sys = (user1 - user0) + (sys1 - sys0), sys1 - sys0
            t.receiver_rss_mb = rp.peak_rss_mb()
            t.load = os.getloadavg()[0]
        t.problems += rp.problems()
        if sender == "dcmtk":
            t.wall, t.sender_cpu = t.sender_process_wall, t.sender_process_cpu
        else:
            try:
                report = json.loads(stdout.decode().strip().splitlines()[-1])
                t.wall, t.sender_cpu = report["wall"], report["cpu"]
                if report["ok"] != report["sent"]:
                    t.problems.append(
                        f"{report['sent'] - report['ok']} not stored: {report['failures']}"
                    )
            except (ValueError, IndexError, KeyError):
                t.problems.append(f"{sender} sender said nothing: {_tail(slog)}")
                t.wall = t.sender_process_wall
        if sproc.returncode:
            t.problems.append(f"{sender} sender exited {sproc.returncode}: {_tail(slog)}")
        if t.problems:
            t.problems.append(f"{receiver} receiver's log: {_tail(rp.log) or '(empty)'}")
        verify(t, corpus, out, sample)
    except RuntimeError as exc:  # the receiver did not start
        t.problems.append(str(exc))
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return t

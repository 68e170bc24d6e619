"""The senders and receivers of the network benchmark, and one measured transfer.

Shared by ``network.py`` (the side-by-side table) and ``test_bench_network.py``
(the pytest version). Every receiver and every sender is a process of its own:

receivers (Storage SCPs writing one file per instance, no fsync)
    ``storecore``: ``_scp_runner.py`` (``StorageSCP(DirectorySink(dir))``);
    ``dcmtk``: Debian's ``/usr/bin/storescp -od DIR`` (no ``--fork``);
    ``pynetdicom``: pynetdicom's bundled app, ``python -m pynetdicom storescp
    -od DIR`` (``event.dataset`` + ``event.file_meta``, ``save_as``).
archives (durable: an index, and Success only once stored as they promise)
    ``archive-fsync`` and ``archive-background``: the storecore archive as
    shipped, ``storecore serve --config F.toml --storage DIR --durability
    fsync|background`` (the TOML sets the Maximum Length and
    ``min_free_bytes = 0``; everything else is the default);
    ``orthanc``: Debian's ``Orthanc config.json`` (1.10: SQLite index,
    ``SyncStorageArea`` on, so each file is fsynced before Success), with
    ``MaximumPduLength`` set like the others' and the REST API on a second port
    for the checks.
senders (one association for the whole corpus, unless the pair says xN)
    ``storecore`` and ``pynetdicom``: ``_scu_runner.py`` (storecore xN:
    ``send(..., associations=N)``, the files dealt out round-robin);
    ``dcmtk``: ``/usr/bin/storescu`` with the files on its command line (xN:
    N storescu processes at once, each with every N-th file; the wall time
    runs from the first start to the last exit).

dcmtk always runs with ``TCP_NODELAY=1`` in its environment: without it dcmtk
leaves Nagle on and stalls ~50 ms per message (ANCHORS.md). The receiver's CPU
seconds (utime + stime of all its threads) are read from /proc/<pid>/stat just
after it listens and again once every instance has arrived, so its start-up
(interpreter, imports) is not counted; its peak RSS is VmHWM from
/proc/<pid>/status, start-up included.

Every transfer is checked: the receiver must hold exactly the corpus's SOP
Instance UIDs (read from its file names; for the storecore archive from its
SQLite index, for Orthanc from its REST API); a sample of the received files
must read back with pydicom equal to the source's dataset, and for storecore's
SCP and archive, which store datasets as received, the sample's dataset bytes
must equal the source file's. The storecore archive must also leave its spool
empty and, once stopped, every row marked synced (``background``: the flusher
and the final flush did their work).
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
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import pydicom

import storecore
from _netcorpus import NetCorpus, dataset_bytes

__all__ = [
    "ARCHIVES",
    "DCMTK_MISSING",
    "ORTHANC_MISSING",
    "PAIRS",
    "RECEIVERS",
    "SENDERS",
    "Pair",
    "ReceiverProcess",
    "Stored",
    "Transfer",
    "child_env",
    "dcmtk_missing",
    "dirty_mb",
    "orthanc_missing",
    "received_files",
    "run_senders",
    "run_transfer",
    "sender_argvs",
    "retire",
    "settle",
    "stored",
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
ORTHANC = "/usr/sbin/Orthanc"
ORTHANC_MISSING = (
    f"Orthanc not found at {ORTHANC}: apt-get install -y orthanc (Debian's 1.10; it is not "
    "part of tools/dev, so only network.py's archive pairs use it)"
)

#: receiver -> the AE title it answers to
RECEIVERS = {
    "storecore": "STORECORE",
    "discard": "STORECORE",
    "dcmtk": "STORESCP",
    "pynetdicom": "STORESCP",
    "archive-fsync": "STORECORE",
    "archive-background": "STORECORE",
    "orthanc": "ORTHANC",
}
#: the storecore archive's receivers -> their durability setting
ARCHIVES = {"archive-fsync": "fsync", "archive-background": "background"}
SENDERS = ("storecore", "dcmtk", "pynetdicom")


class Pair(NamedTuple):
    """A sender, a receiver, and how many associations the sender runs at once."""

    sender: str
    receiver: str
    associations: int = 1

    @property
    def label(self) -> str:
        n = f" x{self.associations}" if self.associations > 1 else ""
        return f"{self.sender}{n} → {self.receiver}"


#: the pairs, numbered as in benchmarks/README.md ("Network" 1-6 and 15, "Archive" 7-14)
PAIRS = {
    1: Pair("storecore", "storecore"),
    2: Pair("dcmtk", "storecore"),
    3: Pair("dcmtk", "dcmtk"),
    4: Pair("dcmtk", "pynetdicom"),
    5: Pair("pynetdicom", "pynetdicom"),
    6: Pair("storecore", "dcmtk"),
    7: Pair("dcmtk", "archive-fsync"),
    8: Pair("dcmtk", "archive-background"),
    9: Pair("dcmtk", "orthanc"),
    10: Pair("storecore", "archive-fsync"),
    11: Pair("storecore", "archive-background"),
    12: Pair("storecore", "orthanc"),
    13: Pair("dcmtk", "archive-fsync", 8),
    14: Pair("storecore", "archive-fsync", 8),
    # the ceiling for dcmtk's storescu: an SCP that receives and stores nothing
    15: Pair("dcmtk", "discard"),
    16: Pair("dcmtk", "discard", 8),
}

_CLK_TCK = os.sysconf("SC_CLK_TCK")
# storecore "<uid>.dcm"; dcmtk and pynetdicom "<modality prefix>.<uid>" (CT., SC., SCw.)
_NAME = re.compile(r"(?:[A-Za-z]+\.)?([0-9][0-9.]*[0-9]|[0-9])(?:\.dcm)?")


def dcmtk_missing() -> bool:
    return not (os.access(STORESCU, os.X_OK) and os.access(STORESCP, os.X_OK))


def orthanc_missing() -> bool:
    return not os.access(ORTHANC, os.X_OK)


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


def settle(workdir: Path | None = None, corpus_bytes: int = 0) -> None:
    """Bring the machine to the same state before every run: nothing to write back, memory free.

    Two artefacts of this machine (a Firecracker VM; ext4 on /dev/vda without a
    journal) made whichever run came next pay for the runs before it, and
    every receiver alike, which pulled every ratio towards 1:

    - A run's output deleted at once (as this harness did) leaves its inodes
      "recently deleted": ext4 without a journal will not reuse an inode
      freed in the last 60 s, 360 s while its inode table block is dirty
      (``RECENTCY_MIN``, ``RECENTCY_DIRTY`` in ext4's ialloc.c), and looks
      up every such inode of the group on each create (``recently_deleted``
      in ``find_inode_bit``). With 1,000 files just deleted a create cost
      ~0.2 ms of kernel CPU instead of ~5 us (``perf record``). So no output
      is deleted before the end of the benchmark (:func:`retire`); the check
      only reads inode table blocks still cached, so the drop below also
      ends it at once.
    - Page cache that grows into memory the guest has not touched lately
      costs a host fault per page: 0.5 MB written into a new file took
      ~1 ms of CPU, ~0.3 ms into memory the kernel had just freed. So the
      dirty pages of the last run are written (``sync``) and the page cache
      dropped (``/proc/sys/vm/drop_caches``, as root; otherwise only the
      sync), and every run writes into freed memory, as a long-running
      server does once its page cache is full and recycles.

    The corpus is read back into the page cache afterwards (:func:`warm`).
    A `workdir` with less free space than four times `corpus_bytes` plus
    2 GB has its retired outputs deleted, synced, then waits out the 60 s
    (without root the page cache cannot be dropped, and only time clears it).
    """
    if workdir is not None:
        _make_room(workdir, corpus_bytes)
    os.sync()
    with contextlib.suppress(OSError):
        Path("/proc/sys/vm/drop_caches").write_text("3\n")


#: where :func:`retire` keeps each run's output until the end (under the workdir)
RETIRED = "retired"
_RECENTLY_DELETED_S = 65  # ext4's window once the inode table is written back (60 s)


def retire(out: Path, workdir: Path) -> None:
    """Keep a run's output out of the way until the end of the benchmark (see :func:`settle`)."""
    if out.exists():
        kept = workdir / RETIRED
        kept.mkdir(exist_ok=True)
        out.rename(kept / f"{out.name}-{time.monotonic_ns()}")


def _make_room(workdir: Path, corpus_bytes: int) -> None:
    kept = workdir / RETIRED
    if not kept.exists() or shutil.disk_usage(workdir).free > 4 * corpus_bytes + 2e9:
        return
    print(f"low on space: deleting {kept} and waiting {_RECENTLY_DELETED_S} s (see settle)",
          file=sys.stderr, flush=True)  # fmt: skip
    shutil.rmtree(kept, ignore_errors=True)
    os.sync()  # the inode table blocks clean: the window is 60 s, not 360
    time.sleep(_RECENTLY_DELETED_S)


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


def _serve_config(out: Path, pdu: int) -> Path:
    """The TOML ``storecore serve`` reads: the Maximum Length, and no free-space floor.

    ``min_free_bytes = 0`` so that a small CI disk never refuses (0xA700); the
    check itself (one statvfs per instance) still runs.
    """
    path = out / "serve.toml"
    path.write_text(f"[server]\nmax_pdu_length = {pdu}\n\n[storage]\nmin_free_bytes = 0\n")
    return path


def _orthanc_config(out: Path, port: int, http_port: int, pdu: int) -> Path:
    """Orthanc's JSON configuration: its folders in `out`, no plug-ins, no checks of the caller."""
    config = {
        "Name": "storecore-bench",
        "StorageDirectory": str(out / "storage"),
        "IndexDirectory": str(out / "index"),
        "StorageCompression": False,
        "SyncStorageArea": True,  # the default, spelt out: fsync each file before Success
        "Plugins": [],
        "HttpServerEnabled": True,
        "HttpPort": http_port,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "DicomServerEnabled": True,
        "DicomAet": RECEIVERS["orthanc"],
        "DicomPort": port,
        "DicomCheckCalledAet": False,
        "DicomAlwaysAllowStore": True,
        "MaximumPduLength": pdu,
        "SaveJobs": False,
    }
    path = out / "orthanc.json"
    path.write_text(json.dumps(config, indent=1))
    return path


def receiver_argv(
    receiver: str, out: Path, port: int, pdu: int, *, http_port: int = 0
) -> list[str]:
    ae = RECEIVERS[receiver]
    if receiver in ("storecore", "discard"):
        return [sys.executable, str(HERE / "_scp_runner.py"), str(out), str(port),
                "--pdu", str(pdu), "--ae", ae,
                *(["--discard"] if receiver == "discard" else [])]  # fmt: skip
    if receiver == "dcmtk":
        return [STORESCP, "-aet", ae, "-pdu", str(pdu), "-od", str(out), str(port)]
    if receiver == "pynetdicom":
        return [sys.executable, "-m", "pynetdicom", "storescp", str(port), "-q",
                "-aet", ae, "-pdu", str(pdu), "-od", str(out), "-ba", "127.0.0.1"]  # fmt: skip
    if receiver in ARCHIVES:
        # `storecore serve` as installed (the console script is storecore.cli:main)
        return [sys.executable, "-m", "storecore.cli", "serve",
                "--config", str(_serve_config(out, pdu)), "--storage", str(out),
                "--host", "127.0.0.1", "--port", str(port), "--aet", ae,
                "--durability", ARCHIVES[receiver]]  # fmt: skip
    if receiver == "orthanc":
        return [ORTHANC, str(_orthanc_config(out, port, http_port, pdu))]
    raise ValueError(receiver)


def sender_argvs(
    sender: str, receiver: str, port: int, files: Path, pdu: int, associations: int = 1
) -> list[list[str]]:
    """The command lines of the sender's processes (dcmtk xN: N storescu, each every N-th file)."""
    ae = RECEIVERS[receiver]
    if sender == "dcmtk":
        paths = files.read_text().split()
        head = [STORESCU, "-aet", "DCMTK_SCU", "-aec", ae, "-pdu", str(pdu), "127.0.0.1"]
        shares = [paths[i::associations] for i in range(associations)]
        return [[*head, str(port), *share] for share in shares if share]
    return [[sys.executable, str(HERE / "_scu_runner.py"), sender, "127.0.0.1", str(port), ae,
             str(files), "--pdu", str(pdu), "--associations", str(associations)]]  # fmt: skip


def run_senders(
    argvs: list[list[str]], log: Path, timeout: float
) -> tuple[float, list[tuple[int, bytes]], list[str]]:
    """Start every sender process at once, wait for all.

    Returns the wall time from the first start to the last exit, each process's
    (exit status, stdout), and what went wrong (timeouts).
    """
    problems: list[str] = []
    with open(log, "wb") as efh:
        t0 = time.perf_counter()
        procs = [
            subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=efh, env=child_env())
            for argv in argvs
        ]
        outs: list[tuple[int, bytes]] = []
        for proc in procs:
            # one deadline for all; each process's stdout is small (one JSON line, or
            # nothing: dcmtk's storescu writes to stderr), so reading them in turn never
            # blocks a writer
            left = max(timeout - (time.perf_counter() - t0), 1.0)
            try:
                stdout, _ = proc.communicate(timeout=left)
            except subprocess.TimeoutExpired:
                proc.kill()
                stdout, _ = proc.communicate()
                problems.append(f"sender timed out after {timeout:.0f} s")
            outs.append((proc.returncode, stdout))
        wall = time.perf_counter() - t0
    return wall, outs, problems


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
    associations: int = 1

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def pair(self) -> str:
        return Pair(self.sender, self.receiver, self.associations).label

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


@dataclass
class Stored:
    """What a receiver holds: UID -> where, the names that are not instances, and a reader."""

    found: dict[str, str]  # UID -> the file (or Orthanc's instance ID)
    other: list[str]
    fetch: Callable[[str], Path]  # UID -> a local Part 10 file of it


def _archive_stored(out: Path) -> Stored:
    """The storecore archive's index, read as its own SQLite file (read-only, not via storecore)."""
    db = sqlite3.connect(f"file:{out / 'index.sqlite'}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT sop_instance_uid, blob_key, synced FROM instances").fetchall()
    finally:
        db.close()
    found = {uid: str(out / "objects" / key) for uid, key, _ in rows}
    other = [f"spool/{e.name}" for e in os.scandir(out / "spool")]
    if len(rows) != len(found):
        other.append(f"{len(rows) - len(found)} extra rows (versions) in the index")
    unsynced = sum(1 for *_, synced in rows if not synced)
    if unsynced:
        other.append(f"{unsynced} rows not marked synced")
    return Stored(found, other, lambda uid: Path(found[uid]))


def _orthanc_stored(out: Path, http_port: int) -> Stored:
    """Orthanc's instances, from its REST API (/tools/find), their files from /instances/ID/file."""
    base = f"http://127.0.0.1:{http_port}"
    query = json.dumps({"Level": "Instance", "Query": {}, "Expand": True}).encode()
    request = urllib.request.Request(
        f"{base}/tools/find", data=query, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=120) as r:
        answers = json.load(r)
    found = {a["MainDicomTags"]["SOPInstanceUID"]: a["ID"] for a in answers}
    fetched = out / "fetched"

    def fetch(uid: str) -> Path:
        fetched.mkdir(exist_ok=True)
        path = fetched / f"{uid}.dcm"
        with urllib.request.urlopen(f"{base}/instances/{found[uid]}/file", timeout=60) as r:
            path.write_bytes(r.read())
        return path

    return Stored(found, [], fetch)


def stored(receiver: str, out: Path, http_port: int = 0) -> Stored:
    """What `receiver` holds in `out` (Orthanc: must be running, on `http_port`)."""
    if receiver in ARCHIVES:
        return _archive_stored(out)
    if receiver == "orthanc":
        return _orthanc_stored(out, http_port)
    found, other = received_files(out)
    return Stored({uid: str(p) for uid, p in found.items()}, other, lambda uid: found[uid])


def verify(
    t: Transfer, corpus: NetCorpus, out: Path, sample: int, held: Stored | None = None
) -> None:
    """Append to ``t.problems`` what is wrong with what the receiver stored."""
    if t.receiver == "discard":  # it stores nothing: it counted what it received
        try:
            counts = json.loads((out / "discarded.json").read_text())
        except (OSError, ValueError) as exc:
            t.problems.append(f"the discarding receiver left no count: {exc}")
            return
        t.received = counts["instances"]
        if t.received != len(corpus):
            t.problems.append(f"{t.received} of {len(corpus)} instances received")
        return
    if held is None:
        held = stored(t.receiver, out)
    found, other = held.found, held.other
    t.received = len(found)
    want = set(corpus.uids)
    missing = want - found.keys()
    if missing:
        t.problems.append(f"{len(missing)} of {len(want)} instances missing")
    if found.keys() - want:
        t.problems.append(f"{len(found.keys() - want)} unexpected instances")
    if other:
        t.problems.append(f"left in the folder: {sorted(other)[:3]}")
    as_received = t.receiver == "storecore" or t.receiver in ARCHIVES
    for i in _sample(len(corpus), sample):
        uid, src = corpus.uids[i], corpus.files[i]
        if uid not in found:
            continue
        got = held.fetch(uid)
        if as_received and dataset_bytes(got) != dataset_bytes(src):
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


def wait_listening(proc: subprocess.Popen[bytes], ports: list[int], timeout: float = 60) -> None:
    """Return once every port of `ports` listens on this host (read off /proc: no
    connection the receiver would see). RuntimeError if `proc` exits first, or
    after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not all(_listening(p) for p in ports):
        if proc.poll() is not None:
            raise RuntimeError(f"exited with {proc.returncode} before listening")
        if time.monotonic() > deadline:
            raise RuntimeError(f"not listening on {ports} after {timeout:g} s")
        time.sleep(0.02)


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
        self.http_port = 0  # Orthanc's REST API
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ReceiverProcess:
        self.out.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        ports = [self.port]
        if self.receiver == "orthanc":
            self.http_port = free_port()
            ports.append(self.http_port)
        argv = receiver_argv(self.receiver, self.out, self.port, self.pdu, http_port=self.http_port)
        with open(self.log, "wb") as fh:
            self.proc = subprocess.Popen(argv, stdout=fh, stderr=fh, env=child_env())
        try:
            wait_listening(self.proc, ports)
        except RuntimeError as exc:
            self.stop()
            raise RuntimeError(
                f"{self.receiver} receiver did not listen ({exc}): {_tail(self.log)}"
            ) from None
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

    def stored(self) -> Stored:
        """What the receiver holds (see :func:`stored`)."""
        return stored(self.receiver, self.out, self.http_port)

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
    associations: int = 1,
) -> Transfer:
    """Start `receiver`, send `corpus` with `sender`, measure, check, clean up.

    The receiver's output folder is kept aside afterwards, not deleted, and
    the machine settled before the run (see :func:`settle` for why).
    """
    t = Transfer(sender, receiver, corpus.name, pdu, len(corpus), corpus.total_bytes,
                 associations=associations)  # fmt: skip
    out = workdir / f"recv-{receiver}"
    retire(out, workdir)
    listfile = workdir / "files.txt"
    listfile.write_text("\n".join(str(p) for p in corpus.files) + "\n")
    slog = workdir / "sender.log"
    rp = ReceiverProcess(receiver, out, pdu, workdir / "receiver.log")
    settle(workdir, corpus.total_bytes)
    held: Stored | None = None
    outs: list[tuple[int, bytes]] = []
    try:
        with rp:
            warm(corpus)
            user0, sys0 = rp.cpu_times()
            argvs = sender_argvs(sender, receiver, rp.port, listfile, pdu, associations)
            # only the senders are reaped in this window: its rusage is the children's delta
            ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            t.sender_process_wall, outs, late = run_senders(argvs, slog, timeout)
            ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            t.problems += late
            t.sender_process_cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
            if receiver not in ARCHIVES and receiver not in ("orthanc", "discard"):
                # every receiver answers a C-STORE only once its file is written; wait
                # for the last one all the same (a few ms at most). The archives answer
                # after their index commit: nothing to wait for.
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline and len(received_files(out)[0]) < len(corpus):
                    time.sleep(0.01)
            user1, sys1 = rp.cpu_times()
            t.receiver_cpu, t.receiver_sys = (user1 - user0) + (sys1 - sys0), sys1 - sys0
            t.receiver_rss_mb = rp.peak_rss_mb()
            t.load = os.getloadavg()[0]
            if receiver == "orthanc":  # its REST API answers only while it runs
                try:
                    held = rp.stored()
                    verify(t, corpus, out, sample, held)
                except OSError as exc:
                    t.problems.append(f"cannot read Orthanc's instances: {exc}")
        t.problems += rp.problems()
        if sender == "dcmtk":
            t.wall, t.sender_cpu = t.sender_process_wall, t.sender_process_cpu
        else:
            try:
                report = json.loads(outs[0][1].decode().strip().splitlines()[-1])
                t.wall, t.sender_cpu = report["wall"], report["cpu"]
                if report["ok"] != report["sent"]:
                    t.problems.append(
                        f"{report['sent'] - report['ok']} not stored: {report['failures']}"
                    )
            except (ValueError, IndexError, KeyError):
                t.problems.append(f"{sender} sender said nothing: {_tail(slog)}")
                t.wall = t.sender_process_wall
        for code, _ in outs:
            if code:
                t.problems.append(f"{sender} sender exited {code}: {_tail(slog)}")
        if t.problems:
            t.problems.append(f"{receiver} receiver's log: {_tail(rp.log) or '(empty)'}")
        if held is None:
            verify(t, corpus, out, sample)
    except RuntimeError as exc:  # the receiver did not start
        t.problems.append(str(exc))
    finally:
        retire(out, workdir)
    return t

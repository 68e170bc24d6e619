"""A pynetdicom AE with storecore's handlers against pynetdicom's own storescp: receiver CPU.

Issue 8's claim: a pynetdicom application that stores through
``storecore.integrations.pynetdicom`` (the dataset bytes pynetdicom received
go into the archive's ingest pipeline, never decoded) costs the receiving
process at least 2x less CPU per instance than pynetdicom's own storescp app
(``python -m pynetdicom storescp -od DIR``: ``event.dataset`` decodes every
element, ``save_as`` encodes them again), on the network benchmark's CT corpus
(``_netcorpus``: 0.5 MB CT slices, Explicit VR Little Endian).

Each receiver is a process of its own, with a Maximum Length of 128 KiB; dcmtk's
``storescu`` (``TCP_NODELAY=1``) sends the whole corpus over one association.
The receiver's CPU (utime + stime of all its threads, /proc/<pid>/stat) is read
once it listens and again when storescu has exited (every instance answered,
so stored); start-up is not counted. Receivers:

``pynetdicom-storescp``
    pynetdicom's app: decode + save, no fsync, no index.
``handlers-fsync``
    a pynetdicom AE with ``storecore_handlers(archive)`` and
    ``add_storecore_contexts``; the archive as shipped (fsync before Success,
    BLAKE3, scan for the index keys, SQLite index).
``handlers-background``
    the same with ``durability=background`` (page cache, flushed every second).
``handlers-chunked``
    ``handlers-fsync`` with pynetdicom's ``STORE_RECV_CHUNKED_DATASET`` and
    its temporary folder (``tempfile.tempdir``) in the archive's spool: the
    file pynetdicom writes is adopted (renamed into the archive), not copied.
``pynetdicom-floor``
    a pynetdicom AE whose C-STORE handler answers Success and keeps nothing:
    what pynetdicom itself costs per instance (association, PDUs, PDV
    assembly, responses), which no handler can go below.
``pynetdicom-chunked-floor``
    the same with ``STORE_RECV_CHUNKED_DATASET``: pynetdicom also writes each
    dataset to its temporary file (and deletes it after the handler); the
    floor under ``handlers-chunked``.

Run, from the repository root::

    PYTHONPATH=src python3 benchmarks/pynetdicom_integration.py            # 1,000 CTs
    PYTHONPATH=src python3 benchmarks/pynetdicom_integration.py -n 100 --rounds 3

The table gives, per receiver, the wall time, the receiver's CPU seconds and
CPU milliseconds per instance, and the ratio of pynetdicom's storescp per
instance to it. ``test_bench_pynetdicom.py`` runs it on a tiny corpus.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _netcorpus import NetCorpus, build
from _netpeers import STORESCU, child_env, cpu_seconds, free_port, receiver_argv, wait_listening

PDU = 131072
AE_TITLE = "STORESCP"
RECEIVERS = (
    "pynetdicom-storescp",
    "handlers-fsync",
    "handlers-background",
    "handlers-chunked",
    "pynetdicom-floor",
    "pynetdicom-chunked-floor",
)


@dataclass
class Run:
    receiver: str
    instances: int
    stored: int
    wall: float
    cpu: float

    @property
    def cpu_ms_per_instance(self) -> float:
        return self.cpu * 1e3 / max(self.instances, 1)


# ------------------------------------------------------------------ the handler receiver


def serve(out: Path, port: int, durability: str, chunked: bool) -> None:
    """The receiver ``handlers-*``: a pynetdicom AE with storecore's handlers (until SIGTERM)."""
    from pynetdicom import AE, _config

    from storecore.integrations.pynetdicom import add_storecore_contexts, storecore_handlers
    from storecore.storage import Archive, Durability, StoragePolicy

    _config.STORE_RECV_CHUNKED_DATASET = chunked
    if chunked:
        # pynetdicom's NamedTemporaryFile on the archive's filesystem: adopted by rename
        out.joinpath("spool").mkdir(parents=True, exist_ok=True)
        tempfile.tempdir = str(out / "spool")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    if durability == "floor":
        from pynetdicom import evt

        ae = AE(ae_title=AE_TITLE)
        ae.maximum_pdu_size = PDU
        add_storecore_contexts(ae)
        handlers = [(evt.EVT_C_STORE, lambda event: 0x0000)]
        server = ae.start_server(("127.0.0.1", port), block=False, evt_handlers=handlers)
        print("listening", flush=True)
        stop.wait()
        server.shutdown()
        return
    policy = StoragePolicy(min_free_bytes=0, durability=Durability(durability))
    with Archive(out, policy=policy) as archive:
        ae = AE(ae_title=AE_TITLE)
        ae.maximum_pdu_size = PDU
        add_storecore_contexts(ae)
        server = ae.start_server(
            ("127.0.0.1", port), block=False, evt_handlers=storecore_handlers(archive)
        )
        print("listening", flush=True)
        stop.wait()
        server.shutdown()


# ------------------------------------------------------------------ one measured transfer


def _receiver(name: str, out: Path, port: int) -> list[str]:
    if name == "pynetdicom-storescp":
        return receiver_argv("pynetdicom", out, port, PDU)
    durability = {
        "handlers-background": "background",
        "pynetdicom-floor": "floor",
        "pynetdicom-chunked-floor": "floor",
    }.get(name, "fsync")
    argv = [sys.executable, __file__, "--serve", str(out), str(port), "--durability", durability]
    chunked = name in ("handlers-chunked", "pynetdicom-chunked-floor")
    return [*argv, "--chunked"] if chunked else argv


def _stored(name: str, out: Path) -> int:
    if name == "pynetdicom-storescp":
        return sum(1 for p in out.iterdir() if p.is_file())
    if name.endswith("-floor"):
        return -1  # keeps nothing
    import sqlite3

    with sqlite3.connect(f"file:{out / 'index.sqlite'}?mode=ro", uri=True) as db:
        return int(db.execute("SELECT count(*) FROM instances").fetchone()[0])


def transfer(name: str, corpus: NetCorpus, work: Path) -> Run:
    """Send the corpus once into a fresh receiver `name`; its CPU from listening to the end."""
    out = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=work))
    port = free_port()
    env = child_env()
    proc = subprocess.Popen(
        _receiver(name, out, port),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        # pynetdicom's storescp stops on SIGINT (below): reset it, since a run
        # started as a shell's background job inherits it ignored, and Python
        # keeps it so (the receiver then sat out the 60 s and was killed)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        wait_listening(proc, [port])
        time.sleep(0.2)  # past the import-time work of the receiver's threads
        cpu0 = cpu_seconds(proc.pid)
        t0 = time.perf_counter()
        sent = subprocess.run(
            [
                STORESCU,
                "-aet",
                "DCMTK_SCU",
                "-aec",
                AE_TITLE,
                "-pdu",
                str(PDU),
                "127.0.0.1",
                str(port),
                *map(str, corpus.files),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=3600,
        )
        wall = time.perf_counter() - t0
        cpu = cpu_seconds(proc.pid) - cpu0
        if sent.returncode != 0:
            raise RuntimeError(f"storescu into {name} failed: {sent.stderr[-2000:]}")
    finally:
        proc.send_signal(signal.SIGTERM if name != "pynetdicom-storescp" else signal.SIGINT)
        try:
            proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
    stored = _stored(name, out)
    left = sorted(p.name for p in (out / "spool").iterdir()) if name.startswith("handlers") else []
    if left:  # adopted or streamed, every answered instance leaves the spool
        raise RuntimeError(f"{name} left {len(left)} files in its spool: {left[:5]}")
    return Run(name, len(corpus.files), stored, wall, cpu)


def run(corpus: NetCorpus, work: Path, rounds: int, receivers: tuple[str, ...]) -> list[Run]:
    """Every receiver `rounds` times, interleaved; the run of median CPU per receiver."""
    runs: dict[str, list[Run]] = {r: [] for r in receivers}
    for _ in range(rounds):
        for name in receivers:
            runs[name].append(transfer(name, corpus, work))
    out = []
    for name in receivers:
        by_cpu = sorted(runs[name], key=lambda r: r.cpu)
        out.append(by_cpu[len(by_cpu) // 2])
    return out


def table(results: list[Run]) -> str:
    base = next((r for r in results if r.receiver == "pynetdicom-storescp"), None)
    lines = [
        f"{'receiver':<24} {'sent':>6} {'stored':>6} {'wall s':>8} {'CPU s':>8} "
        f"{'CPU ms/inst':>11} {'storescp/this':>13}"
    ]
    for r in results:
        ratio = (
            f"{base.cpu_ms_per_instance / r.cpu_ms_per_instance:.2f}x"
            if base and r.cpu_ms_per_instance
            else "-"
        )
        lines.append(
            f"{r.receiver:<24} {r.instances:>6} {r.stored if r.stored >= 0 else '-':>6} "
            f"{r.wall:>8.2f} {r.cpu:>8.2f} "
            f"{r.cpu_ms_per_instance:>11.2f} {ratio:>13}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--instances", type=int, default=1000, help="CT instances")
    parser.add_argument("--rounds", type=int, default=1, help="runs per receiver (median CPU)")
    parser.add_argument("--corpus-dir", type=Path, help="where the corpus is built (reused)")
    parser.add_argument("--receivers", default=",".join(RECEIVERS))
    parser.add_argument("--serve", nargs=2, metavar=("DIR", "PORT"), help=argparse.SUPPRESS)
    parser.add_argument("--durability", default="fsync", help=argparse.SUPPRESS)
    parser.add_argument("--chunked", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(Path(args.serve[0]), int(args.serve[1]), args.durability, args.chunked)
        return 0
    if not os.path.exists(STORESCU):
        print(f"dcmtk's storescu is missing ({STORESCU}): tools/dev test installs it")
        return 2
    receivers = tuple(r for r in args.receivers.split(",") if r)
    with tempfile.TemporaryDirectory(prefix="pynetdicom-bench-") as tmp:
        work = Path(tmp)
        corpus = build("ct", args.corpus_dir or work / "corpus", args.instances)
        print(
            f"corpus: {len(corpus.files)} CT instances, {corpus.total_bytes / 1e6:.1f} MB; "
            f"dcmtk storescu, one association, Maximum Length {PDU}; {args.rounds} round(s)"
        )
        results = run(corpus, work, args.rounds, receivers)
    print(table(results))
    bad = [r.receiver for r in results if r.stored not in (r.instances, -1)]
    if bad:
        print(f"instances missing in: {', '.join(bad)}")
        return 1
    if len(results) > 1:
        per = [r.cpu_ms_per_instance for r in results if r.receiver != "pynetdicom-storescp"]
        if per:
            print(f"handler paths, CPU ms per instance: median {statistics.median(per):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

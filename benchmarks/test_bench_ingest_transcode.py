"""Group ``archive``: ingest with a JPEG-LS Lossless storage policy, over 1 and 2 associations.

``storecore serve`` (a process of its own) with ``[storage] store_transfer_syntax
= "JPEGLSLossless"`` receives the CT corpus of ``_netcorpus.py`` (512x512
16-bit, 0.5 MB each) from storecore's SCU in this process, over one association
and over two at once (each with every other file). Every instance is decoded
from Explicit VR Little Endian and encoded to JPEG-LS in the association's own
thread, after validation and before the group commit: the codecs release the
GIL, so two associations should take close to half the time of one on a
2-core machine. The ratio of the two is the figure (benchmarks/README.md,
"Ingest with a compressed storage policy"); run both in one session, and note
the load average.

Each case starts from an empty archive and times one transfer (a second would
send duplicates). The archive is then checked: every instance indexed, stored
as JPEG-LS with a SUPPORTED record, the spool empty. Nothing here asserts on a
time. ``extra_info`` holds the server's CPU seconds: near the wall time for one
association, near twice it for two when the codec work runs on both cores.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from _netcorpus import NetCorpus, build
from _netpeers import free_port
from _scu_runner import send_storecore

JPEG_LS_LOSSLESS = "1.2.840.10008.1.2.4.80"
COUNT = 24
PDU = 131072


@pytest.fixture(scope="module")
def ct_corpus(tmp_path_factory: pytest.TempPathFactory) -> NetCorpus:
    return build("ct", tmp_path_factory.mktemp("ingestcorpus"), COUNT)


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def _serve(tmp_path: Path) -> Iterator[tuple[int, int]]:
    """`storecore serve` with the JPEG-LS policy; yields (port, pid)."""
    config = tmp_path / "storecore.toml"
    config.write_text(
        '[storage]\nmin_free_bytes = 0\nstore_transfer_syntax = "JPEGLSLossless"\n'
    )
    port = free_port()
    log = open(tmp_path / "serve.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "storecore.cli", "serve", "--config", str(config),
         "--host", "127.0.0.1", "--port", str(port), "--storage", str(tmp_path / "archive")],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "listening" in line, (line, (tmp_path / "serve.log").read_text())
        yield port, proc.pid
    finally:
        proc.terminate()
        proc.communicate(timeout=60)
        log.close()


def _check(corpus: NetCorpus, root: Path) -> None:
    from storecore.storage import Archive, StoragePolicy

    with Archive(root, policy=StoragePolicy(min_free_bytes=0)) as archive:
        rows = {r.sop_instance_uid: r for r in archive.instances()}
        assert set(rows) == set(corpus.uids)
        for row in rows.values():
            assert row.stored_transfer_syntax == JPEG_LS_LOSSLESS
            assert row.transcode is not None and row.transcode["path"] == "SUPPORTED"
    assert list((root / "spool").iterdir()) == []


@pytest.mark.benchmark(group="archive")
@pytest.mark.parametrize("associations", [1, 2], ids=["x1", "x2"])
def test_ingest_with_jpeg_ls_policy(
    benchmark, ct_corpus: NetCorpus, tmp_path: Path, associations: int
) -> None:
    paths = [str(p) for p in ct_corpus.files]
    with _serve(tmp_path) as (port, pid):

        def transfer() -> None:
            ok, failures = send_storecore(
                paths, "127.0.0.1", port, "STORECORE", PDU, associations
            )
            assert ok == len(paths), failures

        cpu0, t0 = _cpu_seconds(pid), time.perf_counter()
        benchmark.pedantic(transfer, rounds=1, warmup_rounds=0, iterations=1)
        wall = time.perf_counter() - t0
        benchmark.extra_info["receiver_cpu_s"] = round(_cpu_seconds(pid) - cpu0, 3)
        benchmark.extra_info["receiver_cpu_per_wall"] = round(
            benchmark.extra_info["receiver_cpu_s"] / wall, 2
        )
        benchmark.extra_info["load_average_1min"] = os.getloadavg()[0]
    _check(ct_corpus, tmp_path / "archive")


def _to_jpeg_ls(path: str) -> int:
    from storecore.transcode.matrix import transcode

    data, record = transcode(path, JPEG_LS_LOSSLESS)
    assert record.path.value == "SUPPORTED"
    return len(data)


@pytest.mark.benchmark(group="codec")
@pytest.mark.parametrize("executor", ["serial", "threads-2", "processes-2"])
def test_ingest_codec_step_threads_or_processes(
    benchmark, ct_corpus: NetCorpus, executor: str
) -> None:
    """The ingest's transcode step alone (``transcode`` of each CT file to JPEG-LS),
    serially, in 2 threads (what two associations do: the codecs release the GIL)
    and in a pool of 2 processes (what a process pool would cost: pickling the
    files' bytes both ways). Decides threads over a process pool."""
    from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor

    paths = [str(p) for p in ct_corpus.files]
    pool: Executor | None = None
    if executor == "threads-2":
        pool = ThreadPoolExecutor(2)
    elif executor == "processes-2":
        pool = ProcessPoolExecutor(2)
        list(pool.map(_to_jpeg_ls, paths[:2]))  # start the workers and import the codecs

    def run() -> None:
        sizes = list(pool.map(_to_jpeg_ls, paths)) if pool else [_to_jpeg_ls(p) for p in paths]
        assert len(sizes) == len(paths) and all(sizes)

    try:
        benchmark.pedantic(run, rounds=3, warmup_rounds=1, iterations=1)
    finally:
        if pool is not None:
            pool.shutdown()
    benchmark.extra_info["load_average_1min"] = os.getloadavg()[0]

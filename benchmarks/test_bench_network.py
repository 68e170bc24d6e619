"""Group ``network``: 20 CT instances (0.5 MB each) over loopback, per sender → receiver pair.

The pytest version of ``network.py`` (see there, and benchmarks/README.md,
"Network", for the full run and its figures): the same six pairs, each
receiver a process of its own (``_netpeers.ReceiverProcess``), started once
per test. What is timed is one transfer of the 20 files over one association:
storecore's and pynetdicom's senders run in this process (so their
interpreter start-up is not timed), dcmtk's ``storescu`` as a process (its
start-up, a few ms, is). Every run asserts that every instance arrived; the
last one is also read back (``_netpeers.verify``). ``extra_info`` holds the
receiver's CPU seconds and peak RSS over all rounds.

dcmtk is required, not optional: without it the dcmtk pairs fail, saying that
``tools/dev test`` installs it.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from _netcorpus import NetCorpus, build
from _netpeers import (
    DCMTK_MISSING,
    PAIRS,
    STORESCU,
    ReceiverProcess,
    Transfer,
    child_env,
    dcmtk_missing,
    received_files,
    retire,
    settle,
    verify,
)
from _scu_runner import send_pynetdicom, send_storecore

INSTANCES = 20
PDU = 131072
NETWORK_PAIRS = (1, 2, 3, 4, 5, 6)  # 7-14: the archives, in test_bench_archive.py


@pytest.fixture(scope="session")
def net_ct(tmp_path_factory: pytest.TempPathFactory) -> NetCorpus:
    """The first 20 CT slices of network.py's CT corpus."""
    return build("ct", tmp_path_factory.mktemp("netcorpus"), INSTANCES)


def _sender(name: str, corpus: NetCorpus, rp: ReceiverProcess) -> Callable[[], None]:
    paths = [str(p) for p in corpus.files]
    if name == "dcmtk":
        argv = [STORESCU, "-aet", "DCMTK_SCU", "-aec", rp.ae_title, "-pdu", str(PDU),
                "127.0.0.1", str(rp.port), *paths]  # fmt: skip
        env = child_env()  # TCP_NODELAY=1: dcmtk stalls ~50 ms per message without it

        def send() -> None:
            done = subprocess.run(argv, env=env, capture_output=True, text=True)
            assert done.returncode == 0, done.stderr[-500:]

        return send
    fn = {"storecore": send_storecore, "pynetdicom": send_pynetdicom}[name]

    def send_in_process() -> None:
        ok, failures = fn(paths, "127.0.0.1", rp.port, rp.ae_title, PDU)
        assert ok == len(paths), failures

    return send_in_process


@pytest.mark.benchmark(group="network")
@pytest.mark.parametrize(
    "pair",
    NETWORK_PAIRS,
    ids=[f"{k}-{PAIRS[k].sender}-to-{PAIRS[k].receiver}" for k in NETWORK_PAIRS],
)
def test_c_store(benchmark, net_ct: NetCorpus, tmp_path: Path, pair: int) -> None:
    sender, receiver, _ = PAIRS[pair]
    if "dcmtk" in (sender, receiver) and dcmtk_missing():
        pytest.fail(DCMTK_MISSING)
    out = tmp_path / "received"
    with ReceiverProcess(receiver, out, PDU, tmp_path / "receiver.log") as rp:
        send = _sender(sender, net_ct, rp)

        def clear() -> None:  # the last round's files kept aside, as network.py does
            retire(out, tmp_path)
            out.mkdir()
            settle(tmp_path, net_ct.total_bytes)

        def transfer() -> None:
            send()
            found, other = received_files(out)
            assert len(found) == INSTANCES and not other, (len(found), other[:3])

        cpu0 = rp.cpu()
        benchmark.pedantic(transfer, setup=clear, rounds=3, warmup_rounds=0, iterations=1)
        benchmark.extra_info["receiver_cpu_s"] = rp.cpu() - cpu0
        benchmark.extra_info["receiver_peak_rss_mb"] = rp.peak_rss_mb()
    t = Transfer(sender, receiver, "ct", PDU, INSTANCES, net_ct.total_bytes)
    t.problems += rp.problems()
    verify(t, net_ct, out, sample=INSTANCES if receiver == "storecore" else 2)
    assert t.ok, t.problems

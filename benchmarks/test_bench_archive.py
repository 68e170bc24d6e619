"""Group ``archive``: the storecore archive (``storecore serve``) over loopback, per pair.

The pytest version of ``network.py --archive`` (see there, and
benchmarks/README.md, "Archive", for the full run and its figures), on tiny
corpora so that it runs in CI: 8 CT instances (0.5 MB each) and 40 small
Secondary Capture instances (~4 KB), each sent once by dcmtk's storescu and by
storecore's SCU, over one association and over eight, into the archive with
``--durability fsync`` and ``background`` (pairs 7, 8, 10, 11, 13, 14). Orthanc
(pairs 9 and 12) is left to ``network.py``: CI does not install it.

Every archive starts empty (a second round would send duplicates, which the
archive answers without storing), so each test times one transfer: storecore's
sender in this process (``send(..., associations=N)``), dcmtk's storescu as
processes (N at once, each with every N-th file). Then the server is stopped
and the transfer checked by ``_netpeers.verify``: every UID in the archive's
index, the spool empty, every row synced, and every stored file's dataset
bytes equal to its source's. ``extra_info`` holds the server's CPU seconds and
peak RSS. Nothing here asserts on a time.

``test_disk_probes`` runs the disk probes of ``_diskprobe.py`` small (8 MiB,
50 files) to check that they run and give a figure.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from _diskprobe import PROBES, run_probe
from _netcorpus import NetCorpus, build
from _netpeers import (
    DCMTK_MISSING,
    PAIRS,
    ReceiverProcess,
    Transfer,
    dcmtk_missing,
    run_senders,
    sender_argvs,
    verify,
)
from _scu_runner import send_storecore

PDU = 131072
ARCHIVE_PAIRS = (7, 8, 10, 11, 13, 14)  # without Orthanc (9, 12)
SIZES = {"ct": 8, "small": 40}


@pytest.fixture(scope="session")
def archive_corpora(tmp_path_factory: pytest.TempPathFactory) -> dict[str, NetCorpus]:
    """The first instances of network.py's CT and small corpora."""
    root = tmp_path_factory.mktemp("archivecorpus")
    return {name: build(name, root, count) for name, count in SIZES.items()}


@pytest.mark.benchmark(group="archive")
@pytest.mark.parametrize("corpus_name", list(SIZES))
@pytest.mark.parametrize(
    "pair",
    ARCHIVE_PAIRS,
    ids=[
        f"{k}-{PAIRS[k].sender}-x{PAIRS[k].associations}-to-{PAIRS[k].receiver}"
        for k in ARCHIVE_PAIRS
    ],
)
def test_archive_c_store(
    benchmark,
    archive_corpora: dict[str, NetCorpus],
    tmp_path: Path,
    pair: int,
    corpus_name: str,
) -> None:
    sender, receiver, associations = PAIRS[pair]
    if sender == "dcmtk" and dcmtk_missing():
        pytest.fail(DCMTK_MISSING)
    corpus = archive_corpora[corpus_name]
    paths = [str(p) for p in corpus.files]
    listfile = tmp_path / "files.txt"
    listfile.write_text("\n".join(paths) + "\n")
    out = tmp_path / "archive"
    rp = ReceiverProcess(receiver, out, PDU, tmp_path / "receiver.log")
    with rp:

        def transfer() -> None:
            if sender == "storecore":
                ok, failures = send_storecore(
                    paths, "127.0.0.1", rp.port, rp.ae_title, PDU, associations
                )
                assert ok == len(paths), failures
                return
            argvs = sender_argvs(sender, receiver, rp.port, listfile, PDU, associations)
            _, outs, problems = run_senders(argvs, tmp_path / "sender.log", timeout=120)
            assert not problems and all(code == 0 for code, _ in outs), (
                problems,
                (tmp_path / "sender.log").read_text()[-500:],
            )

        cpu0 = rp.cpu()
        benchmark.pedantic(transfer, rounds=1, warmup_rounds=0, iterations=1)
        benchmark.extra_info["receiver_cpu_s"] = rp.cpu() - cpu0
        benchmark.extra_info["receiver_peak_rss_mb"] = rp.peak_rss_mb()
    t = Transfer(sender, receiver, corpus.name, PDU, len(corpus), corpus.total_bytes,
                 associations=associations)  # fmt: skip
    t.problems += rp.problems()
    verify(t, corpus, out, sample=len(corpus))
    assert t.ok, t.problems


@pytest.mark.parametrize("probe", list(PROBES))
def test_disk_probes(tmp_path: Path, probe: str) -> None:
    value = run_probe(probe, tmp_path, dd_mib=8, files=50)
    assert math.isfinite(value) and value > 0
    # dd removes its one file; the create probes leave theirs in a folder of
    # their own for the caller to delete (at once they would slow what follows)
    left = sorted(p.name for p in tmp_path.iterdir())
    if probe == "dd":
        assert left == []
    else:
        (folder,) = left
        assert folder.startswith("create.probe-")
        assert len(list((tmp_path / folder).iterdir())) == 50

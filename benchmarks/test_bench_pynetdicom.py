"""Group ``pynetdicom``: ``pynetdicom_integration.py`` once, on 4 CT instances.

The pytest version of ``benchmarks/pynetdicom_integration.py`` (see there for
the full run and what it measures): every receiver (pynetdicom's storescp,
a pynetdicom AE with storecore's handlers in three settings, pynetdicom's
floors in memory and chunked) gets the corpus once from dcmtk's storescu;
the test checks that every instance was answered and stored (and the
handlers' spools left empty), and keeps the table in ``extra_info``.
Nothing here asserts on a time or a CPU figure.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import pynetdicom_integration as bench
from _netcorpus import build
from _netpeers import DCMTK_MISSING, dcmtk_missing


@pytest.mark.benchmark(group="pynetdicom")
def test_pynetdicom_handlers_against_storescp(
    benchmark: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if dcmtk_missing():
        pytest.fail(DCMTK_MISSING)
    corpus = build("ct", tmp_path / "corpus", 4)
    results = benchmark.pedantic(  # type: ignore[attr-defined]
        bench.run, args=(corpus, tmp_path, 1, bench.RECEIVERS), rounds=1, iterations=1
    )
    assert [r.receiver for r in results] == list(bench.RECEIVERS)
    for r in results:
        assert r.stored in (r.instances, -1), r  # -1: the floor keeps nothing
    benchmark.extra_info["table"] = bench.table(results)  # type: ignore[attr-defined]

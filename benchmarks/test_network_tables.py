"""network.py's comparison tables, from figures made up here (nothing is measured).

The archive table's bounds and ceilings are arithmetic on the pairs' and the
probes' figures of the same rounds; these tests pin that arithmetic.
"""

from __future__ import annotations

import pytest

from _netpeers import Transfer
from network import archive_table, target_table

MB = 1_000_000


def _runs(receiver: str, corpus: str, rates: list[float], size: int, sender: str = "dcmtk"):
    """Transfers of `rates` instances/s, 1,000 instances of `size` bytes each."""
    return [
        Transfer(sender, receiver, corpus, 131072, 1000, 1000 * size, wall=1000 / rate)
        for rate in rates
    ]


def _row(lines: list[str], start: str) -> str:
    (row,) = [line for line in lines if line.startswith(f"| {start}")]
    return row


def test_the_one_association_bound_is_the_ceiling_then_the_sync_in_series() -> None:
    ct = MB // 2
    results = {
        ("ct", 131072, 15): _runs("discard", "ct", [2000.0, 2000.0], ct),
        ("ct", 131072, 7): _runs("archive-fsync", "ct", [500.0, 500.0], ct),
    }
    # 2,000/s receiving, 1,000 files/s syncing: 1 / (0.5 ms + 1 ms) = 666.7/s,
    # 333.3 MB/s against dd's 1,000 MB/s
    probes = {("ct", "create-instance"): [1000.0, 1000.0], ("ct", "dd"): [1000.0, 1000.0]}
    lines = archive_table(results, probes, 131072)
    bound = _row(lines, "bound, 1 association: SCP storing nothing, then create-instance, CT")
    assert "| 0.33x" in bound and "**a 0.9x target is above it**" in bound
    versus = _row(lines, "durable, 1 association vs that bound, CT")
    assert "| 0.75x" in versus  # 500 of 666.7 instances/s


def test_a_ceiling_above_the_target_says_so() -> None:
    small = 4096
    results = {
        ("small", 131072, 15): _runs("discard", "small", [9000.0], small),
        ("small", 131072, 3): _runs("dcmtk", "small", [4000.0], small),
    }
    lines = archive_table(results, {}, 131072)
    row = _row(lines, "ceiling: the same, small (15 / 3)")
    assert "| 2.25x" in row and "a 2x target is within it" in row


@pytest.mark.parametrize(("ceiling", "verdict"), [(1.2, "**below**"), (1.8, "above")])
def test_the_network_targets_name_the_ceiling(ceiling: float, verdict: str) -> None:
    results = {
        ("ct", 131072, 2): _runs("storecore", "ct", [1100.0], MB // 2),
        ("ct", 131072, 3): _runs("dcmtk", "ct", [1000.0], MB // 2),
        ("ct", 131072, 15): _runs("discard", "ct", [1000.0 * ceiling], MB // 2),
    }
    lines = target_table(results, [131072])
    row = _row(lines, "ceiling for SCP ingest, CT: 1.5x")
    assert f"{ceiling:.2f}x" in row and f"({verdict} the target)" in row
    assert "1.10x" in _row(lines, "SCP ingest >= 1.5x dcmtk storescp, CT (2 / 3)")

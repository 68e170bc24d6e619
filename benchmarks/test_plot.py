"""The throughput plot, drawn from a real (tiny) side-by-side run of ``network.py``.

``network.py`` runs three pairs once on 6 CT slices and writes its JSON; the
plot drawn from it must hold one bar per pair with the JSON's figures, and a
failed transfer in the JSON must not become a bar.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

import network
import plot


@pytest.fixture(scope="module")
def run_json(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("plot")
    out = tmp / "run.json"
    argv = ["--corpora", "ct", "--ct", "6", "--pairs", "1,2,3", "--rounds", "2",
            "--pdu", "131072", "--sample", "1", "--probe-files", "20",
            "--corpus-dir", str(tmp / "corpus"),
            "--json", str(out)]  # fmt: skip
    assert network.main(argv) == 0
    return out


def test_plot_draws_the_runs_medians(run_json: Path, tmp_path: Path) -> None:
    run = json.loads(run_json.read_text())
    png = tmp_path / "throughput.png"
    drawn = plot.plot(run, png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 10_000
    assert [b.pair for b in drawn] == [
        "storecore → storecore",
        "dcmtk → storecore",
        "dcmtk → dcmtk",
    ]
    for b in drawn:
        runs = [t for t in run["transfers"] if plot.label(t) == b.pair]
        assert b.runs == len(runs) == 2
        assert b.per_second == statistics.median(t["per_second"] for t in runs) > 0
        assert b.mb_per_second_range == (
            min(t["mb_per_second"] for t in runs),
            max(t["mb_per_second"] for t in runs),
        )


def test_a_failed_transfer_draws_no_bar(run_json: Path, tmp_path: Path) -> None:
    run = json.loads(run_json.read_text())
    for t in run["transfers"]:
        if t["sender"] == "dcmtk" and t["receiver"] == "dcmtk":
            t["problems"] = ["2 instances missing"]
    drawn, failed = plot.bars(run, 131072)
    assert failed == 2
    assert "dcmtk → dcmtk" not in [b.pair for b in drawn]
    with pytest.raises(SystemExit, match="no checked transfer at PDU 16,384"):
        plot.plot(run, tmp_path / "x.png", pdu=16384)


def test_command_line(run_json: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    png = tmp_path / "out.png"
    assert plot.main([str(run_json), "-o", str(png)]) == 0
    assert png.exists()
    assert "dcmtk → storecore" in capsys.readouterr().out

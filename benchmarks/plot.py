#!/usr/bin/env python3
"""The README's throughput plot, drawn from one side-by-side run of ``network.py``.

    PYTHONPATH=src python3 benchmarks/network.py --rounds 3 --json docs/bench/network.json
    python3 benchmarks/plot.py docs/bench/network.json -o docs/throughput.png

One column per corpus (CT 0.5 MB, small 4 KB, multi-frame 200 MB), two rows
(instances/s and MB/s), one bar per sender → receiver pair at one PDU size
(``--pdu``, default 131,072): the median over the run's rounds of the checked
transfers, with a line from the slowest to the fastest round. Transfers whose
checks failed are left out (and counted in the figure's footnote), so a
failed run can never draw a bar. "discard" (grey) is storecore's SCP storing
nothing: the most any receiver can take from that sender. Nothing here measures: the figures are the
JSON's, as ``network.py`` wrote them.

matplotlib is in the ``bench`` and ``test`` extras.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: the bars, in this order, when the run has them (labels as network.py's Pair.label)
PAIR_ORDER = (
    "storecore → storecore",
    "dcmtk → storecore",
    "storecore → dcmtk",
    "dcmtk → dcmtk",
    "dcmtk → pynetdicom",
    "pynetdicom → pynetdicom",
    "dcmtk → archive-fsync",
    "dcmtk → archive-background",
    "storecore → archive-fsync",
    "storecore → archive-background",
    "dcmtk → orthanc",
    "storecore → orthanc",
    "dcmtk → discard",
    "dcmtk x8 → discard",
)
#: bar colours by receiver family: storecore's receivers in one hue, the peers in others
COLOURS = {
    "storecore": "#1f77b4",
    "archive-fsync": "#1f77b4",
    "archive-background": "#6baed6",
    "dcmtk": "#ff7f0e",
    "pynetdicom": "#2ca02c",
    "orthanc": "#9467bd",
    "discard": "#bdbdbd",  # storecore's SCP storing nothing: the sender's ceiling
}
CORPUS_TITLES = {
    "ct": "CT, 1,000 x 0.5 MB",
    "small": "Secondary Capture, 5,000 x 4 KB",
    "multiframe": "multi-frame, 4 x 200 MB",
}


@dataclass(frozen=True)
class Bar:
    """The figures of one pair on one corpus: medians and per-round ranges."""

    corpus: str
    pair: str
    receiver: str
    runs: int
    per_second: float
    per_second_range: tuple[float, float]
    mb_per_second: float
    mb_per_second_range: tuple[float, float]


def label(transfer: dict[str, Any]) -> str:
    """The pair's label, as ``_netpeers.Pair.label`` writes it."""
    n = int(transfer.get("associations", 1))
    return f"{transfer['sender']}{f' x{n}' if n > 1 else ''} → {transfer['receiver']}"


def bars(run: dict[str, Any], pdu: int) -> tuple[list[Bar], int]:
    """Median figures per (corpus, pair) at ``pdu``, and how many transfers failed."""
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    failed = 0
    for t in run["transfers"]:
        if int(t["pdu"]) != pdu:
            continue
        if t["problems"]:
            failed += 1
            continue
        grouped[(t["corpus"], label(t))].append(t)
    order = {p: i for i, p in enumerate(PAIR_ORDER)}
    out = []
    for (corpus, pair), runs in grouped.items():
        rates = [float(t["per_second"]) for t in runs]
        mbs = [float(t["mb_per_second"]) for t in runs]
        out.append(
            Bar(
                corpus=corpus,
                pair=pair,
                receiver=str(runs[0]["receiver"]),
                runs=len(runs),
                per_second=statistics.median(rates),
                per_second_range=(min(rates), max(rates)),
                mb_per_second=statistics.median(mbs),
                mb_per_second_range=(min(mbs), max(mbs)),
            )
        )
    corpora = list(CORPUS_TITLES)
    out.sort(
        key=lambda b: (
            corpora.index(b.corpus) if b.corpus in corpora else len(corpora),
            b.corpus,
            order.get(b.pair, len(order)),
            b.pair,
        )
    )
    return out, failed


def number(v: float) -> str:
    """A bar's figure: thousands separated, three significant digits below 100."""
    return f"{v:,.0f}" if v >= 100 else f"{v:.3g}"


def plot(run: dict[str, Any], out: Path, *, pdu: int = 131072, title: str = "") -> list[Bar]:
    """Draw the PNG; return the bars it drew (the tests compare them with the JSON)."""
    import matplotlib

    matplotlib.use("Agg")  # no display: a file, also in CI
    import matplotlib.pyplot as plt

    drawn, failed = bars(run, pdu)
    if not drawn:
        raise SystemExit(f"plot.py: no checked transfer at PDU {pdu:,} in the run")
    corpora = list(dict.fromkeys(b.corpus for b in drawn))
    fig, axes = plt.subplots(
        2, len(corpora), figsize=(4.2 * len(corpora), 7.2), squeeze=False, layout="constrained"
    )
    for col, corpus in enumerate(corpora):
        row_bars = [b for b in drawn if b.corpus == corpus]
        names = [b.pair for b in row_bars]
        colours = [COLOURS.get(b.receiver, "#7f7f7f") for b in row_bars]
        for row, (metric, rng, unit) in enumerate(
            (
                ("per_second", "per_second_range", "instances/s"),
                ("mb_per_second", "mb_per_second_range", "MB/s"),
            )
        ):
            ax = axes[row][col]
            values = [getattr(b, metric) for b in row_bars]
            lows = [v - getattr(b, rng)[0] for v, b in zip(values, row_bars, strict=True)]
            highs = [getattr(b, rng)[1] - v for v, b in zip(values, row_bars, strict=True)]
            ys = range(len(row_bars))
            ax.barh(ys, values, color=colours, xerr=[lows, highs], capsize=2)
            ax.set_yticks(list(ys), names, fontsize=8)
            ax.invert_yaxis()
            ax.set_xlabel(unit)
            for y, v, b in zip(ys, values, row_bars, strict=True):
                # the figure after the whisker's end, so that neither hides the other
                ax.text(getattr(b, rng)[1], y, f"  {number(v)}", va="center", fontsize=7)
            ax.margins(x=0.25)
            if row == 0:
                ax.set_title(CORPUS_TITLES.get(corpus, corpus), fontsize=10)
    foot = (
        f"C-STORE over loopback, max PDU {pdu:,}; "
        "median of rounds, whiskers from the slowest to the fastest round"
    )
    if failed:
        foot += f"; {failed} transfer(s) failed their checks and are not drawn"
    from matplotlib.patches import Patch

    receivers = dict.fromkeys(b.receiver for b in drawn)
    fig.legend(
        handles=[Patch(color=COLOURS.get(r, "#7f7f7f"), label=r) for r in receivers],
        title="receiver",
        loc="outside right upper",
        fontsize=8,
    )
    fig.suptitle(title or "storecore vs dcmtk vs pynetdicom", fontsize=12)
    fig.supxlabel(foot, fontsize=8)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return drawn


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="the JSON that network.py --json wrote")
    parser.add_argument("-o", "--output", type=Path, default=Path("docs/throughput.png"))
    parser.add_argument("--pdu", type=int, default=131072, help="which PDU size's runs to draw")
    parser.add_argument("--title", default="", help="the figure's title")
    args = parser.parse_args(argv)
    drawn = plot(json.loads(args.run.read_text()), args.output, pdu=args.pdu, title=args.title)
    for b in drawn:
        print(
            f"{b.corpus:10} {b.pair:32} {b.per_second:10,.0f}/s {b.mb_per_second:9,.1f} MB/s"
            f"  ({b.runs} runs)"
        )
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

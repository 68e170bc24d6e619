"""C-STORE over loopback, side by side: storecore, dcmtk and pynetdicom as senders and receivers.

Run from the repository root (dcmtk at /usr/bin; about 15 minutes with the defaults)::

    PYTHONPATH=src python3 benchmarks/network.py [--rounds 3] [--pdu 131072,16384]
        [--corpora ct,small,multiframe] [--pairs 1,2,3,4,5,6] [--corpus-dir DIR]

    # the archive's run (about 15 minutes with --rounds 5; needs Debian's orthanc)
    PYTHONPATH=src python3 benchmarks/network.py --archive [--rounds 5]

The pairs (sender → receiver; every receiver a process of its own that writes
one file per instance, no fsync; see ``_netpeers.py``):

1. storecore SCU → storecore SCP
2. dcmtk storescu → storecore SCP
3. dcmtk storescu → dcmtk storescp
4. dcmtk storescu → pynetdicom storescp
5. pynetdicom SCU → pynetdicom storescp
6. storecore SCU → dcmtk storescp
15. dcmtk storescu → storecore SCP storing nothing (``_scp_runner.py --discard``):
    the ceiling of any SCP with dcmtk's storescu sending, since each
    C-STORE waits for its response; a target above it is out of any SCP's reach

and, with ``--archive`` (pairs 3 and 7-14 on the CT and small corpora, 128 KiB
PDUs), the durable receivers: the storecore archive (``storecore serve``) with
``--durability fsync`` and ``background``, and Debian's Orthanc:

7. dcmtk storescu → storecore archive, fsync
8. dcmtk storescu → storecore archive, background
9. dcmtk storescu → Orthanc
10. storecore SCU → storecore archive, fsync
11. storecore SCU → storecore archive, background
12. storecore SCU → Orthanc
13. dcmtk storescu x8 (8 processes, 1/8 of the files each) → storecore archive, fsync
14. storecore SCU x8 (``send(..., associations=8)``) → storecore archive, fsync
15. (as above) dcmtk storescu → an SCP storing nothing, the ceiling for one association
16. dcmtk storescu x8 → an SCP storing nothing, the ceiling for eight

In the same rotation run the disk's floors (``_diskprobe.py``): dd's
sequential write bandwidth with fdatasync, and the rate of create + write 4 KB
+ fsync + rename, with and without a folder fsync, and the same with one
instance of the corpus's mean size (``create-instance``).

on three corpora generated deterministically (``_netcorpus.py``) into a
temporary directory: 1,000 CT images of 0.5 MB, 5,000 ~4 KB Secondary Capture
images and 4 multi-frame images of 200 MB. Each PDU size given is the receivers' Maximum Length
(what the senders' P-DATA-TF PDUs are cut to). In every round each pair runs
once per PDU size, in an order rotated from round to round, so that drifts in
machine load hit every pair alike; the figures are medians over rounds, the
ratios are ratios of those medians (with the range of the per-round ratios).
pynetdicom is slow on small objects (~19 instances/s sender and receiver):
pair 5 sends only the first ``--pynetdicom-small-cap`` of the small corpus,
and the pairs with pynetdicom run ``--slow-rounds`` rounds there.

Every transfer is checked (``_netpeers.verify``): the receiver must hold all
the instances, a sample must read back equal to its source, and storecore's
files must hold the sent dataset bytes unchanged. A failed check is reported
and the exit status is 1.

Targets (the issue; benchmarks/README.md, "Network"): on the CT corpus
storecore's SCP ingests >= 1.5x dcmtk's storescp and >= 5x pynetdicom's
storescp (instances/s, dcmtk storescu sending), with <= 1/10 of pynetdicom's
CPU per instance; on the small corpus >= 2x dcmtk's instances/s; storecore's
SCU into dcmtk's storescp >= 1.2x dcmtk's storescu.

Archive targets (benchmarks/README.md, "Archive"; dcmtk storescu sending): on
the CT corpus durable ingest >= 0.9x dd's MB/s and >= 3x Orthanc's, background
>= 1.5x dcmtk's storescp; on the small corpus, one association, durable >= 0.8x
the create/write/fsync/rename rate and background >= 2x dcmtk's storescp;
and whether 8 associations lift the durable archive above one.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import pydicom
import pynetdicom

import storecore
from _diskprobe import NETWORK_PROBES, PROBES, run_probe
from _netcorpus import CORPORA, NetCorpus, build
from _netpeers import (
    ARCHIVES,
    DCMTK_MISSING,
    ORTHANC_MISSING,
    PAIRS,
    STORESCU,
    Transfer,
    dcmtk_missing,
    orthanc_missing,
    run_transfer,
    settle,
)

NETWORK_PAIRS = "1,2,3,4,5,6,15"
ALL_PROBES = {**PROBES, **NETWORK_PROBES}
ARCHIVE_PAIRS = "3,7,8,9,10,11,12,13,14,15,16"

# pair numbers compared in the ratio table: (label, numerator pair, denominator pair)
SPEED_RATIOS = (
    ("storecore SCP vs dcmtk storescp (2 / 3)", 2, 3),
    ("storecore SCP vs pynetdicom storescp (2 / 4)", 2, 4),
    ("storecore SCU vs dcmtk storescu, into storecore SCP (1 / 2)", 1, 2),
    ("storecore SCU vs dcmtk storescu, into dcmtk storescp (6 / 3)", 6, 3),
    ("storecore both ends vs dcmtk both ends (1 / 3)", 1, 3),
    ("storecore both ends vs pynetdicom both ends (1 / 5)", 1, 5),
    ("ceiling: an SCP storing nothing vs dcmtk storescp (15 / 3)", 15, 3),
)
CPU_RATIOS = (
    ("storecore SCP CPU per instance / dcmtk storescp's (2 / 3)", 2, 3),
    ("storecore SCP CPU per instance / pynetdicom storescp's (2 / 4)", 2, 4),
)
CORPUS_TITLES = {
    "ct": "CT, 0.5 MB each",
    "small": "small Secondary Capture, ~4 KB each",
    "multiframe": "multi-frame, 200 MB each",
}

Results = dict[tuple[str, int, int], list[Transfer]]  # (corpus, pdu, pair) -> runs in order
Probes = dict[tuple[str, str], list[float]]  # (corpus, probe) -> figures, one per round


def _median(runs: list[Transfer], value: Callable[[Transfer], float]) -> float | None:
    good = [value(t) for t in runs if t.ok]
    return statistics.median(good) if good else None


def _fmt(v: float | None, digits: int = 3) -> str:
    if v is None:
        return "-"
    if v >= 100:
        return f"{v:,.0f}"
    return f"{v:.{digits}g}" if v < 10 else f"{v:.1f}"


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def _per_round(
    a: list[Transfer], b: list[Transfer], value: Callable[[Transfer], float]
) -> list[float]:
    return [value(x) / value(y) for x, y in zip(a, b, strict=False) if x.ok and y.ok and value(y)]


def _range(values: list[float]) -> str:
    if len(values) < 2:
        return ""
    return f" ({min(values):.2f}-{max(values):.2f})"


def pair_table(results: Results, corpus: NetCorpus, pdu: int, pairs: list[int]) -> list[str]:
    lines = [
        f"{CORPUS_TITLES.get(corpus.name, corpus.name)} ({len(corpus):,} instances, "
        f"{corpus.total_bytes / 1e6:,.1f} MB), max PDU {pdu:,}",
        "",
        "| # | sender → receiver | instances | instances/s | MB/s | receiver CPU s (sys) "
        "| CPU ms/instance | receiver peak RSS MB | sender wall s | sender CPU s | runs | checks |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for k in pairs:
        runs = results.get((corpus.name, pdu, k), [])
        if not runs:
            continue
        first = runs[0]
        problems = sorted({p for t in runs for p in t.problems})
        checks = "ok" if not problems else "**FAILED**: " + "; ".join(problems)[:200]
        cells = [
            str(k),
            first.pair,
            f"{first.instances:,}",
            _fmt(_median(runs, lambda t: t.per_second)),
            _fmt(_median(runs, lambda t: t.mb_per_second)),
            f"{_fmt(_median(runs, lambda t: t.receiver_cpu))} "
            f"({_fmt(_median(runs, lambda t: t.receiver_sys))})",
            _fmt(_median(runs, lambda t: t.cpu_ms_per_instance)),
            _fmt(_median(runs, lambda t: t.receiver_rss_mb)),
            _fmt(_median(runs, lambda t: t.wall)),
            _fmt(_median(runs, lambda t: t.sender_cpu)),
            f"{sum(t.ok for t in runs)}/{len(runs)}",
            checks,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def ratio(
    results: Results, corpus: str, pdu: int, a: int, b: int, cpu: bool = False
) -> tuple[float | None, str]:
    """Median-of-a / median-of-b, and the range of the per-round ratios."""
    ra, rb = results.get((corpus, pdu, a), []), results.get((corpus, pdu, b), [])

    def value(t: Transfer) -> float:
        return t.cpu_ms_per_instance if cpu else t.per_second

    return _ratio(_median(ra, value), _median(rb, value)), _range(_per_round(ra, rb, value))


def ratio_table(results: Results, corpora: list[str], pdus: list[int]) -> list[str]:
    columns = [(c, p) for c in corpora for p in pdus]
    lines = [
        "| ratio (instances/s; CPU: lower is better) | "
        + " | ".join(f"{c}, PDU {p // 1024} KiB" for c, p in columns)
        + " |",
        "|---|" + "---:|" * len(columns),
    ]
    for label, a, b in SPEED_RATIOS:
        cells = []
        for c, p in columns:
            v, spread = ratio(results, c, p, a, b)
            cells.append("-" if v is None else f"{v:.2f}x{spread}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    for label, a, b in CPU_RATIOS:
        cells = []
        for c, p in columns:
            v, spread = ratio(results, c, p, a, b, cpu=True)
            cells.append("-" if v is None else f"{v:.3f}{spread}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def target_table(results: Results, pdus: list[int], probes: Probes | None = None) -> list[str]:
    # (target, corpus, pairs a/b, threshold, cpu): met when the ratio >= threshold
    # (for CPU: when the ratio <= threshold)
    targets = (
        ("SCP ingest >= 1.5x dcmtk storescp, CT (2 / 3)", "ct", 2, 3, 1.5, False),
        ("SCP ingest >= 5x pynetdicom storescp, CT (2 / 4)", "ct", 2, 4, 5.0, False),
        ("SCP CPU per instance <= 1/10 of pynetdicom's, CT (2 / 4)", "ct", 2, 4, 0.1, True),
        ("small objects >= 2x dcmtk's instances/s (2 / 3)", "small", 2, 3, 2.0, False),
        (
            "storecore SCU into dcmtk storescp >= 1.2x dcmtk storescu, CT (6 / 3)",
            "ct",
            6,
            3,
            1.2,
            False,
        ),
    )
    lines = [
        "| target | " + " | ".join(f"PDU {p // 1024} KiB" for p in pdus) + " |",
        "|---|" + "---|" * len(pdus),
    ]
    for label, corpus, a, b, threshold, cpu in targets:
        cells = []
        for p in pdus:
            v, spread = ratio(results, corpus, p, a, b, cpu=cpu)
            if v is None:
                cells.append("not run")
                continue
            met = v <= threshold if cpu else v >= threshold
            shown = f"{v:.3f}" if cpu else f"{v:.2f}x"
            cells.append(f"{shown}{spread} {'met' if met else '**missed**'}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    # what dcmtk's storescu allows any SCP: the SCP that stores nothing (15)
    # over dcmtk's storescp; a throughput target above it is out of reach
    for label, corpus, threshold in (
        ("SCP ingest, CT: 1.5x", "ct", 1.5),
        ("small objects: 2x", "small", 2.0),
    ):
        cells = []
        for p in pdus:
            v, spread = ratio(results, corpus, p, 15, 3)
            if v is None:
                cells.append("not run")
                continue
            where = "above" if v >= threshold else "**below**"
            cells.append(f"{v:.2f}x{spread} ({where} the target)")
        if any(c != "not run" for c in cells):
            lines.append(
                f"| ceiling for {label} dcmtk storescu into an SCP storing nothing / "
                "dcmtk storescp (15 / 3) | " + " | ".join(cells) + " |"
            )
    # what the CPU target asks of the machine: the bare receiver's CPU per CT
    # instance (socket -> new file, no DICOM) over pynetdicom storescp's; above
    # 0.1, no one-file-per-instance SCP can meet the target on this machine
    floor = (probes or {}).get(("ct", "receive"), [])
    if floor:
        cells = []
        for p in pdus:
            pyn = _median(results.get(("ct", p, 4), []), lambda t: t.cpu_ms_per_instance)
            if not pyn:
                cells.append("not run")
                continue
            v = statistics.median(floor) / pyn
            cells.append(f"{v:.3f} ({'below' if v <= 0.1 else '**above**'} 1/10)")
        lines.append(
            "| floor: a bare socket -> file receiver's CPU per instance / pynetdicom "
            "storescp's, CT (receive / 4) | " + " | ".join(cells) + " |"
        )
    return lines


# the archive's comparisons: (label, corpus, numerator, denominator, threshold).
# A side is a pair number (instances/s; "MB/s" when the denominator is dd) or a
# probe name. threshold None: shown, not a target; "lift": 8 associations vs 1.
ARCHIVE_TARGETS: tuple[tuple[str, str, int | str, int | str, float | str | None], ...] = (
    ("durable ingest >= 0.9x dd's fdatasync MB/s, CT (7 / dd)", "ct", 7, "dd", 0.9),
    ("  same, storecore SCU sending (10 / dd)", "ct", 10, "dd", None),
    ("durable ingest >= 3x Orthanc, CT (7 / 9)", "ct", 7, 9, 3.0),
    ("  same, storecore SCU sending (10 / 12)", "ct", 10, 12, None),
    ("background >= 1.5x dcmtk storescp, CT (8 / 3)", "ct", 8, 3, 1.5),
    ("  same, storecore SCU into the archive (11 / 3)", "ct", 11, 3, None),
    ("durable, 1 association >= 0.8x create rate, small (7 / create)", "small", 7, "create", 0.8),
    ("  vs create + folder fsync (7 / create+dirsync)", "small", 7, "create+dirsync", None),
    ("  storecore SCU sending (10 / create)", "small", 10, "create", None),
    ("background >= 2x dcmtk's instances/s, small (8 / 3)", "small", 8, 3, 2.0),
    ("  same, storecore SCU into the archive (11 / 3)", "small", 11, 3, None),
    ("durable vs Orthanc, small (7 / 9)", "small", 7, 9, None),
    ("group commit: dcmtk x8 vs x1 into the durable archive, CT (13 / 7)", "ct", 13, 7, "lift"),
    ("group commit: storecore x8 vs x1, CT (14 / 10)", "ct", 14, 10, "lift"),
    ("group commit: dcmtk x8 vs x1, small (13 / 7)", "small", 13, 7, "lift"),
    ("group commit: storecore x8 vs x1, small (14 / 10)", "small", 14, 10, "lift"),
    # what the senders allow any receiver (pairs 15, 16: an SCP that stores
    # nothing), against the target they bound; "ceiling:T" says whether T is
    # within it, and what one file at a time allows (create-instance)
    ("ceiling: dcmtk storescu into an SCP storing nothing, CT (15 / dd)", "ct", 15, "dd",
     "ceiling:0.9"),
    ("ceiling: dcmtk storescu x8 into an SCP storing nothing, CT (16 / dd)", "ct", 16, "dd",
     "ceiling:0.9"),
    # one association, each answer after its own sync: an instance costs at
    # least the ceiling's time (15) plus one create + write + fsync + rename
    # of its size, one after the other: bound = 1 / (1/r15 + 1/r_create)
    ("bound, 1 association: SCP storing nothing, then create-instance, CT (bound / dd)", "ct",
     "bound:15:create-instance", "dd", "ceiling:0.9"),
    ("durable, 1 association vs that bound, CT (7 / bound)", "ct", 7,
     "bound:15:create-instance", None),
    ("bound, 1 association, vs Orthanc, CT (bound / 9)", "ct", "bound:15:create-instance", 9,
     "ceiling:3.0"),
    ("bound, 1 association: SCP storing nothing, then create, small (bound / create)", "small",
     "bound:15:create", "create", "ceiling:0.8"),
    ("durable, 1 association vs that bound, small (7 / bound)", "small", 7, "bound:15:create",
     None),
    ("ceiling: dcmtk storescu into an SCP storing nothing vs dcmtk storescp, CT (15 / 3)", "ct",
     15, 3, "ceiling:1.5"),
    ("ceiling: the same, small (15 / 3)", "small", 15, 3, "ceiling:2.0"),
)


def _side(
    results: Results, probes: Probes, corpus: str, pdu: int, side: int | str, mb: bool
) -> list[float | None]:
    """One figure per round (None: the run failed) of a pair, a probe or a bound.

    A bound ``bound:P:probe`` is, per round, the rate of pair P and of the probe
    (files/s) one after the other: ``1 / (1/r_P + 1/r_probe)``, in MB/s at the
    pair's instance size when `mb`.
    """
    if isinstance(side, str) and side.startswith("bound:"):
        _, pair, probe = side.split(":")
        runs = results.get((corpus, pdu, int(pair)), [])
        out: list[float | None] = []
        for t, files in zip(runs, probes.get((corpus, probe), []), strict=False):
            if not t.ok or not t.per_second or not files:
                out.append(None)
                continue
            rate = 1 / (1 / t.per_second + 1 / files)
            out.append(rate * t.mb_per_second / t.per_second if mb else rate)
        return out
    if isinstance(side, str):
        return list(probes.get((corpus, side), []))
    runs = results.get((corpus, pdu, side), [])
    return [(t.mb_per_second if mb else t.per_second) if t.ok else None for t in runs]


def _ratio_of(a: list[float | None], b: list[float | None]) -> tuple[float | None, str]:
    good_a, good_b = [v for v in a if v], [v for v in b if v]
    if not good_a or not good_b:
        return None, ""
    per_round = [x / y for x, y in zip(a, b, strict=False) if x and y]
    return statistics.median(good_a) / statistics.median(good_b), _range(per_round)


def probe_table(probes: Probes, corpora: list[str]) -> list[str]:
    lines = [
        "| floor (in the benchmark's folder) | "
        + " | ".join(f"during the {c} rounds" for c in corpora)
        + " |",
        "|---|" + "---:|" * len(corpora),
    ]
    for name, what in ALL_PROBES.items():
        if not any(k == name for _, k in probes):
            continue
        cells = []
        for c in corpora:
            values = probes.get((c, name), [])
            spread = f" ({_fmt(min(values))}-{_fmt(max(values))})" if len(values) > 1 else ""
            cells.append(f"{_fmt(statistics.median(values))}{spread}" if values else "-")
        lines.append(f"| {name}: {what} | " + " | ".join(cells) + " |")
    return lines


def archive_table(results: Results, probes: Probes, pdu: int) -> list[str]:
    lines = ["| archive comparison (median of a / median of b, per-round range) | ratio | |",
             "|---|---:|---|"]  # fmt: skip
    for label, corpus, a, b, threshold in ARCHIVE_TARGETS:
        mb = b == "dd"
        v, spread = _ratio_of(
            _side(results, probes, corpus, pdu, a, mb), _side(results, probes, corpus, pdu, b, mb)
        )
        if v is None:
            lines.append(f"| {label} | not run | |")
            continue
        if threshold == "lift":
            verdict = "lifts" if v > 1.0 else "**does not lift**"
        elif isinstance(threshold, str) and threshold.startswith("ceiling:"):
            target = float(threshold.split(":")[1])
            verdict = (
                f"a {target:g}x target is within it"
                if v >= target
                else f"**a {target:g}x target is above it**"
            )
        elif threshold is None:
            verdict = ""
        else:
            verdict = "met" if v >= float(threshold) else "**missed**"
        lines.append(f"| {label} | {v:.2f}x{spread} | {verdict} |")
    return lines


def source_revision() -> str:
    """The last commit that changed the storecore package measured, and whether it has changes."""
    src = Path(storecore.__file__).resolve().parent
    try:
        head = subprocess.run(
            ["git", "-C", str(src), "log", "-1", "--format=%h", "--", "."],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "--no-optional-locks", "-C", str(src), "status", "--porcelain", "--", "."],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "an unknown revision (not a git checkout)"
    if not head:  # an installed package: no history
        return "an unknown revision (not a git checkout)"
    return head + (" + uncommitted changes" if dirty else "")


def machine_notes() -> list[str]:
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    dcmtk = "missing"
    if not dcmtk_missing():
        out = subprocess.run([STORESCU, "--version"], capture_output=True, text=True).stdout
        dcmtk = out.split("\n", 2)[0].strip("$ ").strip()
    return [
        f"{datetime.date.today().isoformat()}, storecore {source_revision()} (last commit to "
        "the package), "
        f"{model}, {os.cpu_count()} cores, "
        f"Linux {platform.release()}, Python {platform.python_version()}, "
        f"storecore {getattr(storecore, '__version__', '?')}, {dcmtk} (Debian), "
        f"pynetdicom {pynetdicom.__version__}, pydicom {pydicom.__version__}"
    ]


def filesystem(path: Path) -> str:
    """The type and device of the mount `path` is on, from /proc/mounts."""
    best, found = "", "?"
    resolved = str(path.resolve())
    try:
        for line in Path("/proc/mounts").read_text().splitlines():
            device, mount, kind = line.split()[:3]
            inside = resolved == mount or resolved.startswith(mount.rstrip("/") + "/")
            if inside and len(mount) >= len(best):
                best, found = mount, f"{kind} on {device}"
    except OSError:
        pass
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archive", action="store_true",
                        help=f"the archive's run: --pairs {ARCHIVE_PAIRS} --corpora ct,small "
                        "--pdu 131072 and the disk probes, unless given")  # fmt: skip
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--slow-rounds", type=int, default=2,
                        help="rounds of pairs 4 and 5 on the small corpus")  # fmt: skip
    parser.add_argument("--multiframe-rounds", type=int, default=2)
    parser.add_argument("--pdu", help="receivers' max PDU lengths, comma-separated "
                        "(default 131072,16384; --archive: 131072)")  # fmt: skip
    parser.add_argument("--corpora", help="default ct,small,multiframe (--archive: ct,small)")
    parser.add_argument("--pairs", help=f"default {NETWORK_PAIRS} (--archive: {ARCHIVE_PAIRS})")
    for name, count in CORPORA.items():
        parser.add_argument(f"--{name}", type=int, default=count, help="instances")
    parser.add_argument("--pynetdicom-small-cap", type=int, default=500,
                        help="instances pair 5 sends of the small corpus")  # fmt: skip
    parser.add_argument("--sample", type=int, default=5,
                        help="received files per run read back and compared")  # fmt: skip
    parser.add_argument("--probes", choices=("on", "off"),
                        help="run the floors' probes in each round (default on: the disk's "
                        "when an archive pair runs, else the bare receiver's)")  # fmt: skip
    parser.add_argument("--probe-files", type=int, default=2000,
                        help="files per create-rate probe")  # fmt: skip
    parser.add_argument("--corpus-dir", type=Path,
                        help="generate the corpora here, keep them, reuse them")  # fmt: skip
    parser.add_argument("--receive-dir", type=Path,
                        help="where the receivers write (default: the temporary folder, on "
                        "the disk); e.g. /dev/shm to take the filesystem out")  # fmt: skip
    parser.add_argument("--json", type=Path, help="write every run's figures here")
    args = parser.parse_args(argv)

    pairs = [int(k) for k in (args.pairs or (ARCHIVE_PAIRS if args.archive else NETWORK_PAIRS))
             .split(",")]  # fmt: skip
    pdus = [int(p) for p in (args.pdu or ("131072" if args.archive else "131072,16384"))
            .split(",")]  # fmt: skip
    corpora = (args.corpora or ("ct,small" if args.archive else "ct,small,multiframe")).split(",")
    durable = any(PAIRS[k].receiver in ARCHIVES or PAIRS[k].receiver == "orthanc" for k in pairs)
    # the disk's floors for the archive's runs, the bare receiver's for the network's
    probe_names = (
        [] if args.probes == "off" else list(PROBES) if durable else list(NETWORK_PROBES)
    )
    if dcmtk_missing() and any("dcmtk" in PAIRS[k] for k in pairs):
        print(DCMTK_MISSING, file=sys.stderr)
        return 2
    if orthanc_missing() and any(PAIRS[k].receiver == "orthanc" for k in pairs):
        print(ORTHANC_MISSING, file=sys.stderr)
        return 2
    command = "python3 benchmarks/network.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    results: Results = defaultdict(list)
    probes: Probes = defaultdict(list)
    revision = source_revision()
    loads = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory(prefix="storecore-net-") as tmp:
        corpus_root = args.corpus_dir or Path(tmp) / "corpus"
        workdir = Path(tempfile.mkdtemp(prefix="storecore-net-", dir=args.receive_dir or tmp))
        built: dict[str, NetCorpus] = {}
        for name in corpora:
            print(f"generating {name} ...", file=sys.stderr, flush=True)
            built[name] = build(name, corpus_root, getattr(args, name))
        for name in corpora:
            corpus = built[name]
            rounds = args.multiframe_rounds if name == "multiframe" else args.rounds
            for r in range(rounds):
                for i, pdu in enumerate(pdus):
                    # the probes run once per round, in the rotation with the pairs
                    items: list[int | str] = [*pairs, *(probe_names if i == 0 else [])]
                    order = items[r % len(items) :] + items[: r % len(items)]
                    for k in order:
                        if isinstance(k, str):
                            settle(workdir, corpus.total_bytes)
                            # the receive probe sends as many instances as the corpus
                            # holds, at most --probe-files (4 x 200 MB, not 2,000 of them)
                            files = args.probe_files
                            if k in NETWORK_PROBES:
                                files = min(files, len(corpus))
                            value = run_probe(k, workdir, files=files,
                                              size=round(corpus.mean_bytes))  # fmt: skip
                            probes[(name, k)].append(value)
                            loads.append(os.getloadavg()[0])
                            unit = ALL_PROBES[k].split(",")[0]
                            print(f"{name} round {r + 1}/{rounds} probe {k}: {_fmt(value)} {unit}",
                                  file=sys.stderr, flush=True)  # fmt: skip
                            continue
                        sender, receiver, associations = PAIRS[k]
                        sent = corpus
                        if name == "small" and "pynetdicom" in (sender, receiver):
                            if r >= args.slow_rounds:
                                continue
                            if sender == "pynetdicom":
                                sent = corpus.head(args.pynetdicom_small_cap)
                        t = run_transfer(sender, receiver, sent, workdir, pdu=pdu,
                                         sample=args.sample, associations=associations)  # fmt: skip
                        results[(name, pdu, k)].append(t)
                        loads.append(t.load)
                        status = "ok" if t.ok else "FAILED: " + "; ".join(t.problems)
                        print(
                            f"{name} round {r + 1}/{rounds} pdu {pdu} #{k} {t.pair}: "
                            f"{t.per_second:,.0f}/s {t.mb_per_second:,.0f} MB/s, "
                            f"receiver {t.receiver_cpu:.2f} s CPU {t.receiver_rss_mb:.0f} MB, "
                            f"load {t.load:.1f}: {status}",
                            file=sys.stderr,
                            flush=True,
                        )
        where = f"receivers writing to {workdir.parent} ({filesystem(workdir)})"
        where += (
            "; the archives and Orthanc fsync as their settings say, the other receivers never"
            if durable
            else ", no fsync"
        )
        out = [
            f"`{command}`",
            "",
            *machine_notes(),
            where,
            *(
                [f"**storecore's source changed during the run**: {revision} at the start"]
                if source_revision() != revision
                else []
            ),
            f"1-minute load average during the run: median {statistics.median(loads):.1f}, "
            f"max {max(loads):.1f}",
            "",
        ]
        for name in corpora:
            for pdu in pdus:
                out += pair_table(results, built[name], pdu, pairs)
                if name == "small" and 5 in pairs:
                    cap = min(args.pynetdicom_small_cap, len(built[name]))
                    out.append(f"(pair 5 sent the first {cap:,} instances only)")
                out.append("")
        if probe_names:
            out += [*probe_table(probes, corpora), ""]
        if any(k in pairs for k in (1, 2, 4, 5, 6)):
            out += [*ratio_table(results, corpora, pdus), ""]
            out += [*target_table(results, pdus, probes), ""]
        if durable:
            for pdu in pdus:
                out += [f"Archive, max PDU {pdu:,}", "", *archive_table(results, probes, pdu), ""]
        print("\n".join(out).rstrip())
        if args.receive_dir:
            shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        runs = [t.as_dict() for runs in results.values() for t in runs]
        figures = [{"corpus": c, "probe": k, "values": v} for (c, k), v in probes.items()]
        args.json.write_text(json.dumps({"transfers": runs, "probes": figures}, indent=1))
    failed = [t for runs in results.values() for t in runs if not t.ok]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

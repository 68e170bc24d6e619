"""Side-by-side throughput: storecore against pydicom and python-gdcm, in one process.

Run from the repository root::

    PYTHONPATH=src python3 benchmarks/compare.py [--rounds 7] [--round-time 0.15]

Generates the benchmark corpus (``_corpus.py``) in a temporary directory,
checks every implementation's output once (the same checks as the pytest
suites), then times them interleaved: in each round every implementation runs
a batch of calls of about ``--round-time`` seconds, in an order rotated from
round to round, so that drifts in CPU frequency or page-cache state hit all of
them alike. Reported times are medians over rounds of the mean time per call.

Targets (see benchmarks/README.md): summarize >= 20x pydicom's
``dcmread(stop_before_pixels=True)`` per file including the read; native
transcoding of the 0.5 MB CT >= 10x pydicom, >= 2x python-gdcm in-process and
>= 1 GB/s.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import numpy as np
import pydicom

import storecore
from _corpus import TRANSCODE_CASES as CASES
from _corpus import Corpus, build_corpus, pydicom_readable_files
from _peers import (
    SCANNERS,
    TRANSCODERS,
    InMemoryTranscode,
    agreed_scan_files,
    check_transcoded,
    expected_keys,
    gdcm,
    gdcm_scanner_batch,
    unlink,
)
from storecore.dataset import read_file_meta, summarize, summarize_file

SCAN_TARGET = 20.0  # x pydicom
TRANSCODE_TARGET_PYDICOM = 10.0  # x pydicom
TRANSCODE_TARGET_GDCM = 2.0  # x python-gdcm
TRANSCODE_TARGET_GBPS = 1.0


@dataclass
class Op:
    """One operation, done by several implementations; each call is timed alone."""

    name: str
    kind: str  # "scan" or "transcode"
    calls: dict[str, Callable[[], object]]
    setup: Callable[[], object] | None = None  # before each call, not timed
    per_call_items: int = 1  # a call that scans 200 files reports per file
    nbytes: int = 0  # bytes in, for GB/s
    times: dict[str, list[float]] = field(default_factory=dict)


def _time_batch(fn: Callable[[], object], setup: Callable[[], object] | None, n: int) -> float:
    total = 0.0
    for _ in range(n):
        if setup is not None:
            setup()
        t0 = time.perf_counter()
        fn()
        total += time.perf_counter() - t0
    return total / n


def run(op: Op, rounds: int, round_time: float) -> None:
    names = list(op.calls)
    batch = {}
    for name in names:  # calibrate: one warm call, then the batch size
        single = min(_time_batch(op.calls[name], op.setup, 1) for _ in range(3))
        batch[name] = max(1, int(round_time / max(single, 1e-7)))
        op.times[name] = []
    for r in range(rounds):
        for k in range(len(names)):
            name = names[(k + r) % len(names)]
            gc.collect()
            per_call = _time_batch(op.calls[name], op.setup, batch[name])
            op.times[name].append(per_call / op.per_call_items)


def median_ms(op: Op, name: str) -> float | None:
    t = op.times.get(name)
    return statistics.median(t) * 1e3 if t else None


def _fmt_ms(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:.4f}" if v < 0.1 else f"{v:.3f}" if v < 10 else f"{v:.1f}"


def _ratio(a: float | None, b: float | None) -> float | None:
    return b / a if a and b else None


def _fmt_x(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f}x"


# --- the operations ------------------------------------------------------------


def scan_ops(corpus: Corpus, agreed: list[Path]) -> list[Op]:
    impls = {name: fn for name, (fn, needs) in SCANNERS.items() if not needs or gdcm}
    ops = []
    ct = corpus.ct["ct_explicit_le"]
    ops.append(Op("scan CT 0.5 MB", "scan", {n: (lambda f=f: f(ct)) for n, f in impls.items()}))
    files = corpus.scan_files
    calls: dict[str, Callable[[], object]] = {
        n: (lambda f=f: [f(p) for p in files]) for n, f in impls.items()
    }
    if gdcm is not None:
        names = [str(p) for p in files]
        calls["gdcm-scanner-batch"] = lambda: gdcm_scanner_batch(names)
    ops.append(
        Op(f"scan {len(files)} CT files, per file", "scan", calls, per_call_items=len(files))
    )
    for name, path in corpus.scan_set.items():
        ops.append(
            Op(f"scan {name}", "scan", {n: (lambda f=f, p=path: f(p)) for n, f in impls.items()})
        )
    all_calls: dict[str, Callable[[], object]] = {
        n: (lambda f=f: [f(p) for p in agreed]) for n, f in impls.items()
    }
    if gdcm is not None:
        agreed_names = [str(p) for p in agreed]
        all_calls["gdcm-scanner-batch"] = lambda: gdcm_scanner_batch(agreed_names)
    ops.append(
        Op(
            f"scan all {len(agreed)} pydicom test files, per file",
            "scan",
            all_calls,
            per_call_items=len(agreed),
        )
    )
    return ops


def check_scans(corpus: Corpus) -> None:
    impls = {name: fn for name, (fn, needs) in SCANNERS.items() if not needs or gdcm}
    paths = [corpus.ct["ct_explicit_le"], *corpus.scan_set.values(), *corpus.scan_files[:5]]
    for path in paths:
        want = expected_keys(path)
        for name, fn in impls.items():
            got = fn(path)
            assert got == want, f"{name} on {path.name}: {got} != {want}"
    if gdcm is not None:
        got = gdcm_scanner_batch([str(p) for p in corpus.scan_files])
        assert [k[1] for k in got] == corpus.scan_uids


def transcode_ops(corpus: Corpus, out: Path) -> list[Op]:
    impls = {name: fn for name, (fn, needs) in TRANSCODERS.items() if not needs or gdcm}
    dst = out / "out.dcm"
    ops = []
    for case, (stem, ts) in CASES.items():
        src = corpus.ct[stem]
        calls: dict[str, Callable[[], object]] = {
            n: (lambda f=f, s=src, t=ts: f(s, dst, t)) for n, f in impls.items()
        }
        ops.append(
            Op(
                f"transcode {case}",
                "transcode",
                calls,
                setup=lambda: unlink(dst),
                nbytes=src.stat().st_size,
            )
        )
        memory = InMemoryTranscode(src, ts)
        ops.append(
            Op(
                f"transcode {case}, in memory",
                "memory",
                {"storecore": memory},
                nbytes=len(memory.dataset),
            )
        )
    return ops


def check_transcodes(corpus: Corpus, out: Path) -> None:
    reference = pydicom.dcmread(corpus.ct["ct_explicit_le"])
    impls = {name: fn for name, (fn, needs) in TRANSCODERS.items() if not needs or gdcm}
    for case, (stem, ts) in CASES.items():
        for name, fn in impls.items():
            dst = out / f"check-{name}-{case}.dcm"
            fn(corpus.ct[stem], dst, ts)
            try:
                check_transcoded(dst, ts, reference, corpus.ct_pixels)
            except AssertionError as exc:
                raise AssertionError(f"{name} {case}: {exc}") from None
            dst.unlink()
        memory = InMemoryTranscode(corpus.ct[stem], ts)
        memory()
        check_transcoded(memory.part10(), ts, reference, corpus.ct_pixels)


def breakdown_ops(corpus: Corpus, out: Path) -> list[Op]:
    """storecore's steps, by its public API, against the bare I/O they need."""
    ct = corpus.ct["ct_explicit_le"]
    dst = out / "floor.dcm"
    with open(ct, "rb") as f:
        head = f.read(64 * 1024)

    def read(n: int) -> Callable[[], bytes]:
        def fn() -> bytes:
            with open(ct, "rb", buffering=0) as f:
                return f.read(n)

        return fn

    def copy() -> None:
        with open(ct, "rb") as f:
            data = f.read()
        with open(dst, "wb") as g:
            g.write(data)

    steps: list[tuple[str, Callable[[], object]]] = [
        ("floor: open + read 16 KiB", read(16 * 1024)),
        ("open + read 64 KiB (summarize_file's first read)", read(64 * 1024)),
        ("read_file_meta(first 64 KiB)", lambda: read_file_meta(head)),
        ("summarize(first 64 KiB), in memory", lambda: summarize(head)),
        ("summarize_file(path)", lambda: summarize_file(ct)),
    ]
    ops = [Op(name, "breakdown", {"storecore": fn}) for name, fn in steps]
    ops.append(
        Op(
            "floor: read + write the 0.5 MB file (new file)",
            "breakdown",
            {"storecore": copy},
            setup=lambda: unlink(dst),
        )
    )
    return ops


# --- the report ----------------------------------------------------------------


def _best_gdcm(op: Op) -> tuple[str | None, float | None]:
    best: tuple[str | None, float | None] = (None, None)
    for name in op.calls:
        if name.startswith("gdcm"):
            v = median_ms(op, name)
            if v is not None and (best[1] is None or v < best[1]):
                best = (name, v)
    return best


def _met(ok: bool) -> str:
    return "met" if ok else "**missed**"


def report(scan: list[Op], transcode: list[Op], breakdown: list[Op], rounds: int) -> str:
    lines = []
    lines.append(
        "| scan (6 keys, per file, incl. open + read) | storecore ms | pydicom ms "
        "| gdcm-reader ms | gdcm-scanner ms | gdcm-scanner-batch ms | vs pydicom | vs best gdcm "
        f"| target >= {SCAN_TARGET:.0f}x pydicom |"
    )
    lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for op in scan:
        sc = median_ms(op, "storecore")
        pd = median_ms(op, "pydicom")
        _, gd = _best_gdcm(op)
        vs_pd = _ratio(sc, pd)
        target = "-" if vs_pd is None else _met(vs_pd >= SCAN_TARGET)
        lines.append(
            f"| {op.name} | {_fmt_ms(sc)} | {_fmt_ms(pd)} "
            f"| {_fmt_ms(median_ms(op, 'gdcm-reader'))} | {_fmt_ms(median_ms(op, 'gdcm-scanner'))} "
            f"| {_fmt_ms(median_ms(op, 'gdcm-scanner-batch'))} "
            f"| {_fmt_x(vs_pd)} | {_fmt_x(_ratio(sc, gd))} | {target} |"
        )
    lines.append("")
    lines.append(
        "| transcode 0.5 MB CT, file to file | storecore ms | storecore GB/s | pydicom ms "
        "| gdcm-file ms | gdcm-image ms | vs pydicom | vs best gdcm "
        f"| targets >= {TRANSCODE_TARGET_PYDICOM:.0f}x pydicom / >= {TRANSCODE_TARGET_GDCM:.0f}x "
        f"gdcm / >= {TRANSCODE_TARGET_GBPS:.0f} GB/s |"
    )
    lines.append("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for op in transcode:
        sc = median_ms(op, "storecore")
        gbps = op.nbytes / (sc * 1e-3) / 1e9 if sc and op.nbytes else None
        if op.kind == "memory":
            lines.append(
                f"| {op.name} (storecore only) | {_fmt_ms(sc)} | {gbps:.2f} | | | | | | "
                f"{_met(bool(gbps and gbps >= TRANSCODE_TARGET_GBPS))} (GB/s) |"
            )
            continue
        pd = median_ms(op, "pydicom")
        _, gd = _best_gdcm(op)
        vs_pd, vs_gd = _ratio(sc, pd), _ratio(sc, gd)
        if vs_pd is None:
            target = "-"
        else:
            target = " / ".join(
                [
                    _met(vs_pd >= TRANSCODE_TARGET_PYDICOM),
                    "-" if vs_gd is None else _met(vs_gd >= TRANSCODE_TARGET_GDCM),
                    _met(bool(gbps and gbps >= TRANSCODE_TARGET_GBPS)),
                ]
            )
        lines.append(
            f"| {op.name} | {_fmt_ms(sc)} | {gbps:.2f} | {_fmt_ms(pd)} "
            f"| {_fmt_ms(median_ms(op, 'gdcm-file'))} | {_fmt_ms(median_ms(op, 'gdcm-image'))} "
            f"| {_fmt_x(vs_pd)} | {_fmt_x(vs_gd)} | {target} |"
        )
    lines.append("")
    lines.append("| storecore's steps and the I/O floors (the generated CT) | ms |")
    lines.append("|---|---:|")
    for op in breakdown:
        lines.append(f"| {op.name} | {_fmt_ms(median_ms(op, 'storecore'))} |")
    lines.append("")
    lines.append(f"Medians of {rounds} interleaved rounds; '-' = not applicable or not installed.")
    return "\n".join(lines)


def environment() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    gdcm_version = gdcm.Version.GetVersion() if gdcm is not None else "not installed"
    return (
        f"{datetime.date.today().isoformat()}, {cpu}, {os.cpu_count()} cores, "
        f"Linux {platform.release()}, load average {os.getloadavg()[0]:.2f} at start; "
        f"Python {platform.python_version()}, "
        f"storecore {storecore.__version__}, pydicom {pydicom.__version__}, "
        f"python-gdcm {gdcm_version}, numpy {np.__version__}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (default 7)")
    parser.add_argument(
        "--round-time", type=float, default=0.15, help="seconds per batch (default 0.15)"
    )
    parser.add_argument("--scan-files", type=int, default=200, help="CT files for the scan")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")  # pydicom's warnings on odd test files
    with tempfile.TemporaryDirectory(prefix="storecore-bench-") as tmp:
        root = Path(tmp)
        print(f"# storecore side by side\n\n{environment()}\n", flush=True)
        corpus = build_corpus(root / "corpus", args.scan_files)
        out = root / "out"
        out.mkdir()
        check_scans(corpus)
        check_transcodes(corpus, out)
        print("outputs checked; timing ...\n", file=sys.stderr, flush=True)
        agreed, rejected = agreed_scan_files(
            [(p, expected_keys(p)) for p in pydicom_readable_files()]
        )
        scan = scan_ops(corpus, agreed)
        transcode = transcode_ops(corpus, out)
        breakdown = breakdown_ops(corpus, out)
        for op in [*scan, *transcode, *breakdown]:
            print(f"  {op.name}", file=sys.stderr, flush=True)
            run(op, args.rounds, args.round_time)
        print(report(scan, transcode, breakdown, args.rounds))
        if rejected:
            print("\nLeft out of the all-files scan (a reader disagrees with pydicom or rejects):")
            for name, why in sorted(rejected.items()):
                print(f"- {name}: {why[:160]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

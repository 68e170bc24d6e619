#!/usr/bin/env python3
"""What validation costs on ingest: Archive.store_file over CT-like files, with and without.

    PYTHONPATH=src python3 tools/bench_validators.py [N] [--durability fsync|background]
        [--rounds R] [--hook] [--breakdown]

Writes N (default 1000) conformant 512x512 16-bit CT Images (~0.5 MiB each)
to a temporary folder, then stores them into fresh archives alternately
without and with the default registry's validator (built-ins: every check of
``builtin:common`` and ``builtin:iod``), R rounds each (default 3; the order
is swapped every round, so neither always runs first), and prints the best
and the median time of each, the process CPU time, the overhead (also as the
median of each round's own ratio, "paired"), and the load average (other
jobs on the machine show in it). ``--hook`` adds a validator that returns
nothing: the cost of the hook itself (the scanner keeping its tokens, the
instance record) apart from the checks.

``--breakdown`` also measures, inside the same runs, the thread CPU time of
what validation adds to an ingest: the validation step (the instance record,
the validator's call, its findings) and the scanner's extra work when it
keeps tokens for the validators (scanning with tokens minus without). On a
machine shared with other jobs the wall times vary by several percent from
round to round; these CPU times, taken call by call, vary much less.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pydicom
from pydicom.dataset import FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from storecore.storage import Archive, StoragePolicy
from storecore.storage.policy import Durability
from storecore.validators import Registry

CT = "1.2.840.10008.5.1.4.1.1.2"


def ct(i: int, study: str, series: str, frame: str) -> bytes:
    ds = pydicom.Dataset()
    uid = generate_uid()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = CT
    ds.file_meta.MediaStorageSOPInstanceUID = uid
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.SOPClassUID, ds.SOPInstanceUID = CT, uid
    ds.StudyDate, ds.StudyTime, ds.AccessionNumber = "20260101", "101010", "A1"
    ds.Modality, ds.Manufacturer, ds.ReferringPhysicianName = "CT", "bench", ""
    ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex = "Doe^J", "P1", "", "O"
    ds.SliceThickness, ds.KVP, ds.PatientPosition = "1.0", "120", "HFS"
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
    ds.StudyID, ds.SeriesNumber, ds.AcquisitionNumber, ds.InstanceNumber = "1", 1, 1, i + 1
    ds.ImagePositionPatient = [0, 0, i]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.PositionReferenceIndicator = ""
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.Rows = ds.Columns = 512
    ds.PixelSpacing = [0.5, 0.5]
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.RescaleIntercept, ds.RescaleSlope = "-1024", "1"
    ds.PixelData = bytes(512 * 512 * 2)
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def run(files: list[Path], root: Path, policy: StoragePolicy) -> tuple[float, float]:
    """Wall and process CPU seconds to store `files` into a new archive."""
    with Archive(root, policy=policy) as archive:
        start, cpu = time.perf_counter(), time.process_time()
        for f in files:
            result = archive.store_file(f, calling_ae_title="BENCH")
            if result.status != 0:
                raise SystemExit(f"{f}: 0x{result.status:04X} {result.comment}")
        return time.perf_counter() - start, time.process_time() - cpu


def _nothing(instance: object) -> list[object]:
    return []


class _Breakdown:
    """Thread CPU nanoseconds spent in the ingest's validation step and its scanner."""

    def __init__(self) -> None:
        self.validate = 0
        self.scan = 0

    def install(self) -> None:
        from storecore.storage import ingest

        validate = ingest._IngestHandle._validate
        spent = self

        def timed_validate(handle: Any, *args: Any) -> Any:
            start = time.thread_time_ns()
            try:
                return validate(handle, *args)
            finally:
                spent.validate += time.thread_time_ns() - start

        class TimedScanner(ingest.Scanner):  # type: ignore[misc,name-defined]
            def feed(self, data: Any) -> Any:
                start = time.thread_time_ns()
                try:
                    return super().feed(data)
                finally:
                    spent.scan += time.thread_time_ns() - start

            def close(self) -> Any:
                start = time.thread_time_ns()
                try:
                    return super().close()
                finally:
                    spent.scan += time.thread_time_ns() - start

        ingest._IngestHandle._validate = timed_validate  # type: ignore[method-assign]
        ingest.Scanner = TimedScanner  # type: ignore[attr-defined,misc]

    def take(self) -> tuple[int, int]:
        out = (self.validate, self.scan)
        self.validate = self.scan = 0
        return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("n", nargs="?", type=int, default=1000)
    parser.add_argument("--durability", default="fsync", choices=["fsync", "background"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--hook", action="store_true", help="also time a validator doing nothing")
    parser.add_argument(
        "--breakdown", action="store_true", help="CPU time of validation's share, call by call"
    )
    args = parser.parse_args()
    breakdown = _Breakdown()
    if args.breakdown:
        breakdown.install()
    durability = Durability(args.durability)
    with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        study, series, frame = generate_uid(), generate_uid(), generate_uid()
        files = []
        for i in range(args.n):
            path = corpus / f"{i:05d}.dcm"
            path.write_bytes(ct(i, study, series, frame))
            files.append(path)
        check = Registry(entry_points=False).validator()
        policies = [
            ("without", StoragePolicy(min_free_bytes=0, durability=durability)),
            ("with", StoragePolicy(min_free_bytes=0, durability=durability, validators=(check,))),
        ]
        if args.hook:
            policies.append(
                (
                    "hook",
                    StoragePolicy(min_free_bytes=0, durability=durability, validators=(_nothing,)),
                )
            )
        wall: dict[str, list[float]] = {name: [] for name, _ in policies}
        cpu: dict[str, list[float]] = {name: [] for name, _ in policies}
        spent: dict[str, list[tuple[int, int]]] = {name: [] for name, _ in policies}
        load = os.getloadavg()[0]
        for r in range(args.rounds):
            for name, policy in policies if r % 2 == 0 else policies[::-1]:
                breakdown.take()
                w, c = run(files, Path(tmp) / f"{name}{r}", policy)
                wall[name].append(w)
                cpu[name].append(c)
                spent[name].append(breakdown.take())
        n = args.n
        print(
            f"{n} CT files, durability {args.durability}, {args.rounds} rounds, load average "
            f"{load:.2f} -> {os.getloadavg()[0]:.2f} (1 min)"
        )
        base = {
            "best": min(wall["without"]),
            "median": statistics.median(wall["without"]),
            "cpu": statistics.median(cpu["without"]),
        }
        for name, _ in policies:
            got = {
                "best": min(wall[name]),
                "median": statistics.median(wall[name]),
                "cpu": statistics.median(cpu[name]),
            }
            line = ", ".join(
                f"{what} {t / n * 1e6:.0f} us"
                + ("" if name == "without" else f" ({(t - base[what]) / base[what] * 100:+.1f}%)")
                for what, t in got.items()
            )
            if name != "without":
                # each round's own ratio (the runs of a round are adjacent in
                # time): steadier than best or median when the load drifts
                paired = statistics.median(
                    (w - b) / b for w, b in zip(wall[name], wall["without"], strict=True)
                )
                line += f", paired {paired * 100:+.1f}%"
            print(f"  {name:8} per instance: {line}")
        if args.breakdown:

            def per(name: str, i: int) -> float:
                # per instance, the median over rounds, in microseconds
                return statistics.median(s[i] for s in spent[name]) / n / 1000

            scan_without = per("without", 1)
            ingest_cpu = base["cpu"] / n * 1e6
            for name, _ in policies[1:]:
                added = per(name, 0) + per(name, 1) - scan_without
                print(
                    f"  {name:8} thread CPU per instance: validation step {per(name, 0):.1f} us, "
                    f"scan {per(name, 1):.1f} us (without validators {scan_without:.1f} us): "
                    f"{added:.1f} us added, {added / ingest_cpu * 100:.1f}% of the "
                    f"{ingest_cpu:.0f} us of process CPU an ingest takes without"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())

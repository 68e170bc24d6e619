#!/usr/bin/env python3
"""What validation costs on ingest: Archive.store_file over CT-like files, with and without.

    PYTHONPATH=src python3 tools/bench_validators.py [N] [--durability fsync|background]
        [--rounds R] [--hook]

Writes N (default 1000) conformant 512x512 16-bit CT Images (~0.5 MiB each)
to a temporary folder, then stores them into fresh archives alternately
without and with the default registry's validator (built-ins: every check of
``builtin:common`` and ``builtin:iod``), R rounds each (default 3; the order
is swapped every round, so neither always runs first), and prints the best
and the median time of each, the process CPU time, the overhead, and the
load average (other jobs on the machine show in it). ``--hook`` adds a
validator that returns nothing: the cost of the hook itself (the scanner
keeping its tokens, the instance record) apart from the checks.
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


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("n", nargs="?", type=int, default=1000)
    parser.add_argument("--durability", default="fsync", choices=["fsync", "background"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--hook", action="store_true", help="also time a validator doing nothing")
    args = parser.parse_args()
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
        load = os.getloadavg()[0]
        for r in range(args.rounds):
            for name, policy in policies if r % 2 == 0 else policies[::-1]:
                w, c = run(files, Path(tmp) / f"{name}{r}", policy)
                wall[name].append(w)
                cpu[name].append(c)
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
            print(f"  {name:8} per instance: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""What validation costs on ingest: Archive.store_file over CT-like files, with and without.

    PYTHONPATH=src python3 tools/bench_validators.py [N] [--durability fsync|background]

Writes N (default 1000) conformant 512x512 16-bit CT Images (~0.5 MiB each)
to a temporary folder, then stores them into fresh archives alternately
without and with the default registry's validator (built-ins: every check of
``builtin:common`` and ``builtin:iod``), three rounds each, and prints the
best time of each and the overhead.
"""

from __future__ import annotations

import argparse
import io
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


def run(files: list[Path], root: Path, policy: StoragePolicy) -> float:
    with Archive(root, policy=policy) as archive:
        start = time.perf_counter()
        for f in files:
            result = archive.store_file(f, calling_ae_title="BENCH")
            if result.status != 0:
                raise SystemExit(f"{f}: 0x{result.status:04X} {result.comment}")
        return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("n", nargs="?", type=int, default=1000)
    parser.add_argument("--durability", default="fsync", choices=["fsync", "background"])
    parser.add_argument("--rounds", type=int, default=3)
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
        plain = StoragePolicy(min_free_bytes=0, durability=durability)
        validated = StoragePolicy(min_free_bytes=0, durability=durability, validators=(check,))
        times: dict[str, list[float]] = {"without": [], "with": []}
        for r in range(args.rounds):
            for name, policy in (("without", plain), ("with", validated)):
                times[name].append(run(files, Path(tmp) / f"{name}{r}", policy))
        a, b = min(times["without"]), min(times["with"])
        print(
            f"{args.n} CT files, durability {args.durability}: without validators {a:.2f} s "
            f"({args.n / a:.0f}/s), with {b:.2f} s ({args.n / b:.0f}/s): "
            f"+{(b - a) / a * 100:.1f}% ({(b - a) / args.n * 1e6:.0f} us per instance)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

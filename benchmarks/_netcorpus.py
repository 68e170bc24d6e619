"""The deterministic corpora of the network benchmark (``network.py``, ``test_bench_network.py``).

Nothing here is committed data: the files are generated with pydicom into a
directory the caller owns, from fixed UIDs and seeded pixels, so two runs send
the same bytes. Three shapes, after ANCHORS.md's loopback figures:

``ct``
    0.5 MB CT slices (512x512 16-bit), the scan/transcode benchmarks' CT
    (``_corpus.ct_dataset``: a scanner-like header with sequences and a private
    block), one file per slice with its own SOP Instance UID.
``small``
    ~4 KB Secondary Capture images (56x56 8-bit MONOCHROME2 with a Patient,
    Study, Series and SC Equipment header): the per-message cost dominates.
``multiframe``
    200 MB Multi-frame Grayscale Word Secondary Capture images (400 frames of
    512x512 16-bit): the per-byte cost dominates, and a receiver that holds the
    dataset in memory shows it in its peak RSS.

All in Explicit VR Little Endian, the syntax every receiver here prefers, so
nobody transcodes on the way.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    ExplicitVRLittleEndian,
    MultiFrameGrayscaleWordSecondaryCaptureImageStorage,
    SecondaryCaptureImageStorage,
)

from _corpus import EXPLICIT_LE, ct_dataset, ct_pixels, write_ct

__all__ = ["CORPORA", "NetCorpus", "build", "dataset_bytes"]

# UID roots of their own (2.25 UUID-derived, PS3.5 B.2), apart from _corpus.py's
_SMALL_ROOT = "2.25.271828182845904523536028747135266249"
_MULTI_ROOT = "2.25.141421356237309504880168872420969807"
_IMPLEMENTATION_UID = "2.25.271828182845904523536028747135266249.99"
_SEED = 20240611

#: corpus name -> default number of instances (what the issue asks for)
CORPORA = {"ct": 1000, "small": 5000, "multiframe": 4}


@dataclass(frozen=True)
class NetCorpus:
    """The files of one corpus, in sending order, and what they weigh."""

    name: str
    root: Path
    files: tuple[Path, ...]
    uids: tuple[str, ...]  # the SOP Instance UID of each file, same order
    total_bytes: int  # file sizes summed (File Meta included)

    def __len__(self) -> int:
        return len(self.files)

    @property
    def mean_bytes(self) -> float:
        return self.total_bytes / max(len(self.files), 1)

    def head(self, n: int) -> NetCorpus:
        """The first `n` instances (a cap for the slow pairs)."""
        n = min(n, len(self.files))
        total = sum(os.path.getsize(p) for p in self.files[:n])
        return NetCorpus(self.name, self.root, self.files[:n], self.uids[:n], total)


def _meta(ds: Dataset) -> FileMetaDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = _IMPLEMENTATION_UID
    meta.ImplementationVersionName = "SC_NETBENCH"
    return meta


def _sc_header(ds: Dataset, root: str, series: int) -> None:
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["DERIVED", "SECONDARY"]
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = "20240611"
    ds.StudyTime = "101010.000000"
    ds.AccessionNumber = "A20240611002"
    ds.Modality = "OT"
    ds.ConversionType = "WSD"
    ds.Manufacturer = "storecore benchmarks"
    ds.ReferringPhysicianName = "Médecin^Référent"
    ds.StudyDescription = "NETWORK BENCHMARK"
    ds.SeriesDescription = f"SERIES {series}"
    ds.PatientName = "Müller^Jürgen^^Dr."
    ds.PatientID = "PAT-000042"
    ds.PatientBirthDate = "19580224"
    ds.PatientSex = "M"
    ds.StudyInstanceUID = f"{root}.1"
    ds.SeriesInstanceUID = f"{root}.2.{series}"
    ds.StudyID = "4712"
    ds.SeriesNumber = series
    ds.PatientOrientation = ["L", "P"]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"


def _small(root: Path, count: int) -> list[tuple[Path, str]]:
    rng = np.random.default_rng(_SEED)
    base = rng.integers(0, 256, size=(56, 56), dtype=np.uint8)
    ds = Dataset()
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = f"{_SMALL_ROOT}.3.0"
    _sc_header(ds, _SMALL_ROOT, 1)
    ds.InstanceNumber = 1
    ds.Rows, ds.Columns = base.shape
    ds.BitsAllocated = 8
    ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.PixelData = base.tobytes()
    out = []
    for i in range(count):
        uid = f"{_SMALL_ROOT}.3.{i + 1}"
        ds.SOPInstanceUID = uid
        ds.InstanceNumber = i + 1
        ds.PixelData = np.roll(base, i, axis=1).tobytes()
        ds.file_meta = _meta(ds)
        path = root / f"sc_{i:05d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        out.append((path, uid))
    return out


def _multiframe(root: Path, count: int, frames: int = 400) -> list[tuple[Path, str]]:
    # unsigned 16-bit (the IOD requires Pixel Representation 0, PS3.3 C.8.6.3)
    slice_ = (ct_pixels().astype(np.int32) + 1024).astype("<u2")
    out = []
    for i in range(count):
        ds = Dataset()
        ds.SOPClassUID = MultiFrameGrayscaleWordSecondaryCaptureImageStorage
        uid = f"{_MULTI_ROOT}.3.{i + 1}"
        ds.SOPInstanceUID = uid
        _sc_header(ds, _MULTI_ROOT, 1)
        ds.InstanceNumber = i + 1
        ds.NumberOfFrames = frames
        ds.FrameIncrementPointer = 0x00181063  # Frame Time
        ds.FrameTime = "33.3"
        ds.Rows, ds.Columns = slice_.shape
        ds.BitsAllocated = 16
        ds.BitsStored = 12
        ds.HighBit = 11
        ds.PixelRepresentation = 0
        ds.RescaleIntercept = "-1024"
        ds.RescaleSlope = "1"
        ds.RescaleType = "HU"
        # every frame differs (a shifted slice): nothing deduplicates or compresses it away
        stack = np.empty((frames, *slice_.shape), dtype="<u2")
        for f in range(frames):
            stack[f] = np.roll(slice_, f + 7 * i, axis=1)
        ds.PixelData = stack.tobytes()
        del stack
        ds.file_meta = _meta(ds)
        path = root / f"mf_{i:02d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        del ds
        out.append((path, uid))
    return out


def _ct(root: Path, count: int) -> list[tuple[Path, str]]:
    pixels = ct_pixels()
    out = []
    for i in range(count):
        ds = ct_dataset(i, pixels)
        path = write_ct(root / f"ct_{i:04d}.dcm", ds, EXPLICIT_LE, pixels)
        out.append((path, str(ds.SOPInstanceUID)))
    return out


_BUILDERS = {"ct": _ct, "small": _small, "multiframe": _multiframe}


def build(name: str, root: Path, count: int | None = None, *, warm: bool = True) -> NetCorpus:
    """Generate corpus `name` with `count` instances under ``root/name`` (reused if complete).

    A folder holding a ``manifest.json`` for the same count is reused as is,
    so that repeated runs with ``--corpus-dir`` skip the generation; the
    content is deterministic, so a reused folder holds the same bytes.
    `warm` reads every file once, so that senders read from the page cache.
    """
    count = CORPORA[name] if count is None else count
    folder = root / name
    manifest = folder / "manifest.json"
    entries: list[tuple[Path, str]] | None = None
    if manifest.is_file():
        saved = json.loads(manifest.read_text())
        if saved.get("count") == count and all((folder / f).is_file() for f, _ in saved["files"]):
            entries = [(folder / f, uid) for f, uid in saved["files"]]
    if entries is None:
        folder.mkdir(parents=True, exist_ok=True)
        entries = _BUILDERS[name](folder, count)
        manifest.write_text(
            json.dumps({"count": count, "files": [(p.name, uid) for p, uid in entries]})
        )
    total = 0
    for path, _ in entries:
        total += os.path.getsize(path)
        if warm:
            with open(path, "rb") as fh:
                while fh.read(1 << 22):
                    pass
    return NetCorpus(
        name, folder, tuple(p for p, _ in entries), tuple(u for _, u in entries), total
    )


# VRs with a 2-byte reserved field and a 4-byte length (PS3.5 Table 7.1-1)
_LONG_VRS = frozenset(b"OB OD OF OL OV OW SQ SV UC UN UR UT UV".split())


def dataset_bytes(path: Path) -> bytes:
    """The bytes after the File Meta group of a Part 10 file: the dataset as sent.

    Walks the preamble and group 0002 itself (Explicit VR LE, PS3.10 7.1) rather
    than with storecore's reader, so that the check does not trust the code it
    checks.
    """
    data = Path(path).read_bytes()
    if data[128:132] != b"DICM":
        raise ValueError(f"{path}: no DICM prefix")
    pos = 132
    while pos + 8 <= len(data) and int.from_bytes(data[pos : pos + 2], "little") == 0x0002:
        vr = data[pos + 4 : pos + 6]
        if vr in _LONG_VRS:
            length = int.from_bytes(data[pos + 8 : pos + 12], "little")
            pos += 12 + length
        else:
            length = int.from_bytes(data[pos + 6 : pos + 8], "little")
            pos += 8 + length
    return data[pos:]

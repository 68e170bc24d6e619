"""The deterministic benchmark corpus, shared by ``conftest.py`` and ``compare.py``.

Nothing here is committed data: every file is generated with pydicom into a
directory the caller owns (pytest's session tmp dir, or a TemporaryDirectory in
``compare.py``), from fixed UIDs and a seeded numpy RNG, so two runs write the
same bytes.

The CT is a 512x512 16-bit signed image (0.5 MiB of Pixel Data) with a header
shaped like a scanner's: the Patient, General Study, General Series, Frame of
Reference, General Equipment, General/CT Image, Image Plane, Image Pixel and
VOI LUT modules, three sequences (one nested), a private block and the
ambiguous-VR Smallest/Largest Image Pixel Value (US or SS by Pixel
Representation, PS3.5 Annex A.1), so that the transcoders have real work.
"""

from __future__ import annotations

import glob
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import (
    CTImageStorage,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

__all__ = [
    "CT_SYNTAXES",
    "DEFLATED",
    "EXPLICIT_BE",
    "EXPLICIT_LE",
    "IMPLICIT_LE",
    "PYDICOM_DATA_SCAN_SET",
    "TRANSCODE_CASES",
    "Corpus",
    "build_corpus",
    "ct_dataset",
    "ct_pixels",
    "pydicom_readable_files",
    "sop_instance_uid",
    "write_ct",
]

IMPLICIT_LE = str(ImplicitVRLittleEndian)  # 1.2.840.10008.1.2
EXPLICIT_LE = str(ExplicitVRLittleEndian)  # 1.2.840.10008.1.2.1
EXPLICIT_BE = str(ExplicitVRBigEndian)  # 1.2.840.10008.1.2.2
DEFLATED = str(DeflatedExplicitVRLittleEndian)  # 1.2.840.10008.1.2.1.99

#: file stem -> transfer syntax of the generated CT files (the same instance)
CT_SYNTAXES = {
    "ct_explicit_le": EXPLICIT_LE,
    "ct_implicit_le": IMPLICIT_LE,
    "ct_explicit_be": EXPLICIT_BE,
    "ct_deflated": DEFLATED,
}

#: transcode case -> (source file stem in CT_SYNTAXES, target Transfer Syntax UID)
TRANSCODE_CASES = {
    "explicit-to-implicit": ("ct_explicit_le", IMPLICIT_LE),
    "implicit-to-explicit": ("ct_implicit_le", EXPLICIT_LE),
    "le-to-be": ("ct_explicit_le", EXPLICIT_BE),
    "be-to-le": ("ct_explicit_be", EXPLICIT_LE),
    "explicit-to-deflated": ("ct_explicit_le", DEFLATED),
    "deflated-to-explicit": ("ct_deflated", EXPLICIT_LE),
}

# A fixed UID root for the generated instances (2.25 UUID-derived, PS3.5 B.2),
# so that the corpus is identical from run to run.
_ROOT = "2.25.31415926535897932384626433832795"
_SEED = 20240611
SCAN_FILES = 200

#: The pydicom-data / pydicom test files the scan benchmark times one by one:
#: each encoding and a few header shapes (sequences-heavy RT Plan, a 1 MB
#: enhanced multi-frame header, deflated, encapsulated, big endian).
PYDICOM_DATA_SCAN_SET = (
    "CT_small.dcm",
    "MR_small_implicit.dcm",
    "MR_small_bigendian.dcm",
    "image_dfl.dcm",
    "JPEG2000.dcm",
    "rtplan.dcm",
    "waveform_ecg.dcm",
    "emri_small.dcm",
    "eCT_Supplemental.dcm",
    "US1_UNCR.dcm",
)


def ct_pixels() -> np.ndarray:
    """A CT-like slice: air, a soft-tissue ellipse, a bone ring, scanner noise.

    Realistic entropy matters for the Deflated benchmarks: uniform noise would
    not deflate at all, a blank image would deflate for free.
    """
    rng = np.random.default_rng(_SEED)
    y, x = np.mgrid[-256:256, -256:256].astype(np.float64)
    r = np.sqrt((x / 220.0) ** 2 + (y / 170.0) ** 2)
    image = np.full((512, 512), -1000.0)
    image[r < 1.0] = 40.0  # soft tissue
    image[(r > 0.88) & (r < 0.95)] = 700.0  # a bone ring
    image[(x + 60) ** 2 + (y - 20) ** 2 < 35**2] = -850.0  # a lung-like hole
    image += rng.normal(0.0, 12.0, size=image.shape)
    return np.clip(np.rint(image), -1024, 3071).astype("<i2")


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = scheme
    item.CodeMeaning = meaning
    return item


def sop_instance_uid(index: int) -> str:
    """The SOP Instance UID of slice `index`."""
    return f"{_ROOT}.3.{index + 1}"


def ct_dataset(index: int = 0, pixels: np.ndarray | None = None) -> Dataset:
    """The CT dataset (without File Meta) of slice `index` of the one series.

    Every slice has its own SOP Instance UID, Instance Number and position.
    """
    pixels = ct_pixels() if pixels is None else pixels
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = sop_instance_uid(index)
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = "20240611"
    ds.StudyTime = "101010.000000"
    ds.SeriesTime = "101200.000000"
    ds.ContentTime = f"1013{index % 60:02d}.{index:06d}"
    ds.AccessionNumber = "A20240611001"
    ds.Modality = "CT"
    ds.Manufacturer = "storecore benchmarks"
    ds.InstitutionName = "Hôpital de Démonstration"
    ds.ReferringPhysicianName = "Médecin^Référent"
    ds.StationName = "CT01"
    ds.StudyDescription = "CT THORAX WITH CONTRAST"
    ds.ProcedureCodeSequence = Sequence([_code("ZZ123", "99LOCAL", "CT thorax w/ contrast")])
    ds.SeriesDescription = "THORAX 1.0 B31f"
    ds.ManufacturerModelName = "BENCH-CT"
    ds.PatientName = "Müller^Jürgen^^Dr."
    ds.PatientID = "PAT-000042"
    ds.PatientBirthDate = "19580224"
    ds.PatientSex = "M"
    ds.PatientAge = "066Y"
    ds.PatientWeight = "81.5"
    # a private block: the text values every vendor adds (PS3.5 Section 7.8)
    ds.add_new(0x00090010, "LO", "STORECORE BENCH")
    ds.add_new(0x00091001, "LO", "RECON-KERNEL-7")
    ds.add_new(0x00091002, "DS", "0.625")
    ds.ContrastBolusAgent = "IOMEPROL 350"
    ds.BodyPartExamined = "CHEST"
    ds.SliceThickness = "1.0"
    ds.KVP = "120"
    ds.DataCollectionDiameter = "500.0"
    ds.ReconstructionDiameter = "380.0"
    ds.ExposureTime = "500"
    ds.XRayTubeCurrent = "230"
    ds.Exposure = "115"
    ds.ConvolutionKernel = "B31f"
    ds.PatientPosition = "FFS"
    ds.CTDIvol = 7.25
    ds.CTDIPhantomTypeCodeSequence = Sequence(
        [_code("113691", "DCM", "IEC Body Dosimetry Phantom")]
    )
    ds.StudyInstanceUID = f"{_ROOT}.1"
    ds.SeriesInstanceUID = f"{_ROOT}.2"
    ds.StudyID = "4711"
    ds.SeriesNumber = 3
    ds.AcquisitionNumber = 1
    ds.InstanceNumber = index + 1
    z = -100.0 - index
    ds.ImagePositionPatient = [-190.0, -190.0, z]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.FrameOfReferenceUID = f"{_ROOT}.4"
    ds.PositionReferenceIndicator = ""
    ds.SliceLocation = str(z)
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = pixels.shape
    ds.PixelSpacing = [0.7421875, 0.7421875]
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    # US or SS by Pixel Representation (PS3.5 Annex A.1): SS here
    ds.add_new(0x00280106, "SS", int(pixels.min()))
    ds.add_new(0x00280107, "SS", int(pixels.max()))
    ds.WindowCenter = ["40", "-600"]
    ds.WindowWidth = ["400", "1500"]
    ds.RescaleIntercept = "0"
    ds.RescaleSlope = "1"
    ds.RescaleType = "HU"
    request = Dataset()
    request.RequestedProcedureID = "RP-0815"
    request.ScheduledProcedureStepID = "SPS-0815"
    request.ScheduledProtocolCodeSequence = Sequence([_code("P5-08000", "SRT", "CT of chest")])
    ds.RequestAttributesSequence = Sequence([request])
    ds.PixelData = pixels.astype("<i2").tobytes()
    return ds


def write_ct(path: Path, ds: Dataset, transfer_syntax: str, pixels: np.ndarray) -> Path:
    """Write `ds` as a Part 10 file in `transfer_syntax` (native syntaxes only).

    pydicom does not byte-swap OW values when the encoding changes endianness
    (see :func:`pydicom.filewriter.dcmwrite`), so the Pixel Data is given in the
    file's own byte order.
    """
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = transfer_syntax
    meta.ImplementationClassUID = f"{_ROOT}.99"
    meta.ImplementationVersionName = "SC_BENCH"
    ds.file_meta = meta
    ds.PixelData = pixels.astype(">i2" if transfer_syntax == EXPLICIT_BE else "<i2").tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def _data_dirs() -> list[Path]:
    dirs = [Path(pydicom.__file__).parent / "data" / "test_files"]
    try:
        import data_store  # pydicom-data; get_testdata_files() may try to download

        dirs.insert(0, Path(data_store.__file__).parent / "data")
    except ImportError:  # pragma: no cover - pydicom-data is a test dependency
        pass
    return dirs


def pydicom_readable_files() -> list[Path]:
    """The pydicom-data and pydicom test files that are Part 10 files pydicom reads.

    Found by globbing the installed packages (``get_testdata_files()`` may try to
    download); a file counts if ``dcmread(stop_before_pixels=True)`` reads it
    with a File Meta Transfer Syntax UID and it has a SOP Instance UID.
    """
    found: list[Path] = []
    for folder in _data_dirs():
        for name in sorted(glob.glob(str(folder / "**" / "*"), recursive=True)):
            path = Path(name)
            if not path.is_file() or path.suffix in {".txt", ".json", ".dump", ".gz", ".icc"}:
                continue
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    ds = pydicom.dcmread(path, stop_before_pixels=True)
                    ok = "TransferSyntaxUID" in ds.file_meta and "SOPInstanceUID" in ds
            except Exception:  # any reader failure means "not in the corpus"
                continue
            if ok:
                found.append(path)
    return found


@dataclass(frozen=True)
class Corpus:
    """Paths of the generated files, and what a correct reader must find in them."""

    root: Path
    ct: dict[str, Path]  # stem in CT_SYNTAXES -> path
    ct_sop_instance_uid: str
    ct_pixels: np.ndarray
    scan_files: list[Path]  # SCAN_FILES explicit LE CT slices
    scan_uids: list[str]  # their SOP Instance UIDs, in order
    scan_set: dict[str, Path]  # PYDICOM_DATA_SCAN_SET name -> path (those installed)

    @property
    def ct_bytes(self) -> int:
        return os.path.getsize(self.ct["ct_explicit_le"])


def build_corpus(root: Path, scan_files: int = SCAN_FILES) -> Corpus:
    """Generate the corpus under `root` (created if missing) and warm the page cache."""
    root.mkdir(parents=True, exist_ok=True)
    pixels = ct_pixels()
    ct = {
        stem: write_ct(root / f"{stem}.dcm", ct_dataset(0, pixels), ts, pixels)
        for stem, ts in CT_SYNTAXES.items()
    }
    scan_dir = root / "scan"
    scan_dir.mkdir(exist_ok=True)
    paths, uids = [], []
    for i in range(scan_files):
        ds = ct_dataset(i, pixels)
        paths.append(write_ct(scan_dir / f"ct_{i:04d}.dcm", ds, EXPLICIT_LE, pixels))
        uids.append(str(ds.SOPInstanceUID))
    scan_set: dict[str, Path] = {}
    for folder in _data_dirs():
        for name in PYDICOM_DATA_SCAN_SET:
            if name not in scan_set and (folder / name).is_file():
                scan_set[name] = folder / name
    for path in [*ct.values(), *paths, *scan_set.values()]:
        path.read_bytes()  # page-cache warm: the benchmarks time parsing, not the disk
    return Corpus(
        root=root,
        ct=ct,
        ct_sop_instance_uid=sop_instance_uid(0),
        ct_pixels=pixels,
        scan_files=paths,
        scan_uids=uids,
        scan_set=scan_set,
    )

"""The operations under comparison, one function per implementation, and their checks.

Shared by the pytest-benchmark suites and ``compare.py`` so that both time the
same code. Every scan function takes a path and returns the same six keys, the
ones an archive indexes (ANCHORS.md, "Header scan"); every transcode function
takes ``(source path, target path, target Transfer Syntax UID)`` and writes a
Part 10 file. The checks read results back with pydicom, so that a benchmark
never times a broken path.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset

from _corpus import DEFLATED, EXPLICIT_BE, EXPLICIT_LE, IMPLICIT_LE
from storecore.dataset import encode_file_meta, read_file_meta, summarize_file
from storecore.transcode import transcode_dataset, transcode_file

try:
    import gdcm
except ImportError:  # python-gdcm is a bench extra: its benchmarks skip without it
    gdcm = None

__all__ = [
    "GDCM_MISSING",
    "KEY_TAGS",
    "SCANNERS",
    "TRANSCODERS",
    "InMemoryTranscode",
    "Keys",
    "agreed_scan_files",
    "check_transcoded",
    "expected_keys",
    "gdcm_scanner_batch",
    "unlink",
]

GDCM_MISSING = "python-gdcm is not importable (pip install python-gdcm, the 'bench' extra)"

#: SOP Class UID, SOP Instance UID, Study/Series Instance UID, Patient ID, Modality
KEY_TAGS = (0x00080016, 0x00080018, 0x0020000D, 0x0020000E, 0x00100020, 0x00080060)
_KEYWORDS = tuple(pydicom.datadict.keyword_for_tag(t) for t in KEY_TAGS)
_PIXEL_DATA = 0x7FE00010

Keys = tuple[str | None, ...]


def _clean(value: object) -> str | None:
    return None if value is None else str(value).strip(" \x00")


# --- scan: six keys of one file, stopping before the pixel data -------------


def storecore_scan(path: Path) -> Keys:
    s = summarize_file(path)
    return (
        s.sop_class_uid,
        s.sop_instance_uid,
        s.study_instance_uid,
        s.series_instance_uid,
        s.patient_id,
        s.modality,
    )


def pydicom_scan(path: Path) -> Keys:
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    # the values are decoded on access, as an indexer would access them
    return tuple(_clean(ds.get(k)) for k in _KEYWORDS)


if gdcm is not None:
    _GDCM_TAGS = [gdcm.Tag(t >> 16, t & 0xFFFF) for t in KEY_TAGS]
    _GDCM_PIXEL_DATA = gdcm.Tag(0x7FE0, 0x0010)
    _GDCM_SKIP = gdcm.TagSetType()
    _GDCM_SKIP.insert(_GDCM_PIXEL_DATA)  # without it ReadUpToTag also reads the pixel data


def gdcm_reader_scan(path: Path) -> Keys:
    """gdcm.Reader.ReadUpToTag(Pixel Data, skip={Pixel Data}): read the header only."""
    reader = gdcm.Reader()
    reader.SetFileName(str(path))
    if not reader.ReadUpToTag(_GDCM_PIXEL_DATA, _GDCM_SKIP):
        raise RuntimeError(f"gdcm.Reader failed on {path}")
    ds = reader.GetFile().GetDataSet()
    keys: list[str | None] = []
    for tag in _GDCM_TAGS:
        value = None
        if ds.FindDataElement(tag):
            bv = ds.GetDataElement(tag).GetByteValue()
            value = _clean(str(bv)) if bv is not None else ""
        keys.append(value)
    return tuple(keys)


_gdcm_scanner = None


def _scanner() -> object:
    global _gdcm_scanner
    if _gdcm_scanner is None:
        _gdcm_scanner = gdcm.Scanner()
        for tag in _GDCM_TAGS:
            _gdcm_scanner.AddTag(tag)
    return _gdcm_scanner


def gdcm_scanner_scan(path: Path) -> Keys:
    """gdcm.Scanner on one file (one reused Scanner, as an indexer would keep)."""
    scanner = _scanner()
    name = str(path)
    if not scanner.Scan([name]):
        raise RuntimeError(f"gdcm.Scanner failed on {path}")
    return tuple(_clean(scanner.GetValue(name, tag)) for tag in _GDCM_TAGS)


def gdcm_scanner_batch(paths: list[str]) -> list[Keys]:
    """gdcm.Scanner over a whole list at once: its intended use, and its best case."""
    scanner = _scanner()
    if not scanner.Scan(paths):
        raise RuntimeError("gdcm.Scanner failed")
    return [tuple(_clean(scanner.GetValue(p, tag)) for tag in _GDCM_TAGS) for p in paths]


#: name -> (function, needs gdcm)
SCANNERS: dict[str, tuple[Callable[[Path], Keys], bool]] = {
    "storecore": (storecore_scan, False),
    "pydicom": (pydicom_scan, False),
    "gdcm-reader": (gdcm_reader_scan, True),
    "gdcm-scanner": (gdcm_scanner_scan, True),
}


def expected_keys(path: Path) -> Keys:
    """The six keys as pydicom reads them from the whole file (the reference)."""
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    return tuple(_clean(ds.get(k)) for k in _KEYWORDS)


def agreed_scan_files(files: list[tuple[Path, Keys]]) -> tuple[list[Path], dict[str, str]]:
    """Split (path, pydicom's keys) pairs into those every available reader agrees on.

    Returns the agreed paths and, for the others, file name -> the first reader
    that differed and how. Those are the readers' strictness differences (on
    pydicom's test files: storecore rejects a file whose File Meta says Explicit
    VR but whose dataset is Implicit, and a truncated RT Plan): correctness
    tests' business, not a benchmark's.
    """
    agreed: list[Path] = []
    rejected: dict[str, str] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path, keys in files:
            why = None
            for name, (fn, needs_gdcm) in SCANNERS.items():
                if needs_gdcm and gdcm is None:
                    continue
                try:
                    got = fn(path)
                except Exception as exc:  # a rejection: the file is left out
                    why = f"{name}: {type(exc).__name__}: {exc}"
                    break
                if got != keys:
                    why = f"{name}: {got} != {keys}"
                    break
            if why is None:
                agreed.append(path)
            else:
                rejected[path.name] = why
    return agreed, rejected


# --- transcode: Part 10 file to Part 10 file ---------------------------------


def storecore_transcode(src: Path, dst: Path, ts: str) -> None:
    transcode_file(src, dst, ts)


def _swap_pixel_data(ds: Dataset) -> None:
    width = {16: np.uint16, 32: np.uint32, 64: np.uint64}.get(int(ds.BitsAllocated))
    if width is not None:
        ds.PixelData = np.frombuffer(ds.PixelData, dtype=width).byteswap().tobytes()


def pydicom_transcode(src: Path, dst: Path, ts: str) -> None:
    """dcmread, set the File Meta Transfer Syntax UID, dcmwrite.

    pydicom 3 encodes the dataset as the Transfer Syntax UID says (implicit or
    explicit VR, deflated), but converts between endiannesses only what it
    decodes: OW Pixel Data must be swapped by hand, and ``save_as`` refuses
    the change (its error says to use ``dcmwrite``), which is what this does.
    """
    ds = pydicom.dcmread(src)
    source_little = ds.original_encoding[1]
    ds.file_meta.TransferSyntaxUID = ts
    if source_little != (ts != EXPLICIT_BE):
        _swap_pixel_data(ds)
    pydicom.dcmwrite(dst, ds, enforce_file_format=True)


if gdcm is not None:
    _GDCM_TS = {
        IMPLICIT_LE: gdcm.TransferSyntax.ImplicitVRLittleEndian,
        EXPLICIT_LE: gdcm.TransferSyntax.ExplicitVRLittleEndian,
        EXPLICIT_BE: gdcm.TransferSyntax.ExplicitVRBigEndian,
        DEFLATED: gdcm.TransferSyntax.DeflatedExplicitVRLittleEndian,
    }


def gdcm_file_transcode(src: Path, dst: Path, ts: str) -> None:
    """gdcmconv's own path for a non-image syntax change (``change_transfersyntax``).

    gdcm.Reader, a new File Meta with the target Transfer Syntax UID,
    gdcm.FileExplicitFilter (dictionary VRs) for explicit targets, gdcm.Writer;
    the Writer byte-swaps for Explicit VR Big Endian.
    """
    reader = gdcm.Reader()
    reader.SetFileName(str(src))
    if not reader.Read():
        raise RuntimeError(f"gdcm.Reader failed on {src}")
    f = reader.GetFile()
    target = gdcm.TransferSyntax(_GDCM_TS[ts])
    de = gdcm.DataElement(gdcm.Tag(0x0002, 0x0010))
    de.SetByteStringValue((ts + "\0" * (len(ts) % 2)).encode("ascii"))
    de.SetVR(gdcm.VR(gdcm.VR.UI))
    meta = f.GetHeader()
    meta.Clear()  # the Writer regenerates the rest of group 0002
    meta.Replace(de)
    meta.SetDataSetTransferSyntax(target)
    if target.IsExplicit():
        explicit = gdcm.FileExplicitFilter()
        explicit.SetFile(f)
        if not explicit.Change():
            raise RuntimeError(f"gdcm.FileExplicitFilter failed on {src}")
    writer = gdcm.Writer()
    writer.SetFileName(str(dst))
    writer.SetFile(f)
    if not writer.Write():
        raise RuntimeError(f"gdcm.Writer failed on {dst}")


def gdcm_image_transcode(src: Path, dst: Path, ts: str) -> None:
    """gdcmconv's image path: ImageReader, ImageChangeTransferSyntax, ImageWriter.

    Faster than the generic path, but the ImageWriter regenerates the Image
    Plane attributes from its image model (``-190.0`` is written back as
    ``-190``): equal values, different bytes.
    """
    reader = gdcm.ImageReader()
    reader.SetFileName(str(src))
    if not reader.Read():
        raise RuntimeError(f"gdcm.ImageReader failed on {src}")
    change = gdcm.ImageChangeTransferSyntax()
    # any syntax GDCM knows by its UID (codec_compare.py times the compressed ones)
    change.SetTransferSyntax(gdcm.TransferSyntax(gdcm.TransferSyntax.GetTSType(ts)))
    change.SetInput(reader.GetImage())
    if not change.Change():
        raise RuntimeError(f"gdcm.ImageChangeTransferSyntax to {ts} failed on {src}")
    writer = gdcm.ImageWriter()
    writer.SetFileName(str(dst))
    writer.SetFile(reader.GetFile())
    writer.SetImage(change.GetOutput())
    if not writer.Write():
        raise RuntimeError(f"gdcm.ImageWriter failed on {dst}")


#: name -> (function, needs gdcm)
TRANSCODERS: dict[str, tuple[Callable[[Path, Path, str], None], bool]] = {
    "storecore": (storecore_transcode, False),
    "pydicom": (pydicom_transcode, False),
    "gdcm-file": (gdcm_file_transcode, True),
    "gdcm-image": (gdcm_image_transcode, True),
}


class InMemoryTranscode:
    """storecore's in-memory rewrite: a dataset in bytes into a preallocated BytesIO.

    The source is the dataset part of the file (after the File Meta); the sink
    is allocated once, so a call costs the rewrite and one copy of its output.
    """

    def __init__(self, src: Path, ts: str) -> None:
        self.data = src.read_bytes()
        meta = read_file_meta(self.data)
        self.source_ts = meta.transfer_syntax_uid
        self.meta = meta
        self.dataset = memoryview(self.data)[meta.dataset_offset :]
        self.target_ts = ts
        self.sink = io.BytesIO(bytes(2 * len(self.data) + 65536))
        self.written = 0

    def __call__(self) -> int:
        self.sink.seek(0)
        self.written = transcode_dataset(
            self.dataset, self.source_ts, self.target_ts, self.sink.write
        )
        return self.written

    def part10(self) -> bytes:
        """The last output as a Part 10 file, for checking."""
        head = encode_file_meta(
            self.meta.media_storage_sop_class_uid,
            self.meta.media_storage_sop_instance_uid,
            self.target_ts,
        )
        return head + self.sink.getbuffer()[: self.written].tobytes()


def unlink(path: Path) -> None:
    """Remove a previous output: every transcoder writes a new file.

    Overwriting an existing file costs ~0.6 ms more on ext4 (the truncate or
    rename over a file with data forces block allocation, ``auto_da_alloc``)
    for every implementation alike; an archive writes new files.
    """
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


# --- checks -------------------------------------------------------------------


def _same(ref: Dataset, got: Dataset, where: str = "") -> str | None:
    """The first difference between two datasets' values (Pixel Data aside), or None.

    Private elements read back as UN from Implicit VR (PS3.5 Section 6.2.2)
    compare by their bytes.
    """
    ref_tags = {e.tag for e in ref if e.tag != _PIXEL_DATA}
    got_tags = {e.tag for e in got if e.tag != _PIXEL_DATA}
    if ref_tags != got_tags:
        return f"{where or 'top level'}: elements differ: {sorted(ref_tags ^ got_tags)}"
    for elem in ref:
        if elem.tag == _PIXEL_DATA:
            continue
        other = got[elem.tag]
        at = f"{where}{elem.tag}"
        if elem.VR == "SQ":
            if other.VR not in ("SQ", "UN") or len(other.value) != len(elem.value):
                return f"{at}: sequence differs"
            for i, (a, b) in enumerate(zip(elem.value, other.value, strict=True)):
                diff = _same(a, b, f"{at}[{i}].")
                if diff:
                    return diff
        elif other.VR == "UN" and elem.VR != "UN":
            if bytes(other.value).rstrip(b" \x00") != str(elem.value).encode("latin_1"):
                return f"{at}: UN value {other.value!r} != {elem.value!r}"
        elif other.value != elem.value:
            return f"{at}: {other.value!r} != {elem.value!r}"
    return None


def check_transcoded(output: Path | bytes, ts: str, reference: Dataset, pixels: np.ndarray) -> None:
    """Assert that `output` is the reference instance, in Transfer Syntax `ts`.

    Read back with pydicom: the File Meta Transfer Syntax UID, the SOP Instance
    UID, every header value and the decoded pixels must match.
    """
    source = io.BytesIO(output) if isinstance(output, bytes) else output
    ds = pydicom.dcmread(source)
    assert ds.file_meta.TransferSyntaxUID == ts, ds.file_meta.TransferSyntaxUID
    assert ds.file_meta.MediaStorageSOPInstanceUID == reference.SOPInstanceUID
    assert ds.SOPInstanceUID == reference.SOPInstanceUID
    diff = _same(reference, ds)
    assert diff is None, diff
    assert np.array_equal(ds.pixel_array, pixels), "pixel data differs"

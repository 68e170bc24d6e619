"""Native transcoding against pydicom, on every native-syntax file of the corpus.

For every file in Implicit VR LE, Explicit VR LE, Explicit VR BE or Deflated
Explicit VR LE and every target among those four, our output read by pydicom
must equal, element by element:

* pydicom's own conversion of the same file, for every public element whose
  value pydicom decodes (text, numbers, AT, sequences recursively);
* the source's values for binary VRs (OB OW OF OD OL OV and native Pixel Data),
  compared as numbers: pydicom copies OW/OF/... bytes unchanged when it changes
  endianness (so its big endian output of an OW LUT is wrong), while PS3.5
  Annex A.3 asks for each word to be swapped, as we do;
* the source's bytes for private elements, which PS3.5 Section 6.2.2 makes UN
  in explicit VR when converted from implicit VR (pydicom instead guesses VRs
  from its private dictionary).
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataelem import RawDataElement, convert_raw_data_element
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

from storecore.dataset import TokenKind, lookup_dictionary_vr, read_file_meta, scan
from storecore.transcode import TranscodePath, transcode_dataset, transcode_file

from ..conftest import CORPUS

NATIVE = [
    ImplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    DeflatedExplicitVRLittleEndian,
]
# Files with odd value lengths (PS3.5 7.1.1 forbids them): read with lenient_odd_length.
# Files that are not valid datasets are covered by the scanner's differential test.
BROKEN = {
    "MR_truncated.dcm",
    "rtplan_truncated.dcm",
    "nested_priv_SQ.dcm",
    "meta_missing_tsyntax.dcm",
}

_WORD_VRS = {"US", "SS", "OW", "US or OW", "US or SS", "US or SS or OW"}
_WIDTH = {"OW": 2, "OF": 4, "OL": 4, "OD": 8, "OV": 8}


def _read(source: Path | bytes) -> pydicom.Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if isinstance(source, bytes):
            return pydicom.dcmread(io.BytesIO(source))
        return pydicom.dcmread(source)


def _native_files() -> list[Path]:
    out = []
    for path in CORPUS:
        if path.name in BROKEN:
            continue
        try:
            ds = _read(path)
        except Exception:
            continue
        ts = ds.file_meta.get("TransferSyntaxUID") if hasattr(ds, "file_meta") else None
        if ts in NATIVE and ds.get("SOPInstanceUID") and ds.get("SOPClassUID"):
            out.append(path)
    return out


NATIVE_FILES = _native_files()


def _numbers(elem: pydicom.DataElement, little: bool, bits_allocated: int | None) -> bytes:
    """A binary element's value as little endian bytes: its words in the file's byte order."""
    vr = elem.VR
    if elem.tag == 0x7FE00010 and vr != "OB":  # OW pixel data: 16-bit words or wider (PS3.5 A.3)
        width = {32: 4, 64: 8}.get(bits_allocated or 16, 2)
    elif elem.tag == 0x7FE00010:
        width = 1
    else:
        width = _WIDTH.get(vr, 1)
    raw = bytes(elem.value or b"")
    if little or width == 1 or len(raw) % width:
        return raw
    return np.frombuffer(raw, dtype=f">u{width}").astype(f"<u{width}").tobytes()


def _words(elem: pydicom.DataElement, little: bool) -> list[int]:
    value = elem.value
    if isinstance(value, bytes):
        return np.frombuffer(value, dtype=f"{'<' if little else '>'}u2").tolist()
    return (
        [int(v) for v in value]
        if isinstance(value, (list, pydicom.multival.MultiValue))
        else [value]
    )


def _pydicom_conversion(ds: pydicom.Dataset, target: str) -> pydicom.Dataset:
    ds.file_meta.TransferSyntaxUID = target
    buf = io.BytesIO()
    if target == DeflatedExplicitVRLittleEndian:
        pydicom.dcmwrite(buf, ds, enforce_file_format=True)
    else:
        pydicom.dcmwrite(
            buf,
            ds,
            force_encoding=True,
            implicit_vr=target == ImplicitVRLittleEndian,
            little_endian=target != ExplicitVRBigEndian,
        )
    return _read(buf.getvalue())


def compare(
    ours: pydicom.Dataset,
    theirs: pydicom.Dataset,
    source: pydicom.Dataset,
    little_ours: bool,
    little_src: bool,
    where: str = "",
) -> None:
    assert list(ours.keys()) == list(source.keys()), f"{where}: tags"  # keys: still raw
    bits = source.get("BitsAllocated")
    for tag in list(source.keys()):  # raw values first, then decoded ones
        raw_mine, raw_src = ours.get_item(tag), source.get_item(tag)
        elem = source[tag]
        name = f"{where}{tag}"
        mine = ours[tag]
        if elem.VR == "SQ":
            assert mine.VR in ("SQ", "UN"), name
            items = mine.value if mine.VR == "SQ" else None
            if items is None:  # private SQ kept as UN: pydicom reads UN sequences as bytes
                continue
            assert len(items) == len(elem.value), name
            other = theirs[tag].value if tag in theirs and theirs[tag].VR == "SQ" else elem.value
            for i, (a, b, c) in enumerate(zip(items, other, elem.value, strict=True)):
                compare(a, b, c, little_ours, little_src, f"{name}[{i}].")
            continue
        if tag.is_private or mine.VR == "UN" or elem.VR == "UN":
            if mine.VR == elem.VR and elem.VR in _WIDTH:
                assert _numbers(mine, little_ours, bits) == _numbers(elem, little_src, bits), name
            elif mine.VR == elem.VR:
                assert mine.value == elem.value, name
            elif "UN" not in (mine.VR, elem.VR):
                # implicit VR output re-read through pydicom's private dictionary, which
                # guesses another VR: the value bytes are the source's
                assert little_src and little_ours, f"{name}: {mine.VR} != {elem.VR}"
                assert isinstance(raw_mine, RawDataElement), name
                assert isinstance(raw_src, RawDataElement), name
                assert raw_mine.value == raw_src.value, name
            else:
                # one side is UN (PS3.5 6.2.2), the other has a VR (the source's, or
                # pydicom's private dictionary's): UN bytes, always little endian
                # here, read with that VR give the same value
                unknown, known = (mine, elem) if mine.VR == "UN" else (elem, mine)
                assert unknown.VR == "UN", f"{name}: {mine.VR} != {elem.VR}"
                value = unknown.value or b""
                raw = RawDataElement(tag, known.VR, len(value), value, 0, False, True)
                assert convert_raw_data_element(raw).value == known.value, name
            continue
        if elem.VR in _WIDTH or elem.VR in ("OB", "OB or OW") or tag == 0x7FE00010:
            assert _numbers(mine, little_ours, bits) == _numbers(elem, little_src, bits), name
            continue
        if mine.VR != elem.VR and {mine.VR, elem.VR} <= _WORD_VRS:
            # an ambiguous dictionary VR ("US or OW" LUT Data, PS3.3 C.11.1.1.1) read back
            # from implicit VR resolves by other rules than the source's: compare the words
            assert _words(mine, little_ours) == _words(elem, little_src), name
            continue
        assert mine.value == elem.value, f"{name}: against the source"
        if tag in theirs:
            assert mine.value == theirs[tag].value, f"{name}: against pydicom's conversion"


@pytest.mark.parametrize("target", NATIVE, ids=lambda u: u.keyword)
@pytest.mark.parametrize("path", NATIVE_FILES, ids=lambda p: p.name)
def test_transcode_equals_pydicom(path: Path, target: str, tmp_path: Path) -> None:
    out = tmp_path / "out.dcm"
    record = transcode_file(path, out, target, lenient_odd_length=True)
    assert record.path is TranscodePath.SUPPORTED
    assert record.sop_instance_uid == record.original_sop_instance_uid
    ours = _read(out)
    assert ours.file_meta.TransferSyntaxUID == target
    source = _read(path)
    theirs = _pydicom_conversion(_read(path), target)
    src_little = source.file_meta.TransferSyntaxUID != ExplicitVRBigEndian
    compare(ours, theirs, source, target != ExplicitVRBigEndian, src_little)
    if "PixelData" in source and source.get("BitsAllocated") in (8, 16, 32):
        try:
            expected = source.pixel_array
        except Exception:  # no handler for this photometric interpretation
            return
        np.testing.assert_array_equal(ours.pixel_array, expected)


def _fully_known(tokens: list) -> bool:
    """Every element's VR is the dictionary's own, unambiguous, and no private tags."""
    for t in tokens:
        if t.kind in (TokenKind.ELEMENT, TokenKind.SEQUENCE_START) and (
            t.tag >> 16 & 1 or t.vr != lookup_dictionary_vr(t.tag)
        ):
            return False
        if t.kind is TokenKind.ENCAPSULATED_START:
            return False
    return True


def test_explicit_implicit_explicit_round_trip() -> None:
    """Explicit LE -> Implicit LE -> Explicit LE gives the original bytes back
    wherever the dictionary knows every VR; elsewhere only VRs may differ."""
    exact = 0
    for path in NATIVE_FILES:
        data = path.read_bytes()
        meta = read_file_meta(data)
        if meta.transfer_syntax_uid != ExplicitVRLittleEndian:
            continue
        dataset = data[meta.dataset_offset :]
        implicit = bytearray()
        transcode_dataset(
            dataset,
            ExplicitVRLittleEndian,
            ImplicitVRLittleEndian,
            implicit.extend,
            lenient_odd_length=True,
        )
        back = bytearray()
        transcode_dataset(
            bytes(implicit),
            ImplicitVRLittleEndian,
            ExplicitVRLittleEndian,
            back.extend,
            lenient_odd_length=True,
        )
        tokens = scan(dataset, ExplicitVRLittleEndian, lenient_odd_length=True)
        if _fully_known(tokens):
            assert bytes(back) == dataset, path.name
            exact += 1
        else:
            again = scan(bytes(back), ExplicitVRLittleEndian, lenient_odd_length=True)
            assert [(t.kind, t.tag) for t in again] == [(t.kind, t.tag) for t in tokens], path.name
    assert exact >= 3, "too few files exercise the exact round trip"


@pytest.mark.parametrize("path", NATIVE_FILES[:40], ids=lambda p: p.name)
def test_little_big_little_round_trip(path: Path) -> None:
    data = path.read_bytes()
    meta = read_file_meta(data)
    if meta.transfer_syntax_uid != ExplicitVRLittleEndian:
        return
    dataset = data[meta.dataset_offset :]
    big = bytearray()
    transcode_dataset(
        dataset, ExplicitVRLittleEndian, ExplicitVRBigEndian, big.extend, lenient_odd_length=True
    )
    back = bytearray()
    transcode_dataset(
        bytes(big),
        ExplicitVRBigEndian,
        ExplicitVRLittleEndian,
        back.extend,
        lenient_odd_length=True,
    )
    assert bytes(back) == dataset

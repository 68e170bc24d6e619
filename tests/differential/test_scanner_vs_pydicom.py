"""The scanner against pydicom, on every file of pydicom's test files and pydicom-data.

For each file pydicom reads without ``force``, the scanner's elements (tag, VR,
length, value bytes), recursively through sequences and encapsulated pixel
data, must equal pydicom's raw elements. Files pydicom reads only by bending
the standard must make the scanner raise a DatasetError (strict by default):
each is listed below with the reason.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pydicom
import pytest
from pydicom.dataelem import RawDataElement
from pydicom.encaps import generate_fragments
from pydicom.errors import InvalidDicomError

from storecore.dataset import Token, TokenKind, read_file_meta, scan, summarize, summarize_file
from storecore.dataset._scan import inflate
from storecore.errors import DatasetError, UnknownUIDError
from storecore.uid import transfer_syntax

from ..conftest import CORPUS

# Files pydicom accepts although they break PS3.5/PS3.10, and what the scanner says.
EXPECTED_ERRORS: dict[str, str] = {
    "MR_truncated.dcm": "data ends inside a value",  # truncated pixel data
    "rtplan_truncated.dcm": "data ends inside a value",
    "emri_small_jpeg_2k_lossless_too_short.dcm": "data ends inside a sequence or item",
    "SC_rgb_jpeg.dcm": "unknown VR",  # meta says explicit VR, dataset is implicit
    "meta_missing_tsyntax.dcm": "unknown VR",  # group 0001 elements inside the meta group
    "nested_priv_SQ.dcm": "unknown VR",
    "badVR.dcm": "",  # pydicom reads it; which error, if any, is not the point
}


@dataclass
class Node:
    token: Token
    items: list[list[Node]] = field(default_factory=list)  # sequences
    fragments: list[Token] = field(default_factory=list)  # encapsulated pixel data
    end: Token | None = None


def tree(tokens: list[Token]) -> list[Node]:
    """Nest a token stream: sequences hold items, items hold nodes."""
    root: list[Node] = []
    stack: list[tuple[str, object]] = [("dataset", root)]
    for t in tokens:
        kind, container = stack[-1]
        if t.kind is TokenKind.ELEMENT:
            assert kind == "dataset"
            container.append(Node(t))  # type: ignore[attr-defined]
        elif t.kind in (TokenKind.SEQUENCE_START, TokenKind.ENCAPSULATED_START):
            node = Node(t)
            container.append(node)  # type: ignore[attr-defined]
            stack.append(("sequence" if t.kind is TokenKind.SEQUENCE_START else "encap", node))
        elif t.kind is TokenKind.ITEM_START:
            assert kind == "sequence"
            item: list[Node] = []
            container.items.append(item)  # type: ignore[attr-defined]
            stack.append(("dataset", item))
        elif t.kind is TokenKind.ITEM_END:
            stack.pop()
        elif t.kind in (TokenKind.BASIC_OFFSET_TABLE, TokenKind.FRAGMENT):
            assert kind == "encap"
            container.fragments.append(t)  # type: ignore[attr-defined]
        else:  # SEQUENCE_END, ENCAPSULATED_END
            container.end = t  # type: ignore[attr-defined]
            stack.pop()
    assert len(stack) == 1, "unbalanced token stream"
    return root


def compare(
    nodes: list[Node], ds: pydicom.Dataset, data: bytes, explicit: bool, where: str
) -> None:
    ours = [n.token.tag for n in nodes]
    theirs = [int(t) for t in ds.keys()]  # noqa: SIM118 - a Dataset iterates elements
    assert ours == theirs, f"{where}: tags differ"
    for node in nodes:
        tok = node.token
        raw = ds.get_item(tok.tag)
        tag = f"{where}({tok.tag >> 16:04X},{tok.tag & 0xFFFF:04X})"
        if isinstance(raw, RawDataElement):
            if explicit:
                assert tok.vr == raw.VR, f"{tag}: VR"
            if tok.kind is TokenKind.SEQUENCE_START and not raw.value:
                assert tok.length in (0, 0xFFFFFFFF) and not node.items
                continue
            if tok.kind is TokenKind.ELEMENT:
                assert tok.length == raw.length, f"{tag}: length"
                value = data[tok.value_offset : tok.value_offset + tok.length]
                assert value == (raw.value or b""), f"{tag}: value bytes"
                continue
            if tok.kind is TokenKind.ENCAPSULATED_START:
                assert node.end is not None
                value = data[tok.value_offset : node.end.offset]  # pydicom drops the delimiter
                assert value == raw.value, f"{tag}: encapsulated value bytes"
                frags = [
                    data[f.value_offset : f.value_offset + f.length] for f in node.fragments
                ]  # BOT first
                assert frags == list(generate_fragments(raw.value)), f"{tag}: fragments"
                continue
        elem = ds[tok.tag]
        if elem.VR == "SQ" or tok.kind is TokenKind.SEQUENCE_START:
            assert tok.kind is TokenKind.SEQUENCE_START, f"{tag}: pydicom sees a sequence"
            assert len(node.items) == len(elem.value), f"{tag}: item count"
            for i, (item_nodes, item_ds) in enumerate(zip(node.items, elem.value, strict=True)):
                inner_explicit = explicit and tok.vr != "UN"
                compare(item_nodes, item_ds, data, inner_explicit, f"{tag}[{i}].")
        else:  # an element pydicom has already converted (e.g. during file meta handling)
            assert tok.kind is TokenKind.ELEMENT


def _cases() -> list[Path]:
    return [p for p in CORPUS if p.suffix == ".dcm" or p.name.startswith(("liver", "693"))]


@pytest.mark.parametrize("path", _cases(), ids=lambda p: p.name)
def test_scanner_equals_pydicom(path: Path) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(path, defer_size=None)
    except Exception as exc:
        # pydicom refuses it: we must refuse it too, with our own error
        with pytest.raises((DatasetError, UnknownUIDError)):  # pydicom refuses it: so do we
            summarize_file(path)
        assert exc is not None
        return
    data = path.read_bytes()
    expected = EXPECTED_ERRORS.get(path.name)
    try:
        meta = read_file_meta(data)
        ts = transfer_syntax(meta.transfer_syntax_uid)
        dataset = data[meta.dataset_offset :]
        tokens = scan(dataset, ts, lenient_odd_length=True)  # inflates a deflated one itself
        if ts.deflated:
            dataset = inflate(dataset)  # token offsets refer to the inflated stream
    except DatasetError as exc:
        assert expected is not None, f"unexpected DatasetError: {exc}"
        assert expected in str(exc)
        return
    except UnknownUIDError:
        assert not hasattr(ds, "file_meta") or "TransferSyntaxUID" not in ds.file_meta
        return
    if expected is not None and expected:
        pytest.fail(f"expected a DatasetError ({expected}), the scanner accepted the file")
    compare(tree(tokens), ds, dataset, ts.explicit_vr, "")


@pytest.mark.parametrize("path", _cases(), ids=lambda p: p.name)
def test_summary_equals_pydicom(path: Path) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(path, stop_before_pixels=True)
    except InvalidDicomError:
        with pytest.raises(DatasetError, match="not a DICOM Part 10 file"):
            summarize_file(path)
        return
    try:
        summary = summarize_file(path, lenient_odd_length=True)
    except DatasetError as exc:
        assert path.name in EXPECTED_ERRORS, f"unexpected DatasetError: {exc}"
        return
    except UnknownUIDError:
        assert "TransferSyntaxUID" not in pydicom.dcmread(path, stop_before_pixels=True).file_meta
        return
    assert summary == summarize(path.read_bytes(), lenient_odd_length=True)
    for attr, keyword in [
        ("sop_class_uid", "SOPClassUID"),
        ("sop_instance_uid", "SOPInstanceUID"),
        ("study_instance_uid", "StudyInstanceUID"),
        ("series_instance_uid", "SeriesInstanceUID"),
        ("modality", "Modality"),
        ("photometric_interpretation", "PhotometricInterpretation"),
    ]:
        value = ds.get(keyword)
        expected = None if value is None or value == "" else str(value).strip()
        got = getattr(summary, attr)
        assert (got or None) == expected, attr
    for attr, keyword in [
        ("rows", "Rows"),
        ("columns", "Columns"),
        ("samples_per_pixel", "SamplesPerPixel"),
        ("bits_allocated", "BitsAllocated"),
        ("bits_stored", "BitsStored"),
        ("pixel_representation", "PixelRepresentation"),
    ]:
        value = ds.get(keyword)
        assert getattr(summary, attr) == (value if isinstance(value, int) else None), attr
    name = ds.get("PatientName")
    if name is not None and str(name):
        assert summary.patient_name == str(name)
    pid = ds.get("PatientID")
    if pid:
        assert summary.patient_id == str(pid).strip()
    nof = ds.get("NumberOfFrames")
    if nof not in (None, ""):
        text = str(nof).strip()
        assert summary.number_of_frames == (int(text) if text.isdigit() else None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        has_pixels = "PixelData" in pydicom.dcmread(path)
    if path.name not in EXPECTED_ERRORS:  # pydicom drops truncated pixel data
        assert (summary.pixel_data_tag == 0x7FE00010) == has_pixels

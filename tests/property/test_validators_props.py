"""The built-in validators' quick tests never change a verdict.

``builtin.common`` and ``builtin.iod`` first ask a C quick test
(:mod:`storecore._ext._validate`) whether they certainly have nothing to
report, and run their exact Python checks otherwise. On CT Images whose
checked values are drawn from awkward bytes (padding, whitespace the two
strips differ on, backslashes, non-ASCII, leading zeros, lengths off by two),
in Implicit VR LE, Explicit VR LE and Explicit VR BE, the findings with the
quick tests are exactly those of the exact checks alone.

References: PS3.5 6.2, 6.4, 8.1.1, 9.1; PS3.3 C.7, C.8.2, C.12.1.1.2.
"""

from __future__ import annotations

import io
import struct
import warnings
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.filebase import DicomBytesIO
from pydicom.filereader import data_element_generator

from storecore.validators import Registry, builtin
from tests.property.strategies import ENCODING, NATIVE, PROPERTY_SETTINGS
from tests.unit.validators.helpers import DELETE, conformant_ct

#: bytes the values are made of
_PIECES = [
    b"M", b"F", b"O", b"X", b"m", b" ", b"\x00", b"\t", b"\\", b"\x1c", b"\xe9",
    b"ORIGINAL", b"PRIMARY", b"DERIVED", b"AXIAL", b"MONOCHROME2", b"RGB", b"CT",
    b"ISO_IR 100", b"ISO 2022 IR 87", b"1.2.3", b"1.02", b"0.1", b"0", b".", b"7" * 70,
    b"1", b"2", b"-",
]  # fmt: skip
_values = st.lists(st.sampled_from(_PIECES), max_size=4).map(b"".join)

#: text attributes whose raw value is drawn
_TEXT = [
    "PatientSex", "ImageType", "PhotometricInterpretation", "SpecificCharacterSet",
    "FrameOfReferenceUID", "StudyInstanceUID", "Modality", "RescaleSlope", "SOPInstanceUID",
]  # fmt: skip
_NUMBERS = {
    "NumberOfFrames": [0, 1, 2],
    "SamplesPerPixel": [1, 3],
    "BitsAllocated": [1, 8, 16],
    "PixelRepresentation": [0, 1, 2],
    "Rows": [4, 8],
    "Columns": [8, 9],
}


@st.composite
def instances(draw: st.DrawFn) -> tuple[str, dict[str, Any], dict[str, bytes]]:
    ts = draw(st.sampled_from(NATIVE))
    changes: dict[str, Any] = {}
    raw: dict[str, bytes] = {}
    for keyword in draw(st.sets(st.sampled_from(_TEXT), max_size=4)):
        choice = draw(st.sampled_from(["value", "value", "empty", "delete"]))
        if choice == "delete":
            changes[keyword] = DELETE
        elif choice == "empty":
            changes[keyword] = ""
        else:
            value = draw(_values) or b" "
            raw[keyword] = value + b" " * (len(value) & 1)
    for keyword in draw(st.sets(st.sampled_from(sorted(_NUMBERS)), max_size=2)):
        changes[keyword] = draw(st.sampled_from(_NUMBERS[keyword]))
    changes["PixelData"] = b"\x00\x01" * (64 + draw(st.sampled_from([0, 0, -1, 1, 32])))
    return ts, changes, raw


def _write(folder: Path, ts: str, changes: dict[str, Any], raw: dict[str, bytes]) -> Path:
    implicit, little = ENCODING[ts]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = conformant_ct(**changes)
        ds.file_meta.TransferSyntaxUID = ts
        out = io.BytesIO()
        ds.save_as(out, enforce_file_format=True, implicit_vr=implicit, little_endian=little)
    data = out.getvalue()
    # the drawn values replace the written ones byte for byte (pydicom would
    # refuse most of them): pydicom's reader says where each element is
    wanted = {tag_for_keyword(k): v for k, v in raw.items()}
    start = data.index(b"DICM") + 4
    meta_length = struct.unpack("<I", data[start + 8 : start + 12])[0]
    begin = start + 12 + meta_length
    spans = []
    fp = DicomBytesIO(data[begin:])
    for elem in data_element_generator(fp, implicit, little):
        if elem.tag in wanted:  # short-length VRs (CS, DS, UI): an 8-byte header
            spans.append((begin + elem.value_tell - 8, begin + elem.value_tell + elem.length, elem))
    endian = "<" if little else ">"
    for first, last, elem in sorted(spans, key=lambda s: s[0], reverse=True):
        value = wanted[elem.tag]
        header = struct.pack(endian + "HH", elem.tag >> 16, elem.tag & 0xFFFF)
        if implicit:
            header += struct.pack(endian + "I", len(value))
        else:
            header += dictionary_VR(elem.tag).encode() + struct.pack(endian + "H", len(value))
        data = data[:first] + header + value + data[last:]
    path = folder / "ct.dcm"
    path.write_bytes(data)
    return path


def _exact_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(builtin, "_common_clean", lambda *args: False)
    monkeypatch.setattr(builtin, "_iod_clean", lambda *args: False)


@PROPERTY_SETTINGS
@given(instances())
def test_the_quick_tests_never_change_the_findings(
    tmp_path_factory: pytest.TempPathFactory,
    case: tuple[str, dict[str, Any], dict[str, bytes]],
) -> None:
    path = _write(tmp_path_factory.mktemp("ct"), *case)
    registry = Registry(entry_points=False)
    quick = [str(f) for f in registry.check_file(path)]
    with pytest.MonkeyPatch.context() as mp:
        _exact_only(mp)
        exact = [str(f) for f in registry.check_file(path)]
    assert quick == exact


@pytest.mark.parametrize("ts", NATIVE)
def test_the_quick_tests_answer_for_a_conformant_ct(tmp_path: Path, ts: str) -> None:
    # the property above holds trivially if the quick tests never say "clean"
    path = _write(tmp_path, ts, {}, {})
    answers: list[bool] = []

    def spy(real: Any) -> Any:
        def quick(*args: Any) -> bool:
            answers.append(real(*args))
            return answers[-1]

        return quick

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(builtin, "_common_clean", spy(builtin._common_clean))
        mp.setattr(builtin, "_iod_clean", spy(builtin._iod_clean))
        assert Registry(entry_points=False).check_file(path) == []
    assert answers == [True, True]

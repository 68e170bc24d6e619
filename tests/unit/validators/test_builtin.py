"""The built-in validators on instances changed one attribute at a time."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from pydicom.encaps import encapsulate

from storecore.validators import Registry, Severity, ValidationConfig
from storecore.validators._iod_table import IODS, MODULES, SOP_CLASS_IOD
from storecore.validators.builtin import COVERED_SOP_CLASSES
from tests.unit.validators.helpers import CT, DELETE, conformant_ct, write


def findings(
    tmp_path: Path, implicit: bool = False, **changes: object
) -> list[tuple[int | None, str]]:
    path = write(tmp_path, conformant_ct(**changes), implicit=implicit)
    found = Registry(entry_points=False).check_file(path, ValidationConfig())
    return [(f.attribute, f.message) for f in found if f.severity is Severity.ERROR]


@pytest.mark.parametrize("implicit", [False, True])
def test_a_conformant_ct_has_no_finding(tmp_path: Path, implicit: bool) -> None:
    assert findings(tmp_path, implicit=implicit) == []


def test_a_conformant_ct_has_no_dciodvfy_error_either(tmp_path: Path) -> None:
    # the fixture itself is checked by the oracle, so the tests below change one thing
    if shutil.which("dciodvfy") is None:
        pytest.skip("dicom3tools' dciodvfy not installed (apt-get install dicom3tools)")
    path = write(tmp_path, conformant_ct())
    out = subprocess.run(["dciodvfy", "-new", str(path)], capture_output=True, text=True)
    errors = [line for line in (out.stdout + out.stderr).splitlines() if line.startswith("Error")]
    # Laterality is 2C (required for paired body parts): the fixture names none
    assert [e for e in errors if "Laterality" not in e] == []


@pytest.mark.parametrize(
    ("keyword", "tag", "message"),
    [
        ("PatientID", 0x00100020, "Type 2 Patient ID missing"),
        ("PatientName", 0x00100010, "Type 2 Patient's Name missing"),
        ("StudyInstanceUID", 0x0020000D, "Type 1 Study Instance UID missing"),
        ("SeriesInstanceUID", 0x0020000E, "Type 1 Series Instance UID missing"),
        ("Modality", 0x00080060, "Type 1 Modality missing"),
        ("KVP", 0x00180060, "Type 2 KVP missing"),
        ("RescaleSlope", 0x00281053, "Type 1 RescaleSlope missing"),
        ("FrameOfReferenceUID", 0x00200052, "Type 1 FrameOfReferenceUID missing"),
    ],
)
def test_missing_type_1_and_2(tmp_path: Path, keyword: str, tag: int, message: str) -> None:
    assert findings(tmp_path, **{keyword: DELETE}) == [(tag, message)]


def test_type_1_empty_and_type_2_empty(tmp_path: Path) -> None:
    assert findings(tmp_path, ImageType=None) == [(0x00080008, "Type 1 ImageType empty")]
    assert findings(tmp_path, KVP=None, PatientID="") == []


def test_enumerated_values(tmp_path: Path) -> None:
    assert findings(tmp_path, PatientSex="X") == [
        (0x00100040, "PatientSex value 1 'X' is not an Enumerated Value")
    ]
    assert findings(tmp_path, PhotometricInterpretation="RGB", SamplesPerPixel=1) == [
        (0x00280004, "PhotometricInterpretation value 1 'RGB' is not an Enumerated Value")
    ]
    assert findings(tmp_path, ImageType=["ORIGINAL", "TERTIARY", "AXIAL"]) == [
        (0x00080008, "ImageType value 2 'TERTIARY' is not an Enumerated Value")
    ]


def test_sop_uids_must_be_the_commands(tmp_path: Path) -> None:
    ds = conformant_ct(SOPInstanceUID="1.2.3.4")
    path = write(tmp_path, ds, name="x.dcm")
    raw = path.read_bytes()  # pydicom keeps the File Meta in step: change the data set's
    at = raw.rindex(b"1.2.3.4")
    path.write_bytes(raw[:at] + b"1.2.3.5" + raw[at + 7 :])
    got = Registry(entry_points=False).check_file(path)
    assert [f.attribute for f in got] == [0x00080018]
    assert "is not the command's 1.2.3.4" in got[0].message


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_uid_syntax(tmp_path: Path) -> None:
    assert findings(tmp_path, FrameOfReferenceUID="1.2.03.4") == [
        (0x00200052, "UID '1.2.03.4' is not a valid UID")
    ]
    assert findings(tmp_path, FrameOfReferenceUID="1." + "2" * 70)[0][1].endswith("valid UID")


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_specific_character_set(tmp_path: Path) -> None:
    assert findings(tmp_path, SpecificCharacterSet=["", "ISO 2022 IR 87"]) == []
    assert findings(tmp_path, SpecificCharacterSet="ISO_IR 999") == [
        (0x00080005, "unknown Specific Character Set 'ISO_IR 999'")
    ]


def test_native_pixel_data_length(tmp_path: Path) -> None:
    assert findings(tmp_path, PixelData=b"\x00" * 126) == [
        (0x7FE00010, "Pixel Data is 126 bytes, expected 128 (8x8x1x16 bits x1)")
    ]
    # multi-frame: the product includes Number of Frames
    assert findings(tmp_path, NumberOfFrames=2, PixelData=b"\x00" * 256) == []
    assert findings(tmp_path, BitsAllocated=1, BitsStored=1, HighBit=0, PixelData=b"\0" * 8)[
        -1
    ] == (0x00280100, "BitsAllocated value 1 '1' is not an Enumerated Value")


def _encapsulated_ct(tmp_path: Path, frames: list[bytes], bot: bool, nframes: int) -> Path:
    ds = conformant_ct(NumberOfFrames=nframes)
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.50"
    ds.PixelData = encapsulate(frames, has_bot=bot)
    ds["PixelData"].VR = "OB"
    return write(tmp_path, ds)


def test_encapsulated_pixel_data(tmp_path: Path) -> None:
    reg = Registry(entry_points=False)
    ok = _encapsulated_ct(tmp_path, [b"\xff\xd8ab", b"\xff\xd8cd"], True, 2)
    assert reg.check_file(ok) == []
    few = _encapsulated_ct(tmp_path, [b"\xff\xd8ab"], False, 2)
    assert [f.message for f in reg.check_file(few)] == ["1 fragments for 2 frames"]
    # a Basic Offset Table with 2 offsets for 3 frames
    bad = _encapsulated_ct(tmp_path, [b"\xff\xd8ab", b"\xff\xd8cd"], True, 2)
    raw = bytearray(bad.read_bytes())
    ds = conformant_ct(NumberOfFrames=3)
    raw = raw.replace(b"IS\x02\x002 ", b"IS\x02\x003 ", 1)
    bad.write_bytes(bytes(raw))
    assert ds.NumberOfFrames == 3
    msgs = [f.message for f in reg.check_file(bad)]
    assert "Basic Offset Table has 2 offsets for 3 frames" in msgs
    # offsets that do not point at fragments
    wrong = _encapsulated_ct(tmp_path, [b"\xff\xd8ab", b"\xff\xd8cd"], True, 2)
    raw = bytearray(wrong.read_bytes())
    at = raw.index(b"\xfe\xff\x00\xe0\x08\x00\x00\x00")  # the BOT item, 2 offsets
    raw[at + 12 : at + 16] = struct.pack("<I", 3)
    wrong.write_bytes(bytes(raw))
    assert [f.message for f in reg.check_file(wrong)] == [
        "Basic Offset Table does not point at fragment starts"
    ]


def test_native_pixel_data_in_an_encapsulated_syntax(tmp_path: Path) -> None:
    path = write(tmp_path, conformant_ct())
    raw = path.read_bytes()  # pydicom refuses to write it: patch the File Meta's syntax
    path.write_bytes(raw.replace(b"1.2.840.10008.1.2.1\0", b"1.2.840.10008.1.2.5\0", 1))
    got = Registry(entry_points=False).check_file(path)
    assert [f.message for f in got] == ["native Pixel Data in an encapsulated transfer syntax"]


def test_non_patient_objects_need_no_patient(tmp_path: Path) -> None:
    ds = conformant_ct(PatientID=DELETE, PatientName=DELETE, Modality=DELETE)
    hp = "1.2.840.10008.5.1.4.38.1"  # Hanging Protocol Storage (PS3.4 Annex GG)
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = hp
    got = Registry(entry_points=False).check_file(write(tmp_path, ds))
    assert got == []


def test_the_tables_cover_the_iods_of_the_issue() -> None:
    names = {IODS[k][0] for k in set(SOP_CLASS_IOD.values())}
    for wanted in (
        "CT Image", "MR Image", "Computed Radiography Image", "Digital X-Ray Image",
        "Digital Mammography X-Ray Image", "Ultrasound Image", "Ultrasound Multi Frame Image",
        "Secondary Capture Image", "Multi Frame True Color Secondary Capture Image",
        "Nuclear Medicine Image", "Positron Emission Tomography Image",
        "X-Ray Angiographic Image", "X-Ray Radiofluoroscopic Image", "RT Image", "RT Dose",
        "RT Structure Set", "RT Plan", "Basic Text SR", "Enhanced SR", "Comprehensive SR",
        "Encapsulated PDF", "Enhanced CT Image", "Enhanced MR Image", "Segmentation",
    ):  # fmt: skip
        assert wanted in names
    assert COVERED_SOP_CLASSES[CT] == "ct-image"
    # every table row is a top-level Type 1 or 2 attribute
    assert all(t in ("1", "2") for rows in MODULES.values() for _, _, t in rows)

"""Tests of storecore.uid: transfer syntax and SOP Class records and look-ups."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

import pytest
from pydicom._uid_dict import UID_dictionary
from pydicom.uid import UID

from storecore import uid as uid_module
from storecore.errors import StorecoreError, UnknownUIDError
from storecore.uid import (
    DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN,
    EXPLICIT_VR_BIG_ENDIAN,
    EXPLICIT_VR_LITTLE_ENDIAN,
    IMPLICIT_VR_LITTLE_ENDIAN,
    NON_PATIENT_OBJECT_STORAGE_SOP_CLASSES,
    STORAGE_SOP_CLASSES,
    SOPClass,
    TransferSyntax,
    is_storage_sop_class,
    is_valid_uid,
    register_transfer_syntax,
    sop_class,
    transfer_syntax,
    transfer_syntaxes,
)

# pydicom's transfer syntaxes, plus the four of the current standard that pydicom
# 3.0.2 predates (pynetdicom adds them to pydicom's dictionary when imported, so
# whether they are in UID_dictionary depends on import order; storecore always has them)
PYDICOM_SYNTAXES = {
    uid: entry for uid, entry in UID_dictionary.items() if entry[1] == "Transfer Syntax"
}
for _uid, _entry in uid_module._NEWER_THAN_PYDICOM.items():
    PYDICOM_SYNTAXES.setdefault(_uid, _entry)
PRIVATE_UID = "1.2.826.0.1.3680043.9.7133.1.1"  # a UID under a non-DICOM root


@pytest.fixture
def isolated_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Let a test register private syntaxes without leaking them to others."""
    monkeypatch.setattr(uid_module, "_TS_BY_UID", dict(uid_module._TS_BY_UID))
    monkeypatch.setattr(uid_module, "_TS_BY_KEYWORD", dict(uid_module._TS_BY_KEYWORD))
    yield


# --------------------------------------------------------------------------
# Transfer syntaxes: completeness against pydicom's dictionary


@pytest.mark.parametrize("uid", list(PYDICOM_SYNTAXES))
def test_every_pydicom_transfer_syntax_is_registered(uid: str) -> None:
    name, _kind, _info, retired, keyword = PYDICOM_SYNTAXES[uid]
    record = transfer_syntax(uid)
    assert type(record) is TransferSyntax
    assert record.uid == uid
    assert record.name == name
    assert record.keyword == keyword
    assert record.retired is (retired == "Retired")
    assert record.private is False
    assert transfer_syntax(keyword) is record


def test_property_table_matches_pydicom_keywords_exactly() -> None:
    # A row for a keyword pydicom does not have would be dead; a pydicom syntax
    # without a row would be silently unregistered.
    keywords = {entry[4] for entry in PYDICOM_SYNTAXES.values()}
    assert set(uid_module._STANDARD_SYNTAX_PROPERTIES) == keywords


def test_transfer_syntaxes_follow_pydicom_order() -> None:
    assert [ts.uid for ts in transfer_syntaxes()] == list(PYDICOM_SYNTAXES)


def test_module_constants() -> None:
    assert IMPLICIT_VR_LITTLE_ENDIAN.uid == "1.2.840.10008.1.2"
    assert EXPLICIT_VR_LITTLE_ENDIAN.uid == "1.2.840.10008.1.2.1"
    assert EXPLICIT_VR_BIG_ENDIAN.uid == "1.2.840.10008.1.2.2"
    assert DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN.uid == "1.2.840.10008.1.2.1.99"
    for constant in (
        IMPLICIT_VR_LITTLE_ENDIAN,
        EXPLICIT_VR_LITTLE_ENDIAN,
        EXPLICIT_VR_BIG_ENDIAN,
        DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN,
    ):
        assert transfer_syntax(constant.uid) is constant


# --------------------------------------------------------------------------
# Transfer syntaxes: properties


def test_implicit_vr_little_endian() -> None:
    ts = IMPLICIT_VR_LITTLE_ENDIAN
    assert (ts.implicit_vr, ts.explicit_vr, ts.little_endian) == (True, False, True)
    assert (ts.deflated, ts.encapsulated, ts.lossy) == (False, False, False)
    assert (ts.pixel_data, ts.family, ts.native, ts.retired) == ("native", "native", True, False)


def test_explicit_vr_little_endian() -> None:
    ts = EXPLICIT_VR_LITTLE_ENDIAN
    assert (ts.implicit_vr, ts.explicit_vr, ts.little_endian) == (False, True, True)
    assert (ts.deflated, ts.encapsulated, ts.lossy) == (False, False, False)
    assert (ts.pixel_data, ts.family, ts.native, ts.retired) == ("native", "native", True, False)


def test_explicit_vr_big_endian() -> None:
    ts = EXPLICIT_VR_BIG_ENDIAN
    assert (ts.implicit_vr, ts.explicit_vr, ts.little_endian) == (False, True, False)
    assert (ts.deflated, ts.encapsulated, ts.lossy) == (False, False, False)
    assert (ts.pixel_data, ts.family, ts.native, ts.retired) == ("native", "native", True, True)


def test_deflated_explicit_vr_little_endian() -> None:
    ts = DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN
    assert (ts.implicit_vr, ts.explicit_vr, ts.little_endian) == (False, True, True)
    assert (ts.deflated, ts.encapsulated, ts.lossy) == (True, False, False)
    assert (ts.pixel_data, ts.family, ts.native, ts.retired) == ("native", "deflate", True, False)


def test_only_big_endian_is_big_endian() -> None:
    assert [ts.keyword for ts in transfer_syntaxes() if not ts.little_endian] == [
        "ExplicitVRBigEndian"
    ]


def test_native_syntaxes_are_exactly_the_byte_level_ones() -> None:
    assert {ts.keyword for ts in transfer_syntaxes() if ts.native} == {
        "ImplicitVRLittleEndian",
        "ExplicitVRLittleEndian",
        "ExplicitVRBigEndian",
        "DeflatedExplicitVRLittleEndian",
        "Papyrus3ImplicitVRLittleEndian",
    }


def test_deflated_syntaxes() -> None:
    assert {ts.keyword for ts in transfer_syntaxes() if ts.deflated} == {
        "DeflatedExplicitVRLittleEndian",
        "JPIPReferencedDeflate",
        "JPIPHTJ2KReferencedDeflate",
    }


# (keyword, encapsulated, lossy, pixel_data, family)
SAMPLES = [
    ("JPEGBaseline8Bit", True, True, "encapsulated", "jpeg"),
    ("JPEGExtended12Bit", True, True, "encapsulated", "jpeg"),
    ("JPEGLossless", True, False, "encapsulated", "jpeg"),
    ("JPEGLosslessSV1", True, False, "encapsulated", "jpeg"),
    ("JPEGLosslessHierarchical29", True, False, "encapsulated", "jpeg"),
    ("JPEGLSLossless", True, False, "encapsulated", "jpeg-ls"),
    ("JPEGLSNearLossless", True, True, "encapsulated", "jpeg-ls"),
    ("JPEG2000Lossless", True, False, "encapsulated", "jpeg2000"),
    ("JPEG2000", True, True, "encapsulated", "jpeg2000"),
    ("JPEG2000MCLossless", True, False, "encapsulated", "jpeg2000"),
    ("JPEG2000MC", True, True, "encapsulated", "jpeg2000"),
    ("RLELossless", True, False, "encapsulated", "rle"),
    ("HTJ2KLossless", True, False, "encapsulated", "htj2k"),
    ("HTJ2KLosslessRPCL", True, False, "encapsulated", "htj2k"),
    ("HTJ2K", True, True, "encapsulated", "htj2k"),
    ("MPEG2MPML", True, True, "encapsulated", "mpeg2"),
    ("MPEG4HP41", True, True, "encapsulated", "mpeg4"),
    ("HEVCM10P51", True, True, "encapsulated", "hevc"),
    ("EncapsulatedUncompressedExplicitVRLittleEndian", True, False, "encapsulated", "native"),
    ("JPIPReferenced", False, False, "referenced", "jpip"),
    ("JPIPReferencedDeflate", False, False, "referenced", "jpip"),
    ("JPIPHTJ2KReferenced", False, False, "referenced", "jpip"),
    ("SMPTEST211020UncompressedProgressiveActiveVideo", False, False, "separate", "smpte2110"),
    ("SMPTEST211030PCMDigitalAudio", False, False, "separate", "smpte2110"),
    ("JPEGXLLossless", True, False, "encapsulated", "jpegxl"),
    ("JPEGXL", True, True, "encapsulated", "jpegxl"),
    ("DeflatedImageFrameCompression", True, False, "encapsulated", "deflate-frames"),
    ("XMLEncoding", False, False, "native", "other"),
]


@pytest.mark.parametrize(("keyword", "encapsulated", "lossy", "pixel_data", "family"), SAMPLES)
def test_compressed_and_special_syntaxes(
    keyword: str, encapsulated: bool, lossy: bool, pixel_data: str, family: str
) -> None:
    ts = transfer_syntax(keyword)
    assert ts.encapsulated is encapsulated
    assert ts.lossy is lossy
    assert ts.pixel_data == pixel_data
    assert ts.family == family
    assert ts.native is False
    # Every standard syntax but two Implicit VR ones and Big Endian is Explicit VR LE.
    assert (ts.explicit_vr, ts.little_endian) == (True, True)


def test_jpip_referenced_deflate_is_deflated() -> None:
    assert transfer_syntax("JPIPReferencedDeflate").deflated is True
    assert transfer_syntax("JPIPReferenced").deflated is False


def test_lossy_syntaxes_are_all_encapsulated() -> None:
    for ts in transfer_syntaxes():
        if ts.lossy:
            assert ts.encapsulated, ts.keyword


def test_lossless_jpeg_processes() -> None:
    # PS3.5 A.4.1: processes 14, 15, 28, 29 and 14 SV1 are the lossless ones.
    lossless_jpeg = {
        ts.keyword for ts in transfer_syntaxes() if ts.family == "jpeg" and not ts.lossy
    }
    assert lossless_jpeg == {
        "JPEGLossless",
        "JPEGLosslessNonHierarchical15",
        "JPEGLosslessHierarchical28",
        "JPEGLosslessHierarchical29",
        "JPEGLosslessSV1",
    }


def test_papyrus_3_is_implicit_vr_little_endian() -> None:
    ts = transfer_syntax("1.2.840.10008.1.20")
    assert (ts.implicit_vr, ts.little_endian, ts.native, ts.retired) == (True, True, True, True)


# Deliberate disagreements with pydicom 3.0's UID properties, per attribute, by keyword.
#   is_implicit_VR: pydicom special-cases 1.2.840.10008.1.2 only; Papyrus 3 Implicit VR
#     Little Endian is, as its name says, implicit VR.
#   is_deflated: pydicom special-cases 1.2.840.10008.1.2.1.99 only; the JPIP Referenced
#     Deflate syntaxes deflate the Data Set too (PS3.5 A.7 and its HTJ2K sibling).
#   is_compressed (compared with `not native`): Papyrus 3 again.
#   is_encapsulated (pydicom: same as is_compressed): JPIP carries a Pixel Data Provider
#     URL instead of Pixel Data, SMPTE ST 2110 carries the pixels outside the Data Set,
#     the two retired 1.2.840.10008.1.2.6 syntaxes are no dataset encodings, and
#     Papyrus 3 is native: none has fragments.
PYDICOM_DISAGREEMENTS = {
    "is_implicit_VR": {"Papyrus3ImplicitVRLittleEndian"},
    "is_little_endian": set(),
    "is_deflated": {"JPIPReferencedDeflate", "JPIPHTJ2KReferencedDeflate"},
    "is_compressed": {"Papyrus3ImplicitVRLittleEndian"},
    "is_encapsulated": {
        "JPIPReferenced",
        "JPIPReferencedDeflate",
        "JPIPHTJ2KReferenced",
        "JPIPHTJ2KReferencedDeflate",
        "SMPTEST211020UncompressedProgressiveActiveVideo",
        "SMPTEST211020UncompressedInterlacedActiveVideo",
        "SMPTEST211030PCMDigitalAudio",
        "RFC2557MIMEEncapsulation",
        "XMLEncoding",
        "Papyrus3ImplicitVRLittleEndian",
    },
}


OUR_EQUIVALENT: dict[str, Callable[[TransferSyntax], bool]] = {
    "is_implicit_VR": lambda ts: ts.implicit_vr,
    "is_little_endian": lambda ts: ts.little_endian,
    "is_deflated": lambda ts: ts.deflated,
    "is_compressed": lambda ts: not ts.native,
    "is_encapsulated": lambda ts: ts.encapsulated,
}


@pytest.mark.parametrize("attribute", list(PYDICOM_DISAGREEMENTS))
def test_properties_agree_with_pydicom_except_documented(attribute: str) -> None:
    ours = OUR_EQUIVALENT[attribute]
    disagreements: set[str] = set()
    compared = 0
    for ts in transfer_syntaxes():
        try:
            theirs = getattr(UID(ts.uid), attribute)
        except ValueError:  # pydicom does not define it for this UID
            continue
        compared += 1
        if ours(ts) != theirs:
            disagreements.add(ts.keyword)
    # pydicom answers only for the syntaxes in its dictionary at this moment
    assert compared == len([u for u in PYDICOM_SYNTAXES if u in UID_dictionary])
    assert disagreements == PYDICOM_DISAGREEMENTS[attribute]


# --------------------------------------------------------------------------
# Transfer syntaxes: look-ups and errors


def test_lookup_by_uid_and_keyword_give_the_same_record() -> None:
    assert transfer_syntax("1.2.840.10008.1.2.4.50") is transfer_syntax("JPEGBaseline8Bit")


def test_lookup_accepts_pydicom_uid_objects() -> None:
    assert transfer_syntax(UID("1.2.840.10008.1.2.1")) is EXPLICIT_VR_LITTLE_ENDIAN


def test_lookup_of_a_registered_record_returns_it() -> None:
    assert transfer_syntax(EXPLICIT_VR_BIG_ENDIAN) is EXPLICIT_VR_BIG_ENDIAN
    assert transfer_syntax(dataclasses.replace(EXPLICIT_VR_BIG_ENDIAN)) is EXPLICIT_VR_BIG_ENDIAN


def test_lookup_of_an_unregistered_record_raises() -> None:
    forged = dataclasses.replace(EXPLICIT_VR_LITTLE_ENDIAN, lossy=False, implicit_vr=True)
    with pytest.raises(UnknownUIDError, match=r"1\.2\.840\.10008\.1\.2\.1"):
        transfer_syntax(forged)


@pytest.mark.parametrize(
    "value",
    [
        "1.2.3.4.5",
        "ExplicitVRLittleEndianX",
        "",
        "1.2.840.10008.1.2\x00",  # the wire's NUL pad is the decoder's to strip
        "explicitvrlittleendian",
    ],
)
def test_unknown_transfer_syntax_raises_naming_the_value(value: str) -> None:
    with pytest.raises(UnknownUIDError) as raised:
        transfer_syntax(value)
    assert repr(value) in str(raised.value)
    assert isinstance(raised.value, LookupError)
    assert isinstance(raised.value, StorecoreError)


def test_sop_class_uid_is_not_a_transfer_syntax() -> None:
    with pytest.raises(UnknownUIDError, match="SOP Class"):
        transfer_syntax("1.2.840.10008.5.1.4.1.1.2")


def test_transfer_syntax_records_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        EXPLICIT_VR_LITTLE_ENDIAN.lossy = True  # type: ignore[misc]


@pytest.mark.parametrize(
    "change",
    [
        {"pixel_data": "compressed"},
        {"family": "jpeg-xl"},
        {"encapsulated": True},  # with pixel_data still "native"
        {"pixel_data": "encapsulated"},  # with encapsulated still False
    ],
)
def test_inconsistent_records_are_refused(change: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        dataclasses.replace(EXPLICIT_VR_LITTLE_ENDIAN, **change)  # type: ignore[arg-type]


# --------------------------------------------------------------------------
# Private transfer syntaxes


@pytest.mark.usefixtures("isolated_registry")
def test_register_private_syntax() -> None:
    record = register_transfer_syntax(
        PRIVATE_UID,
        "Example Private Big Endian Implicit",
        implicit_vr=True,
        little_endian=False,
        keyword="ExamplePrivateImplicitBE",
    )
    assert record.private is True
    assert record.family == "private"
    assert record.retired is False
    assert record.native is False
    assert (record.implicit_vr, record.little_endian, record.deflated) == (True, False, False)
    assert (record.encapsulated, record.lossy, record.pixel_data) == (False, False, "native")
    assert transfer_syntax(PRIVATE_UID) is record
    assert transfer_syntax("ExamplePrivateImplicitBE") is record
    assert transfer_syntaxes()[-1] is record
    assert [ts.uid for ts in transfer_syntaxes()[:-1]] == list(PYDICOM_SYNTAXES)


@pytest.mark.usefixtures("isolated_registry")
def test_register_encapsulated_private_syntax_without_keyword() -> None:
    record = register_transfer_syntax(
        PRIVATE_UID,
        "Example Codec",
        implicit_vr=False,
        little_endian=True,
        encapsulated=True,
        lossy=True,
    )
    assert (record.pixel_data, record.keyword, record.lossy) == ("encapsulated", "", True)
    assert transfer_syntax(PRIVATE_UID) is record
    with pytest.raises(UnknownUIDError):
        transfer_syntax("")


@pytest.mark.usefixtures("isolated_registry")
def test_registry_isolation_fixture_really_isolates() -> None:
    # The private UID registered by other tests must not be visible here.
    with pytest.raises(UnknownUIDError):
        transfer_syntax(PRIVATE_UID)


@pytest.mark.usefixtures("isolated_registry")
def test_re_registering_identically_is_allowed() -> None:
    first = register_transfer_syntax(PRIVATE_UID, "X", implicit_vr=False, little_endian=True)
    second = register_transfer_syntax(PRIVATE_UID, "X", implicit_vr=False, little_endian=True)
    assert second is first
    assert sum(ts.uid == PRIVATE_UID for ts in transfer_syntaxes()) == 1


@pytest.mark.usefixtures("isolated_registry")
@pytest.mark.parametrize(
    "change",
    [
        {"implicit_vr": True},
        {"deflated": True},
        {"encapsulated": True},
        {"lossy": True},
        {"name": "Y"},
        {"keyword": "PrivateX"},
    ],
)
def test_conflicting_re_registration_is_refused(change: dict[str, object]) -> None:
    original = register_transfer_syntax(PRIVATE_UID, "X", implicit_vr=False, little_endian=True)
    arguments: dict[str, object] = {"name": "X", "implicit_vr": False, "little_endian": True}
    arguments.update(change)
    with pytest.raises(ValueError, match="already registered"):
        register_transfer_syntax(PRIVATE_UID, **arguments)  # type: ignore[arg-type]
    assert transfer_syntax(PRIVATE_UID) is original
    assert "PrivateX" not in uid_module._TS_BY_KEYWORD


@pytest.mark.usefixtures("isolated_registry")
@pytest.mark.parametrize(
    "uid",
    [
        "1.2.840.10008.1.2.1",  # a standard transfer syntax
        "1.2.840.10008.5.1.4.1.1.2",  # a standard SOP Class
        "1.2.840.10008.1.2.4.110",  # not in pydicom 3.0's dictionary, but the DICOM root
        "1.2.840.10008.99999",
    ],
)
def test_standard_uids_cannot_be_redefined(uid: str) -> None:
    before = transfer_syntaxes()
    with pytest.raises(ValueError, match="standard"):
        register_transfer_syntax(uid, "Mine", implicit_vr=True, little_endian=True)
    assert transfer_syntaxes() == before


@pytest.mark.usefixtures("isolated_registry")
@pytest.mark.parametrize("uid", ["1.02.3", "1.2.", "", "1..2", "1.2.a", "1" + ".1" * 32, " 1.2"])
def test_invalid_private_uids_are_refused(uid: str) -> None:
    with pytest.raises(ValueError, match="not a valid UID"):
        register_transfer_syntax(uid, "Mine", implicit_vr=True, little_endian=True)
    assert uid not in uid_module._TS_BY_UID


@pytest.mark.usefixtures("isolated_registry")
def test_private_keyword_cannot_take_another_syntax_keyword() -> None:
    with pytest.raises(ValueError, match="already names"):
        register_transfer_syntax(
            PRIVATE_UID,
            "Mine",
            implicit_vr=True,
            little_endian=True,
            keyword="ImplicitVRLittleEndian",
        )
    assert PRIVATE_UID not in uid_module._TS_BY_UID
    assert transfer_syntax("ImplicitVRLittleEndian") is IMPLICIT_VR_LITTLE_ENDIAN


@pytest.mark.usefixtures("isolated_registry")
@pytest.mark.parametrize("keyword", ["1.2.3", "has space", "Dotted.Name"])
def test_private_keyword_must_be_an_identifier(keyword: str) -> None:
    with pytest.raises(ValueError, match="identifier"):
        register_transfer_syntax(
            PRIVATE_UID, "Mine", implicit_vr=True, little_endian=True, keyword=keyword
        )


@pytest.mark.usefixtures("isolated_registry")
def test_private_syntax_needs_a_name_and_bool_flags() -> None:
    with pytest.raises(ValueError, match="name"):
        register_transfer_syntax(PRIVATE_UID, "", implicit_vr=True, little_endian=True)
    with pytest.raises(TypeError, match="little_endian"):
        register_transfer_syntax(PRIVATE_UID, "Mine", implicit_vr=True, little_endian=1)  # type: ignore[arg-type]
    assert PRIVATE_UID not in uid_module._TS_BY_UID


# --------------------------------------------------------------------------
# SOP Classes


def test_sop_class_lookup_by_uid_and_keyword() -> None:
    ct = sop_class("1.2.840.10008.5.1.4.1.1.2")
    assert ct == SOPClass(
        uid="1.2.840.10008.5.1.4.1.1.2",
        name="CT Image Storage",
        keyword="CTImageStorage",
        retired=False,
    )
    assert sop_class("CTImageStorage") is ct


def test_every_pydicom_sop_class_is_known() -> None:
    for uid, (name, kind, _info, retired, keyword) in UID_dictionary.items():
        if kind in ("SOP Class", "Meta SOP Class"):
            record = sop_class(uid)
            assert (record.name, record.keyword) == (name, keyword)
            assert record.retired is (retired == "Retired")


def test_meta_and_retired_sop_classes() -> None:
    assert sop_class("BasicGrayscalePrintManagementMeta").uid == "1.2.840.10008.5.1.1.9"
    retired = sop_class("1.2.840.10008.5.1.4.1.1.6")
    assert (retired.keyword, retired.retired) == ("UltrasoundImageStorageRetired", True)
    assert sop_class("UltrasoundImageStorage").uid == "1.2.840.10008.5.1.4.1.1.6.1"


@pytest.mark.parametrize(
    "value",
    [
        "1.2.840.10008.1.2.1",  # a transfer syntax
        "1.2.840.10008.4.2",  # the Storage Service Class: a service class, not a SOP Class
        "1.2.3.4",
        "CTImageStorag",
        "",  # two retired pydicom entries have an empty keyword; "" must not find them
    ],
)
def test_unknown_sop_class_raises_naming_the_value(value: str) -> None:
    with pytest.raises(UnknownUIDError) as raised:
        sop_class(value)
    assert repr(value) in str(raised.value)
    assert isinstance(raised.value, LookupError)


def test_storage_sop_classes_are_known_sop_classes() -> None:
    for record in STORAGE_SOP_CLASSES:
        assert sop_class(record.uid) is record
        assert is_storage_sop_class(record.uid)
    assert len({record.uid for record in STORAGE_SOP_CLASSES}) == len(STORAGE_SOP_CLASSES)


def test_storage_sop_classes_include_retired_ones_flagged() -> None:
    by_uid = {record.uid: record for record in STORAGE_SOP_CLASSES}
    assert by_uid["1.2.840.10008.5.1.4.1.1.5"].retired is True  # NM Image Storage (retired)
    assert by_uid["1.2.840.10008.5.1.4.1.1.20"].retired is False
    assert any(record.retired for record in STORAGE_SOP_CLASSES)


def test_storage_sop_classes_superset_of_pynetdicom() -> None:
    sop_class_module = pytest.importorskip("pynetdicom.sop_class")
    theirs = set(sop_class_module._STORAGE_CLASSES.values())
    ours = {record.uid for record in STORAGE_SOP_CLASSES}
    # pynetdicom knows a few classes newer than pydicom's dictionary; names come
    # from pydicom only, so exactly those may be missing.
    assert theirs - ours == {uid for uid in theirs if uid not in UID_dictionary}
    # What we add beyond pynetdicom: retired classes, and DICOS (501) and DICONDE
    # (601) classes, whose IODs are defined outside DICOM.
    for uid in ours - theirs:
        record = sop_class(uid)
        assert record.retired or uid.startswith(
            ("1.2.840.10008.5.1.4.1.1.501.", "1.2.840.10008.5.1.4.1.1.601.")
        ), record


def test_non_storage_classes_are_excluded() -> None:
    sop_class_module = pytest.importorskip("pynetdicom.sop_class")
    ours = {record.uid for record in STORAGE_SOP_CLASSES}
    for table in (
        "_QR_CLASSES",
        "_BASIC_WORKLIST_CLASSES",
        "_STORAGE_COMMITMENT_CLASSES",
        "_STORAGE_MANAGEMENT_CLASSES",
        "_MEDIA_STORAGE_CLASSES",
        "_NON_PATIENT_OBJECT_CLASSES",
        "_PRINT_MANAGEMENT_CLASSES",
        "_PROCEDURE_STEP_CLASSES",
        "_UNIFIED_PROCEDURE_STEP_CLASSES",
        "_VERIFICATION_CLASSES",
    ):
        assert not ours & set(getattr(sop_class_module, table).values()), table


@pytest.mark.parametrize(
    "uid",
    [
        "1.2.840.10008.1.20.1",  # Storage Commitment Push Model
        "1.2.840.10008.1.20.2",  # Storage Commitment Pull Model (retired)
        "1.2.840.10008.1.3.10",  # Media Storage Directory Storage
        "1.2.840.10008.4.2",  # Storage Service Class
        "1.2.840.10008.5.1.4.1.2.2.1",  # Study Root Q/R - FIND
        "1.2.840.10008.5.1.4.1.2.2.2",  # Study Root Q/R - MOVE
        "1.2.840.10008.5.1.4.31",  # Modality Worklist - FIND
        "1.2.840.10008.1.1",  # Verification
        "1.2.840.10008.5.1.4.38.1",  # Hanging Protocol Storage (Non-Patient Object)
        "1.2.840.10008.1.2.1",  # a transfer syntax
        "1.2.3.4",
    ],
)
def test_is_storage_sop_class_false(uid: str) -> None:
    assert is_storage_sop_class(uid) is False


@pytest.mark.parametrize(
    "uid",
    [
        "1.2.840.10008.5.1.4.1.1.2",  # CT Image Storage
        "1.2.840.10008.5.1.4.1.1.88.22",  # Enhanced SR Storage
        "1.2.840.10008.5.1.4.1.1.104.1",  # Encapsulated PDF Storage
        "1.2.840.10008.5.1.4.1.1.481.5",  # RT Plan Storage
        "1.2.840.10008.5.1.4.34.7",  # RT Beams Delivery Instruction Storage
        "1.2.840.10008.5.1.1.29",  # Hardcopy Grayscale Image Storage (retired)
    ],
)
def test_is_storage_sop_class_true(uid: str) -> None:
    assert is_storage_sop_class(uid) is True


def test_is_storage_sop_class_takes_uids_not_keywords() -> None:
    assert is_storage_sop_class("CTImageStorage") is False


def test_storage_names_exclude_non_storage_services() -> None:
    for record in STORAGE_SOP_CLASSES:
        assert "Storage" in record.name
        for word in ("Commitment", "Query", "Retrieve", "Worklist", "FIND", "MOVE", "GET"):
            assert word not in record.name, record


def test_non_patient_object_storage_classes() -> None:
    keywords = {record.keyword for record in NON_PATIENT_OBJECT_STORAGE_SOP_CLASSES}
    assert keywords == uid_module._NON_PATIENT_OBJECT_KEYWORDS  # every listed keyword exists
    assert not keywords & {record.keyword for record in STORAGE_SOP_CLASSES}
    sop_class_module = pytest.importorskip("pynetdicom.sop_class")
    assert {record.uid for record in NON_PATIENT_OBJECT_STORAGE_SOP_CLASSES} == set(
        sop_class_module._NON_PATIENT_OBJECT_CLASSES.values()
    )


# --------------------------------------------------------------------------
# UID syntax (PS3.5 Section 9.1)


@pytest.mark.parametrize(
    "uid",
    [
        "1.0.2",
        "0",
        "1.2.840.10008.1.2",
        "1.2.840.10008.5.1.4.1.1.481.25",
        "2.25.329800735698586629295641978511506172918",
        "1" + ".1" * 31 + "1",  # 64 characters
    ],
)
def test_valid_uids(uid: str) -> None:
    assert len(uid) <= 64
    assert is_valid_uid(uid) is True


@pytest.mark.parametrize(
    "uid",
    [
        "1.02",  # leading zero in a component
        "01.2",
        "1.2.00",
        "1" + ".1" * 32,  # 65 characters
        "",
        "1.2.",  # trailing dot
        ".1.2",
        "1..2",
        "1.2.a",
        "1.2 ",
        "1.2\x00",  # the encoded pad is not part of the UID
        "1.2\n",
        "1.\u0662",  # a non-ASCII (Arabic-Indic) digit
        "-1.2",
    ],
)
def test_invalid_uids(uid: str) -> None:
    assert is_valid_uid(uid) is False


def test_every_dictionary_uid_is_valid() -> None:
    assert all(is_valid_uid(uid) for uid in UID_dictionary)


def test_all_public_names_exist() -> None:
    assert set(uid_module.__all__) <= set(dir(uid_module))

"""Transfer syntax and SOP Class records, and their look-ups.

Every name, keyword and UID here comes from pydicom's UID dictionary
(``pydicom._uid_dict.UID_dictionary``, itself generated from PS3.6 Annex A,
Table A-1), through ``storecore._uid_table``, the copy tools/gen_uid_table.py
makes of it; none is typed by hand. The copy keeps pydicom (and numpy, which it
imports) out of the receiver's start-up, and keeps this module's records the
same whether or not pynetdicom, which adds entries to pydicom's dictionary, has
been imported. What the dictionary does not say, the
encoding properties of each transfer syntax, is a table keyed by pydicom keyword
(``_STANDARD_SYNTAX_PROPERTIES`` below) that cites PS3.5 Section 10 and Annex A.

All look-ups are single dictionary reads. Look-ups are exact: a UID read from
the wire still carries its trailing NUL pad (PS3.5 Section 9.1) and must be
stripped by the decoder that read it before it is looked up here.

References
----------
PS3.5 Section 9.1 (UID encoding rules), Section 10 and Annex A (transfer
syntaxes); PS3.6 Annex A (the UID registry); PS3.4 Annex B, Table B.5-1
(Storage SOP Classes) and Annex GG (Non-Patient Object Storage).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from storecore._uid_table import UID_TABLE
from storecore.errors import UnknownUIDError

__all__ = [
    "TransferSyntax",
    "transfer_syntax",
    "transfer_syntaxes",
    "register_transfer_syntax",
    "IMPLICIT_VR_LITTLE_ENDIAN",
    "EXPLICIT_VR_LITTLE_ENDIAN",
    "EXPLICIT_VR_BIG_ENDIAN",
    "DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN",
    "SOPClass",
    "STORAGE_SOP_CLASSES",
    "NON_PATIENT_OBJECT_STORAGE_SOP_CLASSES",
    "sop_class",
    "is_storage_sop_class",
    "is_valid_uid",
]

# The root PS3.5 Section 9 reserves for items the DICOM Standard itself defines.
_DICOM_ROOT: Final = "1.2.840.10008."

# PS3.5 Section 9.1: components of ASCII digits separated by ".", no leading
# zero in a component except the single digit "0", at most 64 characters.
# [0-9], not \d (which matches non-ASCII digits); used with fullmatch, so a
# trailing newline is not accepted the way "$" would accept it.
_UID_PATTERN: Final = re.compile(r"(?:0|[1-9][0-9]*)(?:\.(?:0|[1-9][0-9]*))*")
_UID_MAX_LENGTH: Final = 64

_PIXEL_DATA_KINDS: Final = frozenset({"native", "encapsulated", "referenced", "separate"})
_FAMILIES: Final = frozenset(
    {
        "native",
        "deflate",
        "jpeg",
        "jpeg-ls",
        "jpeg2000",
        "htj2k",
        "rle",
        "mpeg2",
        "mpeg4",
        "hevc",
        "jpip",
        "smpte2110",
        "jpegxl",
        "deflate-frames",
        # The two retired syntaxes of the 1.2.840.10008.1.2.6 arc (RFC 2557 MIME
        # encapsulation, XML Encoding) named a document packaging, not a binary
        # encoding of the Data Set; no family above describes them.
        "other",
        "private",
    }
)


def is_valid_uid(uid: str) -> bool:
    """Tell whether ``uid`` follows the UID encoding rules.

    Parameters
    ----------
    uid : str
        The UID, without the trailing NUL pad of its encoded value.

    Returns
    -------
    bool
        True if ``uid`` is 1 to 64 characters of dot-separated components of
        ASCII digits, none with a leading zero unless it is the single digit "0".
        Like pydicom, a single component is accepted: the rule is syntactic.

    References
    ----------
    PS3.5 Section 9.1, "UID Encoding Rules".
    """
    return len(uid) <= _UID_MAX_LENGTH and _UID_PATTERN.fullmatch(uid) is not None


# --------------------------------------------------------------------------
# Transfer syntaxes


@dataclass(frozen=True, slots=True)
class TransferSyntax:
    """One transfer syntax and how it encodes a Data Set.

    Attributes
    ----------
    uid : str
        The Transfer Syntax UID.
    name : str
        The name, as PS3.6 Table A-1 (through pydicom) gives it.
    keyword : str
        pydicom's keyword (e.g. ``"ExplicitVRLittleEndian"``); empty for a
        private syntax registered without one.
    implicit_vr : bool
        Data Elements carry no VR field (PS3.5 Section 7.1.3).
    little_endian : bool
        False only for Explicit VR Big Endian (PS3.5 Section 7.3, Annex A.3).
    deflated : bool
        The Data Set is deflated as a whole (PS3.5 Annex A.5; the JPIP Deflate
        syntaxes do the same).
    encapsulated : bool
        Pixel Data is a sequence of fragments (PS3.5 Annex A.4).
    lossy : bool
        The syntax may carry lossy-compressed pixel data; False for syntaxes
        that are lossless only, and for those whose Data Set carries no pixel
        data (JPIP, SMPTE ST 2110).
    pixel_data : str
        ``"native"``, ``"encapsulated"``, ``"referenced"`` (JPIP: the Data Set
        holds a Pixel Data Provider URL (0028,7FE0) instead, PS3.5 Section 8.4)
        or ``"separate"`` (SMPTE ST 2110: the pixel data travels outside the
        Data Set).
    family : str
        The coding family: ``"native"``, ``"deflate"``, ``"jpeg"``,
        ``"jpeg-ls"``, ``"jpeg2000"``, ``"htj2k"``, ``"rle"``, ``"mpeg2"``,
        ``"mpeg4"``, ``"hevc"``, ``"jpip"``, ``"smpte2110"``, ``"other"`` (the
        two retired 1.2.840.10008.1.2.6 syntaxes) or ``"private"``.
    retired : bool
        PS3.6 marks the syntax retired.
    private : bool
        Registered through :func:`register_transfer_syntax`.

    References
    ----------
    PS3.5 Section 10 and Annex A.
    """

    uid: str
    name: str
    keyword: str
    implicit_vr: bool
    little_endian: bool
    deflated: bool
    encapsulated: bool
    lossy: bool
    pixel_data: str
    family: str
    retired: bool
    private: bool = False

    def __post_init__(self) -> None:
        if self.pixel_data not in _PIXEL_DATA_KINDS:
            raise ValueError(f"unknown pixel_data kind {self.pixel_data!r}")
        if self.family not in _FAMILIES:
            raise ValueError(f"unknown transfer syntax family {self.family!r}")
        if self.encapsulated != (self.pixel_data == "encapsulated"):
            raise ValueError("encapsulated must be True exactly when pixel_data is 'encapsulated'")

    @property
    def explicit_vr(self) -> bool:
        """True if Data Elements carry a VR field (PS3.5 Section 7.1.2)."""
        return not self.implicit_vr

    @property
    def native(self) -> bool:
        """True for the syntaxes the byte-level transcoder rewrites.

        These are the uncompressed, unencapsulated encodings of PS3.5 Annex A.1,
        A.2, A.3 and A.5 (Implicit VR Little Endian, Explicit VR Little Endian,
        Explicit VR Big Endian, Deflated Explicit VR Little Endian) and the
        retired Papyrus 3 Implicit VR Little Endian. Private syntaxes are never
        native: their encoding is known only by the flags a caller declared.
        """
        return self.pixel_data == "native" and self.family in ("native", "deflate")


# The encoding of each standard syntax, keyed by pydicom keyword: the facts of
# PS3.5 Section 10 and Annex A that PS3.6 Table A-1 does not carry.
#
# flags: "I" Implicit VR (A.1; otherwise Explicit VR), "B" Big Endian (A.3;
# otherwise Little Endian), "D" the Data Set is deflated (A.5, and the JPIP
# Referenced Deflate syntaxes), "E" Pixel Data encapsulated in fragments (A.4),
# "L" may be lossy.
# JPEG (A.4.1): only processes 14, 15, 28, 29 and 14 SV1 are lossless.
# JPEG-LS (A.4.3) and JPEG 2000 (A.4.4) name their lossless-only syntaxes.
# JPIP (Section 8.4.1; A.6, A.7 and their HTJ2K siblings): Explicit VR Little
#   Endian, Pixel Data replaced by the Pixel Data Provider URL; nothing lossy is
#   in the Data Set, whatever the JPIP server later delivers.
# SMPTE ST 2110 (Annex A): Explicit VR Little Endian, the video or audio
#   travels as a separate ST 2110 flow.
# RFC 2557 / XML Encoding (retired): listed by PS3.6 only; nominally Explicit VR
#   Little Endian, not encodings storecore reads.
# Papyrus 3 (retired, PS3.6 only): Implicit VR Little Endian, as its name says.
_STANDARD_SYNTAX_PROPERTIES: Final[dict[str, tuple[str, str, str]]] = {
    # keyword: (flags, pixel_data, family)
    "ImplicitVRLittleEndian": ("I", "native", "native"),
    "ExplicitVRLittleEndian": ("", "native", "native"),
    # A.4: native pixel data, one fragment per frame; no codec to undo.
    "EncapsulatedUncompressedExplicitVRLittleEndian": ("E", "encapsulated", "native"),
    "DeflatedExplicitVRLittleEndian": ("D", "native", "deflate"),
    "ExplicitVRBigEndian": ("B", "native", "native"),
    "JPEGBaseline8Bit": ("EL", "encapsulated", "jpeg"),
    "JPEGExtended12Bit": ("EL", "encapsulated", "jpeg"),
    "JPEGExtended35": ("EL", "encapsulated", "jpeg"),
    "JPEGSpectralSelectionNonHierarchical68": ("EL", "encapsulated", "jpeg"),
    "JPEGSpectralSelectionNonHierarchical79": ("EL", "encapsulated", "jpeg"),
    "JPEGFullProgressionNonHierarchical1012": ("EL", "encapsulated", "jpeg"),
    "JPEGFullProgressionNonHierarchical1113": ("EL", "encapsulated", "jpeg"),
    "JPEGLossless": ("E", "encapsulated", "jpeg"),
    "JPEGLosslessNonHierarchical15": ("E", "encapsulated", "jpeg"),
    "JPEGExtendedHierarchical1618": ("EL", "encapsulated", "jpeg"),
    "JPEGExtendedHierarchical1719": ("EL", "encapsulated", "jpeg"),
    "JPEGSpectralSelectionHierarchical2022": ("EL", "encapsulated", "jpeg"),
    "JPEGSpectralSelectionHierarchical2123": ("EL", "encapsulated", "jpeg"),
    "JPEGFullProgressionHierarchical2426": ("EL", "encapsulated", "jpeg"),
    "JPEGFullProgressionHierarchical2527": ("EL", "encapsulated", "jpeg"),
    "JPEGLosslessHierarchical28": ("E", "encapsulated", "jpeg"),
    "JPEGLosslessHierarchical29": ("E", "encapsulated", "jpeg"),
    "JPEGLosslessSV1": ("E", "encapsulated", "jpeg"),
    "JPEGLSLossless": ("E", "encapsulated", "jpeg-ls"),
    "JPEGLSNearLossless": ("EL", "encapsulated", "jpeg-ls"),
    "JPEG2000Lossless": ("E", "encapsulated", "jpeg2000"),
    "JPEG2000": ("EL", "encapsulated", "jpeg2000"),
    "JPEG2000MCLossless": ("E", "encapsulated", "jpeg2000"),
    "JPEG2000MC": ("EL", "encapsulated", "jpeg2000"),
    "JPIPReferenced": ("", "referenced", "jpip"),
    "JPIPReferencedDeflate": ("D", "referenced", "jpip"),
    "MPEG2MPML": ("EL", "encapsulated", "mpeg2"),
    "MPEG2MPMLF": ("EL", "encapsulated", "mpeg2"),
    "MPEG2MPHL": ("EL", "encapsulated", "mpeg2"),
    "MPEG2MPHLF": ("EL", "encapsulated", "mpeg2"),
    "MPEG4HP41": ("EL", "encapsulated", "mpeg4"),
    "MPEG4HP41F": ("EL", "encapsulated", "mpeg4"),
    "MPEG4HP41BD": ("EL", "encapsulated", "mpeg4"),
    "MPEG4HP41BDF": ("EL", "encapsulated", "mpeg4"),
    "MPEG4HP422D": ("EL", "encapsulated", "mpeg4"),
    "MPEG4HP422DF": ("EL", "encapsulated", "mpeg4"),
    "MPEG4HP423D": ("EL", "encapsulated", "mpeg4"),
    "MPEG4HP423DF": ("EL", "encapsulated", "mpeg4"),
    "MPEG4HP42STEREO": ("EL", "encapsulated", "mpeg4"),
    "MPEG4HP42STEREOF": ("EL", "encapsulated", "mpeg4"),
    "HEVCMP51": ("EL", "encapsulated", "hevc"),
    "HEVCM10P51": ("EL", "encapsulated", "hevc"),
    "HTJ2KLossless": ("E", "encapsulated", "htj2k"),
    "HTJ2KLosslessRPCL": ("E", "encapsulated", "htj2k"),
    "HTJ2K": ("EL", "encapsulated", "htj2k"),
    "JPIPHTJ2KReferenced": ("", "referenced", "jpip"),
    "JPIPHTJ2KReferencedDeflate": ("D", "referenced", "jpip"),
    "RLELossless": ("E", "encapsulated", "rle"),
    "RFC2557MIMEEncapsulation": ("", "native", "other"),
    "XMLEncoding": ("", "native", "other"),
    "SMPTEST211020UncompressedProgressiveActiveVideo": ("", "separate", "smpte2110"),
    "SMPTEST211020UncompressedInterlacedActiveVideo": ("", "separate", "smpte2110"),
    "SMPTEST211030PCMDigitalAudio": ("", "separate", "smpte2110"),
    "Papyrus3ImplicitVRLittleEndian": ("I", "native", "native"),
    # A.4.12 (JPEG XL, 2024) and A.4.13 (Deflated Image Frame Compression, 2023)
    "JPEGXLLossless": ("E", "encapsulated", "jpegxl"),
    "JPEGXLJPEGRecompression": ("EL", "encapsulated", "jpegxl"),
    "JPEGXL": ("EL", "encapsulated", "jpegxl"),
    "DeflatedImageFrameCompression": ("E", "encapsulated", "deflate-frames"),
}

# Transfer syntaxes of the current standard that pydicom 3.0.2's dictionary
# predates, as PS3.6 Table A-1 names them, in the dictionary's own (name, type,
# info, retired, keyword) form (pynetdicom adds the same four entries to
# pydicom's dictionary when it is imported; storecore reads its generated copy,
# which that does not reach). pydicom's own entry wins once it has one.
_NEWER_THAN_PYDICOM: Final[dict[str, tuple[str, str, str, str, str]]] = {
    "1.2.840.10008.1.2.4.110": ("JPEG XL Lossless", "Transfer Syntax", "", "", "JPEGXLLossless"),
    "1.2.840.10008.1.2.4.111": (
        "JPEG XL JPEG Recompression",
        "Transfer Syntax",
        "",
        "",
        "JPEGXLJPEGRecompression",
    ),
    "1.2.840.10008.1.2.4.112": ("JPEG XL", "Transfer Syntax", "", "", "JPEGXL"),
    "1.2.840.10008.1.2.8.1": (
        "Deflated Image Frame Compression",
        "Transfer Syntax",
        "",
        "",
        "DeflatedImageFrameCompression",
    ),
}


def _known_uids() -> dict[str, tuple[str, str, str, bool]]:
    """Every UID this module knows: the generated copy of pydicom's dictionary,
    then the syntaxes it predates; UID -> (name, type, keyword, retired)."""
    uids = dict(UID_TABLE)
    for uid, (name, kind, _info, retired, keyword) in _NEWER_THAN_PYDICOM.items():
        uids.setdefault(uid, (name, kind, keyword, retired == "Retired"))
    return uids


_UIDS: Final = _known_uids()

# Both indexes hold the same records. _TS_BY_UID keeps insertion order: the
# standard syntaxes in pydicom's (UID) order, then private ones as registered.
_TS_BY_UID: dict[str, TransferSyntax] = {}
_TS_BY_KEYWORD: dict[str, TransferSyntax] = {}


def _load_standard_syntaxes() -> None:
    for uid, (name, kind, keyword, retired) in _UIDS.items():
        if kind != "Transfer Syntax":
            continue
        properties = _STANDARD_SYNTAX_PROPERTIES.get(keyword)
        if properties is None:
            # A syntax newer than this table (a _uid_table generated from a
            # newer pydicom): leave it unregistered, so it is refused as
            # unknown rather than guessed at.
            # tests/unit/test_uid.py fails until the table covers it.
            continue
        flags, pixel_data, family = properties
        record = TransferSyntax(
            uid=uid,
            name=name,
            keyword=keyword,
            implicit_vr="I" in flags,
            little_endian="B" not in flags,
            deflated="D" in flags,
            encapsulated="E" in flags,
            lossy="L" in flags,
            pixel_data=pixel_data,
            family=family,
            retired=retired,
        )
        _TS_BY_UID[uid] = record
        _TS_BY_KEYWORD[keyword] = record


_load_standard_syntaxes()


def _describe_other(value: str) -> str:
    """Name what a UID is when it is not what was asked for (error path only)."""
    entry = _UIDS.get(value)
    if entry is None:
        return ""
    return f": it is a {entry[1]} ({entry[0] or 'unnamed'})"


def transfer_syntax(uid_or_keyword: str | TransferSyntax) -> TransferSyntax:
    """Look up a registered transfer syntax.

    Parameters
    ----------
    uid_or_keyword : str or TransferSyntax
        A Transfer Syntax UID, a pydicom keyword (e.g.
        ``"ExplicitVRLittleEndian"``) or the keyword of a registered private
        syntax. A :class:`TransferSyntax` is returned as registered.

    Returns
    -------
    TransferSyntax
        The registered record.

    Raises
    ------
    UnknownUIDError
        ``uid_or_keyword`` names no registered transfer syntax, or is a record
        that was never registered.

    References
    ----------
    PS3.5 Section 10; PS3.6 Annex A.
    """
    if isinstance(uid_or_keyword, TransferSyntax):
        registered = _TS_BY_UID.get(uid_or_keyword.uid)
        if registered is not None and registered == uid_or_keyword:
            return registered
        raise UnknownUIDError(f"transfer syntax {uid_or_keyword.uid!r} is not registered as given")
    found = _TS_BY_UID.get(uid_or_keyword)
    if found is None:
        found = _TS_BY_KEYWORD.get(uid_or_keyword)
        if found is None:
            raise UnknownUIDError(
                f"unknown transfer syntax {uid_or_keyword!r}{_describe_other(uid_or_keyword)}"
            )
    return found


def transfer_syntaxes() -> tuple[TransferSyntax, ...]:
    """Every registered transfer syntax.

    Returns
    -------
    tuple of TransferSyntax
        The standard syntaxes in the order pydicom's dictionary lists them (UID
        order), then the private ones in the order they were registered.

    References
    ----------
    PS3.6 Annex A, Table A-1.
    """
    return tuple(_TS_BY_UID.values())


def register_transfer_syntax(
    uid: str,
    name: str,
    *,
    implicit_vr: bool,
    little_endian: bool,
    deflated: bool = False,
    encapsulated: bool = False,
    lossy: bool = False,
    keyword: str | None = None,
) -> TransferSyntax:
    """Register a private transfer syntax.

    Registering is meant for start-up. Registering the same UID again with the
    same record is allowed and returns the registered record.

    Parameters
    ----------
    uid : str
        The private Transfer Syntax UID: valid per PS3.5 Section 9.1, and not
        under the 1.2.840.10008 root, which PS3.5 Section 9 reserves for
        DICOM-defined items.
    name : str
        A human-readable name.
    implicit_vr, little_endian, deflated, encapsulated, lossy : bool
        The encoding, as for :class:`TransferSyntax`. ``pixel_data`` follows
        from ``encapsulated``; ``family`` is ``"private"``.
    keyword : str, optional
        A Python-identifier keyword to look the syntax up by; it must not be the
        keyword of another syntax.

    Returns
    -------
    TransferSyntax
        The registered record (``private`` is True, ``native`` is False).

    Raises
    ------
    ValueError
        The UID is not a valid UID, is a standard UID (any entry of PS3.6 Table
        A-1, or anything under 1.2.840.10008), or is already registered with
        different properties; the name is empty; the keyword is not an
        identifier or belongs to another syntax.
    TypeError
        A property flag is not a bool.

    References
    ----------
    PS3.5 Section 9.1 and Section 10 ("Privately defined Transfer Syntax Names
    may also be used").
    """
    if not is_valid_uid(uid):
        raise ValueError(f"{uid!r} is not a valid UID (PS3.5 Section 9.1)")
    if uid in _UIDS or uid.startswith(_DICOM_ROOT):
        raise ValueError(f"{uid!r} is a standard DICOM UID; it cannot be redefined")
    if not name:
        raise ValueError("a transfer syntax needs a name")
    flags = {
        "implicit_vr": implicit_vr,
        "little_endian": little_endian,
        "deflated": deflated,
        "encapsulated": encapsulated,
        "lossy": lossy,
    }
    for flag, value in flags.items():
        if not isinstance(value, bool):
            raise TypeError(f"{flag} must be a bool, not {type(value).__name__}")
    if keyword is not None and not keyword.isidentifier():
        raise ValueError(f"keyword {keyword!r} is not an identifier")

    record = TransferSyntax(
        uid=uid,
        name=name,
        keyword=keyword or "",
        implicit_vr=implicit_vr,
        little_endian=little_endian,
        deflated=deflated,
        encapsulated=encapsulated,
        lossy=lossy,
        pixel_data="encapsulated" if encapsulated else "native",
        family="private",
        retired=False,
        private=True,
    )
    existing = _TS_BY_UID.get(uid)
    if existing is not None:
        if existing == record:
            return existing
        raise ValueError(
            f"transfer syntax {uid!r} is already registered with other properties: {existing}"
        )
    if keyword:
        holder = _TS_BY_KEYWORD.get(keyword)
        if holder is not None:
            raise ValueError(f"keyword {keyword!r} already names transfer syntax {holder.uid!r}")
        _TS_BY_KEYWORD[keyword] = record
    _TS_BY_UID[uid] = record
    return record


IMPLICIT_VR_LITTLE_ENDIAN: Final = _TS_BY_KEYWORD["ImplicitVRLittleEndian"]
EXPLICIT_VR_LITTLE_ENDIAN: Final = _TS_BY_KEYWORD["ExplicitVRLittleEndian"]
EXPLICIT_VR_BIG_ENDIAN: Final = _TS_BY_KEYWORD["ExplicitVRBigEndian"]
DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN: Final = _TS_BY_KEYWORD["DeflatedExplicitVRLittleEndian"]


# --------------------------------------------------------------------------
# SOP Classes


@dataclass(frozen=True, slots=True)
class SOPClass:
    """One SOP Class of PS3.6 Table A-1.

    Attributes
    ----------
    uid : str
        The SOP Class UID.
    name : str
        The name, as pydicom's dictionary gives it (two retired entries have an
        empty name and keyword there).
    keyword : str
        pydicom's keyword, e.g. ``"CTImageStorage"``.
    retired : bool
        PS3.6 marks the SOP Class retired.

    References
    ----------
    PS3.6 Annex A, Table A-1.
    """

    uid: str
    name: str
    keyword: str
    retired: bool


# Which SOP Classes are Storage SOP Classes (PS3.4 Annex B, Table B.5-1). PS3.6
# types them all "SOP Class", so the rule reads the name:
#   1. type "SOP Class" (this drops the "Storage Service Class" entry, typed
#      "Service Class", and every Meta SOP Class);
#   2. the name has the word "Storage" (every Table B.5-1 name does; no
#      Query/Retrieve, Worklist, Print Management or Procedure Step name does);
#   3. but not the non-storage services whose names say "Storage": Storage
#      Commitment (Annex J), Storage Management, and Media Storage
#      Directory Storage (the DICOMDIR, a PS3.10 media object never sent by
#      C-STORE);
#   4. and not the Non-Patient Object Storage SOP Classes (Annex GG): they are
#      C-STORE'd but have no Patient/Study/Series, so they are listed apart in
#      NON_PATIENT_OBJECT_STORAGE_SOP_CLASSES. PS3.6 names no service class, so
#      these nine are listed by keyword.
# Retired classes are kept (flagged), the retired Stored Print and Hardcopy
# Image Storage classes among them; the two retired entries pydicom's dictionary
# leaves unnamed (1.2.840.10008.5.1.4.1.1.12.77 and .40) cannot match and are
# left out. DICOS (.501) and DICONDE Eddy Current (.601) classes are kept: they
# are C-STORE'd like any composite object, their IODs defined outside DICOM
# (NEMA IIC 1, ASTM E2934). pynetdicom leaves them out of its storage list.
_NOT_STORAGE_NAME_PARTS: Final = ("Storage Commitment", "Storage Management", "Media Storage")
_STORAGE_WORD: Final = re.compile(r"\bStorage\b")
_NON_PATIENT_OBJECT_KEYWORDS: Final = frozenset(
    {
        "HangingProtocolStorage",
        "ColorPaletteStorage",
        "GenericImplantTemplateStorage",
        "ImplantAssemblyTemplateStorage",
        "ImplantTemplateGroupStorage",
        "CTDefinedProcedureProtocolStorage",
        "XADefinedProcedureProtocolStorage",
        "ProtocolApprovalStorage",
        "InventoryStorage",
    }
)

_SOP_BY_UID: dict[str, SOPClass] = {}
_SOP_BY_KEYWORD: dict[str, SOPClass] = {}


def _load_sop_classes() -> tuple[tuple[SOPClass, ...], tuple[SOPClass, ...]]:
    storage: list[SOPClass] = []
    non_patient: list[SOPClass] = []
    for uid, (name, kind, keyword, retired) in _UIDS.items():
        if kind not in ("SOP Class", "Meta SOP Class"):
            continue
        record = SOPClass(uid=uid, name=name, keyword=keyword, retired=retired)
        _SOP_BY_UID[uid] = record
        if keyword:
            _SOP_BY_KEYWORD[keyword] = record
        if (
            kind == "SOP Class"
            and _STORAGE_WORD.search(name)
            and not any(part in name for part in _NOT_STORAGE_NAME_PARTS)
        ):
            if keyword in _NON_PATIENT_OBJECT_KEYWORDS:
                non_patient.append(record)
            else:
                storage.append(record)
    return tuple(storage), tuple(non_patient)


_STORAGE_SPLIT = _load_sop_classes()
STORAGE_SOP_CLASSES: Final[tuple[SOPClass, ...]] = _STORAGE_SPLIT[0]
NON_PATIENT_OBJECT_STORAGE_SOP_CLASSES: Final[tuple[SOPClass, ...]] = _STORAGE_SPLIT[1]
del _STORAGE_SPLIT
_STORAGE_UIDS: Final = frozenset(record.uid for record in STORAGE_SOP_CLASSES)


def sop_class(uid_or_keyword: str) -> SOPClass:
    """Look up a SOP Class (or Meta SOP Class) of PS3.6 Table A-1.

    Parameters
    ----------
    uid_or_keyword : str
        A SOP Class UID or pydicom keyword (e.g. ``"CTImageStorage"``).

    Returns
    -------
    SOPClass
        The record, retired classes included.

    Raises
    ------
    UnknownUIDError
        ``uid_or_keyword`` is no SOP Class of pydicom's dictionary (private SOP
        Classes included).

    References
    ----------
    PS3.6 Annex A, Table A-1.
    """
    found = _SOP_BY_UID.get(uid_or_keyword)
    if found is None:
        found = _SOP_BY_KEYWORD.get(uid_or_keyword)
        if found is None:
            raise UnknownUIDError(
                f"unknown SOP Class {uid_or_keyword!r}{_describe_other(uid_or_keyword)}"
            )
    return found


def is_storage_sop_class(uid: str) -> bool:
    """Tell whether ``uid`` is a standard Storage SOP Class UID.

    Parameters
    ----------
    uid : str
        A SOP Class UID (not a keyword).

    Returns
    -------
    bool
        True if ``uid`` is one of :data:`STORAGE_SOP_CLASSES` (retired ones
        included); False for anything else, including Non-Patient Object
        Storage and private SOP Classes.

    References
    ----------
    PS3.4 Annex B, Table B.5-1.
    """
    return uid in _STORAGE_UIDS

"""Part 10 files: the preamble and the File Meta Information (PS3.10 Section 7.1).

Group 0002 is always Explicit VR Little Endian, whatever the dataset's transfer
syntax. Writing a file never re-encodes the dataset: :func:`write_part10`
writes the meta header, then the dataset bytes exactly as given.
"""

from __future__ import annotations

import functools
import mmap
import struct
from collections.abc import Iterable
from typing import BinaryIO, NamedTuple

from storecore._ext._scanner import Scanner as _CScanner
from storecore._typing import Buffer
from storecore.errors import DatasetError
from storecore.uid import is_valid_uid

__all__ = [
    "FileMeta",
    "IMPLEMENTATION_CLASS_UID",
    "IMPLEMENTATION_VERSION_NAME",
    "read_file_meta",
    "encode_file_meta",
    "write_part10",
    "PREAMBLE_LENGTH",
    "dataset_start",
]

#: storecore's Implementation Class UID (PS3.7 D.3.3.2): a UUID-derived UID
#: under 2.25 (PS3.5 Annex B.2), so that it needs no registered root.
IMPLEMENTATION_CLASS_UID = "2.25.210233962903528560337402231537827215372"
#: Implementation Version Name (PS3.7 D.3.3.2.2): at most 16 characters.
IMPLEMENTATION_VERSION_NAME = "STORECORE_010"

PREAMBLE_LENGTH = 128
_MAGIC = b"DICM"

# The File Meta Information elements of PS3.10 Table 7.1-1, with their VRs.
_META_VRS: dict[int, bytes] = {
    0x00020000: b"UL",
    0x00020001: b"OB",
    0x00020002: b"UI",
    0x00020003: b"UI",
    0x00020010: b"UI",
    0x00020012: b"UI",
    0x00020013: b"SH",
    0x00020016: b"AE",
    0x00020017: b"AE",
    0x00020018: b"AE",
    0x00020026: b"UR",
    0x00020027: b"AE",
    0x00020028: b"AE",
    0x00020031: b"OB",
    0x00020032: b"UR",
    0x00020033: b"LO",
    0x00020035: b"OB",
    0x00020100: b"UI",
    0x00020102: b"OB",
}
_CAPTURE = tuple(_META_VRS)
_LONG_VRS = {
    b"OB",
    b"OD",
    b"OF",
    b"OL",
    b"OV",
    b"OW",
    b"SQ",
    b"SV",
    b"UC",
    b"UN",
    b"UR",
    b"UT",
    b"UV",
}


class FileMeta(NamedTuple):
    """The File Meta Information of a Part 10 file.

    Attributes
    ----------
    transfer_syntax_uid : str
        (0002,0010), the dataset's transfer syntax.
    media_storage_sop_class_uid, media_storage_sop_instance_uid : str
        (0002,0002) and (0002,0003).
    implementation_class_uid, implementation_version_name : str or None
        (0002,0012) and (0002,0013).
    source_application_entity_title : str or None
        (0002,0016).
    dataset_offset : int
        Offset of the first byte of the dataset in the file.
    has_preamble : bool
        The file starts with the 128-byte preamble and "DICM".
    elements : dict of int to bytes
        Raw values of every group 0002 element read.
    """

    transfer_syntax_uid: str
    media_storage_sop_class_uid: str
    media_storage_sop_instance_uid: str
    implementation_class_uid: str | None
    implementation_version_name: str | None
    source_application_entity_title: str | None
    dataset_offset: int
    has_preamble: bool
    elements: dict[int, bytes]


def _text(raw: bytes | None) -> str | None:
    if raw is None:
        return None
    return raw.rstrip(b"\x00 ").decode("ascii", "replace")


def read_file_meta(
    buffer: Buffer,
    *,
    lenient_no_preamble: bool = False,
    lenient_meta_group_length: bool = False,
) -> FileMeta:
    """Read the preamble and File Meta Information of a Part 10 file.

    Parameters
    ----------
    buffer : bytes-like
        The file's first bytes (at least up to the end of group 0002).
    lenient_no_preamble : bool
        Accept a file that starts directly with group 0002 (no 128-byte preamble
        and "DICM" prefix), which PS3.10 Section 7.1 requires. Off by default.
    lenient_meta_group_length : bool
        Accept a (0002,0000) File Meta Information Group Length that does not
        match the group's real length (PS3.10 Table 7.1-1). Off by default; the
        group always ends where group 0002 does.

    Raises
    ------
    DatasetError
        Not a Part 10 file, or its meta information is malformed or lacks the
        Transfer Syntax UID.

    References
    ----------
    PS3.10 Section 7.1; PS3.5 Section 7.1.2 (group 0002 is Explicit VR Little Endian).
    """
    with memoryview(buffer) as view:  # released on every exit: callers may close an mmap
        return _read_file_meta(view, lenient_no_preamble, lenient_meta_group_length)


def _scan_meta(
    view: memoryview,
    capture: tuple[int, ...],
    lenient_no_preamble: bool,
    lenient_meta_group_length: bool,
) -> tuple[bool, int, int, tuple[bytes | None, ...]]:
    """Find group 0002 and check its group length: (has_preamble, start, end, captures).

    `capture` must begin with (0002,0000) and (0002,0010).
    """
    has_preamble = len(view) >= 132 and bytes(view[128:132]) == _MAGIC
    if has_preamble:
        start = 132
    elif lenient_no_preamble and len(view) >= 8 and bytes(view[0:2]) == b"\x02\x00":
        start = 0
    else:
        raise DatasetError("not a DICOM Part 10 file: no 'DICM' prefix after the preamble", 128)
    scanner = _CScanner(
        False, False, stop_tag=0x00030000, capture=capture, tokens=False, max_captured_value=1024
    )
    scanner.feed(view[start:])
    stopped = scanner.stopped_at
    if stopped is None:
        scanner.close()
        end = len(view)
    else:
        end = start + stopped.offset
    values = scanner.captures()
    group_length_value = values[0]
    if group_length_value is not None:
        if len(group_length_value) != 4:
            raise DatasetError(
                "File Meta Information Group Length is not a 4-byte UL", start, "(0002,0000)"
            )
        (group_length,) = struct.unpack("<I", group_length_value)
        first = start + 12  # the group length element is 12 bytes
        if first + group_length != end and not lenient_meta_group_length:
            raise DatasetError(
                f"File Meta Information Group Length is {group_length}, "
                f"but group 0002 holds {end - first} bytes after it",
                start + 8,
                "(0002,0000)",
            )
    if not _text(values[1]):
        raise DatasetError("File Meta Information has no Transfer Syntax UID", start, "(0002,0010)")
    return has_preamble, start, end, values


# (0002,0000) and (0002,0010) first, as _scan_meta wants them
_CAPTURE_ALL = (0x00020000, 0x00020010, *(t for t in _CAPTURE if t not in (0x00020000, 0x00020010)))


def _read_file_meta(
    view: memoryview, lenient_no_preamble: bool, lenient_meta_group_length: bool
) -> FileMeta:
    has_preamble, _start, end, values = _scan_meta(
        view, _CAPTURE_ALL, lenient_no_preamble, lenient_meta_group_length
    )
    elements = {tag: v for tag, v in zip(_CAPTURE_ALL, values, strict=True) if v is not None}
    return FileMeta(
        transfer_syntax_uid=_text(values[1]) or "",
        media_storage_sop_class_uid=_text(elements.get(0x00020002)) or "",
        media_storage_sop_instance_uid=_text(elements.get(0x00020003)) or "",
        implementation_class_uid=_text(elements.get(0x00020012)),
        implementation_version_name=_text(elements.get(0x00020013)),
        source_application_entity_title=_text(elements.get(0x00020016)),
        dataset_offset=end,
        has_preamble=has_preamble,
        elements=elements,
    )


def dataset_start(view: memoryview) -> tuple[str, int]:
    """The hot path's lean reader: (Transfer Syntax UID, dataset offset) of a Part 10 file.

    The same checks as :func:`read_file_meta` (strict), without building a FileMeta.
    """
    _, _, end, values = _scan_meta(view, (0x00020000, 0x00020010), False, False)
    return _text(values[1]) or "", end


def _element(tag: int, value: bytes) -> bytes:
    vr = _META_VRS[tag]
    if len(value) % 2:
        value += b"\x00" if vr in (b"UI", b"OB") else b" "
    if vr in _LONG_VRS:
        return struct.pack("<HH2sHI", 0x0002, tag & 0xFFFF, vr, 0, len(value)) + value
    return struct.pack("<HH2sH", 0x0002, tag & 0xFFFF, vr, len(value)) + value


def _valid_ae_title(title: str) -> bool:
    return (
        len(title.strip(" ")) > 0
        and len(title) <= 16
        and all(0x20 <= ord(c) < 0x7F and c != "\\" for c in title)
    )


def encode_file_meta(
    sop_class_uid: str,
    sop_instance_uid: str,
    transfer_syntax_uid: str,
    *,
    source_ae_title: str | None = None,
    preamble: bytes = b"\x00" * PREAMBLE_LENGTH,
) -> bytes:
    """Encode the preamble, "DICM" and group 0002 for a dataset.

    The group length is computed; the Implementation Class UID and Version Name
    are storecore's.

    Raises
    ------
    DatasetError
        A UID is not valid per PS3.5 Section 9.1, or the preamble is not 128 bytes.

    References
    ----------
    PS3.10 Section 7.1, Table 7.1-1.
    """
    if not is_valid_uid(sop_instance_uid):
        raise DatasetError(f"SOP Instance UID {sop_instance_uid!r} is not a valid UID (PS3.5 9.1)")
    if len(preamble) != PREAMBLE_LENGTH:
        raise DatasetError("the preamble must be 128 bytes")
    # the elements before and after the SOP Instance UID depend on the class,
    # syntax and AE only: made (and checked) once per combination, not per file
    before, after = _meta_around_instance(sop_class_uid, transfer_syntax_uid, source_ae_title)
    body = before + _element(0x00020003, sop_instance_uid.encode("ascii")) + after
    return preamble + _MAGIC + _element(0x00020000, struct.pack("<I", len(body))) + body


@functools.lru_cache(maxsize=256)
def _meta_around_instance(
    sop_class_uid: str, transfer_syntax_uid: str, source_ae_title: str | None
) -> tuple[bytes, bytes]:
    for name, uid in (
        ("SOP Class UID", sop_class_uid),
        ("Transfer Syntax UID", transfer_syntax_uid),
    ):
        if not is_valid_uid(uid):
            raise DatasetError(f"{name} {uid!r} is not a valid UID (PS3.5 9.1)")
    if source_ae_title is not None and not _valid_ae_title(source_ae_title):
        raise DatasetError(
            f"Source Application Entity Title {source_ae_title!r} is not a valid AE "
            "(PS3.5 Table 6.2-1: at most 16 characters of ISO 646, no backslash or controls)"
        )
    before = _element(0x00020001, b"\x00\x01") + _element(0x00020002, sop_class_uid.encode("ascii"))
    after = b"".join(
        [
            _element(0x00020010, transfer_syntax_uid.encode("ascii")),
            _element(0x00020012, IMPLEMENTATION_CLASS_UID.encode("ascii")),
            _element(0x00020013, IMPLEMENTATION_VERSION_NAME.encode("ascii")),
        ]
        + ([_element(0x00020016, source_ae_title.encode("ascii"))] if source_ae_title else [])
    )
    return before, after


def write_part10(
    out: BinaryIO,
    dataset: Buffer | Iterable[Buffer],
    *,
    sop_class_uid: str,
    sop_instance_uid: str,
    transfer_syntax_uid: str,
    source_ae_title: str | None = None,
) -> int:
    """Write a Part 10 file: the meta header, then the dataset bytes unchanged.

    `dataset` is a buffer or an iterable of chunks (as they arrive from the
    network); it is written as is, never decoded. Returns the bytes written.
    """
    total = out.write(
        encode_file_meta(
            sop_class_uid, sop_instance_uid, transfer_syntax_uid, source_ae_title=source_ae_title
        )
    )
    chunks = (
        [dataset] if isinstance(dataset, (bytes, bytearray, memoryview, mmap.mmap)) else dataset
    )
    for chunk in chunks:
        total += out.write(chunk)
    return total

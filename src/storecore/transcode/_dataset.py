"""Byte-level dataset editing for the codec matrix, on storecore's scanner.

The matrix rewrites an Explicit VR Little Endian dataset: it replaces the Pixel
Data element and a handful of top-level attributes and copies every other
element's bytes unchanged. No pydicom object is built.

References
----------
PS3.5 Section 7.1.2 (Explicit VR encoding), Section 7.5 (sequences), Annex A.4
(encapsulation: Basic Offset Table, fragments, Sequence Delimitation Item).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

from storecore._typing import Buffer
from storecore.dataset._scan import Scanner, Token, TokenKind
from storecore.errors import TranscodeError
from storecore.limits import DEFAULT_LIMITS, Limits

EXPLICIT_LE = "1.2.840.10008.1.2.1"
PIXEL_DATA = 0x7FE00010
EXTENDED_OFFSET_TABLE = 0x7FE00001
EXTENDED_OFFSET_TABLE_LENGTHS = 0x7FE00002

_LONG_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "UC", "UN", "UR", "UT"})
_TOP = (TokenKind.ELEMENT, TokenKind.SEQUENCE_START, TokenKind.ENCAPSULATED_START)


@dataclass
class ScannedDataset:
    """An Explicit VR LE dataset: its top-level elements and its pixel data."""

    data: memoryview
    #: top-level tag -> (start, end) byte range of the whole element
    spans: dict[int, tuple[int, int]] = field(default_factory=dict)
    #: top-level tag -> its token
    tokens: dict[int, Token] = field(default_factory=dict)
    #: Basic Offset Table value, and fragments (value offset, length), if encapsulated
    offset_table: bytes | None = None
    fragments: list[tuple[int, int]] = field(default_factory=list)

    def value(self, tag: int) -> bytes | None:
        t = self.tokens.get(tag)
        if t is None or t.kind != TokenKind.ELEMENT:
            return None
        return bytes(self.data[t.value_offset : t.value_offset + t.length])

    def text(self, tag: int) -> str | None:
        raw = self.value(tag)
        return None if raw is None else raw.decode("ascii", "replace").rstrip("\x00 ")

    def us(self, tag: int, default: int | None = None) -> int:
        raw = self.value(tag)
        if raw is None or len(raw) < 2:
            if default is None:
                raise TranscodeError(f"({tag >> 16:04X},{tag & 0xFFFF:04X}) is missing or empty")
            return default
        return int(struct.unpack_from("<H", raw)[0])

    def integer_string(self, tag: int, default: int) -> int:
        text = self.text(tag)
        try:
            return int(text.split("\\")[0]) if text else default
        except ValueError:
            raise TranscodeError(
                f"({tag >> 16:04X},{tag & 0xFFFF:04X}) is not an integer string: {text!r}"
            ) from None


def scan_explicit(data: memoryview, *, limits: Limits = DEFAULT_LIMITS) -> ScannedDataset:
    """Scan an Explicit VR LE dataset into its top-level elements and fragments."""
    scanner = Scanner(EXPLICIT_LE, limits=limits)
    tokens = scanner.feed(data) + scanner.close()
    out = ScannedDataset(data)
    start: tuple[int, int] | None = None  # (tag, offset) of the open top-level element
    for t in tokens:
        if t.depth == 0 and t.kind in _TOP:
            if start is not None:
                out.spans[start[0]] = (start[1], t.offset)
            start = (t.tag, t.offset)
            out.tokens[t.tag] = t
        elif t.kind == TokenKind.BASIC_OFFSET_TABLE and t.depth == 1:
            out.offset_table = bytes(data[t.value_offset : t.value_offset + t.length])
        elif t.kind == TokenKind.FRAGMENT and t.depth == 1:
            out.fragments.append((t.value_offset, t.length))
    if start is not None:
        out.spans[start[0]] = (start[1], len(data))
    return out


def element(tag: int, vr: str, value: bytes) -> bytes:
    """One Explicit VR Little Endian element, value padded to even length."""
    if len(value) % 2:
        value += b"\x00" if vr in ("UI", "OB", "UN") else b" "
    return element_header(tag, vr, len(value)) + value


def item(content: bytes) -> bytes:
    return struct.pack("<HHI", 0xFFFE, 0xE000, len(content)) + content


def element_header(tag: int, vr: str, length: int) -> bytes:
    """The header of an Explicit VR Little Endian element whose value has `length` bytes
    (PS3.5 Section 7.1.2; `length` even, or 0xFFFFFFFF for undefined length)."""
    group, elem = tag >> 16, tag & 0xFFFF
    if vr in _LONG_VRS:
        return struct.pack("<HH2sHI", group, elem, vr.encode(), 0, length)
    if length > 0xFFFF:
        raise TranscodeError(f"value of ({group:04X},{elem:04X}) is too long for VR {vr}")
    return struct.pack("<HH2sH", group, elem, vr.encode(), length)


def long_element(tag: int, vr: str, value: Sequence[Buffer]) -> list[Buffer]:
    """One element of a long VR (OB, OW) whose value is the concatenation of `value`,
    as parts to join once: a frame's pixels are not copied to build it."""
    length = sum(memoryview(v).nbytes for v in value)
    parts: list[Buffer] = [element_header(tag, vr, length + length % 2), *value]
    if length % 2:
        parts.append(b"\x00")
    return parts


def encapsulated_pixel_data(frames: Sequence[Buffer]) -> list[Buffer]:
    """Pixel Data (7FE0,0010) OB of undefined length, one fragment per frame, as parts.

    The Basic Offset Table is filled for multi-frame images while the offsets
    fit in 32 bits, empty otherwise (PS3.5 A.4: it may be empty). The frames
    are not copied: the parts are item headers and the frames themselves, for
    the caller's one join (or writev).
    """
    sizes = [memoryview(f).nbytes for f in frames]
    offsets: list[int] = []
    position = 0
    for n in sizes:
        offsets.append(position)
        position += 8 + n + n % 2
    parts: list[Buffer] = [struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OB", 0, 0xFFFFFFFF)]
    if len(frames) > 1 and position <= 0xFFFFFFFF:
        parts.append(item(struct.pack(f"<{len(offsets)}I", *offsets)))
    else:
        parts.append(item(b""))
    for f, n in zip(frames, sizes, strict=True):
        # PS3.5 A.4: each fragment has an even length, padded with one 00H
        parts.append(struct.pack("<HHI", 0xFFFE, 0xE000, n + n % 2))
        parts.append(f)
        if n % 2:
            parts.append(b"\x00")
    parts.append(struct.pack("<HHI", 0xFFFE, 0xE0DD, 0))
    return parts


Edit = bytes | Sequence[Buffer] | None


def rewrite_parts(scanned: ScannedDataset, edits: dict[int, Edit]) -> list[Buffer]:
    """The dataset with each edited top-level tag replaced (bytes, or parts to
    concatenate) or dropped (None), as parts to join once.

    Elements keep ascending tag order (PS3.5 Section 7.1): new ones are placed
    where their tag sorts. Unedited elements are views of `scanned.data`.
    """
    data = scanned.data
    order = sorted(set(scanned.spans) | {t for t, v in edits.items() if v is not None})
    out: list[Buffer] = []
    run_start: int | None = None
    run_end = 0
    for tag in order:
        if tag in edits:
            if run_start is not None:
                out.append(data[run_start:run_end])
                run_start = None
            new = edits[tag]
            if isinstance(new, bytes):
                out.append(new)
            elif new is not None:
                out.extend(new)
            continue
        start, end = scanned.spans[tag]
        if run_start is None:
            run_start = start
        elif start != run_end:  # pragma: no cover - spans are contiguous
            out.append(data[run_start:run_end])
            run_start = start
        run_end = end
    if run_start is not None:
        out.append(data[run_start:run_end])
    return out

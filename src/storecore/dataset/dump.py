"""The fast header dump of a Part 10 file: one line per element, like dcmdump.

``storecore dump`` prints what :func:`dump_lines` yields. The elements come
from storecore's scanner (tokens with byte offsets); values are read from the
file's bytes only for what is printed, and never for pixel data or long binary
values (their length is shown instead), so a dump of a 1 GB multi-frame file
reads its headers and skips the rest. Keywords come from a table generated from
pydicom's dictionary (tools/gen_keyword_table.py): no pydicom import.

Each line::

    (0008,0016) UI       26 SOPClassUID                      [1.2.840.10008.5.1.4.1.1.2]

tag, VR (``xs``/``ox``/``uw``/``xw``: a dictionary VR the implicit-VR data set
leaves ambiguous, PS3.5 Annex A.1), value length (``u/l``: undefined), keyword,
then the value in brackets (text as encoded, multiple values separated by
``\\``; numbers decoded; short binary values in hex) or, for pixel data, long
binary values and sequences, a note in parentheses. Sequence items are
indented under their sequence.

References
----------
PS3.5 Sections 7.1 (data elements), 7.5 (sequences), 6.2 (VRs), A.4
(encapsulation); PS3.10 Section 7.1 (File Meta Information).
"""

from __future__ import annotations

import struct
from collections.abc import Collection, Iterator

from storecore._typing import Buffer
from storecore.dataset._scan import Scanner, Token, TokenKind, inflate
from storecore.dataset.part10 import read_file_meta
from storecore.limits import DEFAULT_LIMITS, Limits
from storecore.uid import transfer_syntax

__all__ = ["dump_lines", "keyword", "parse_tag"]

_UNDEFINED = 0xFFFFFFFF
# the VRs whose value is text (PS3.5 Table 6.2-1)
_TEXT = frozenset((
    "AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM", "UC", "UI",
    "UR", "UT",
))  # fmt: skip
# struct codes of the numeric VRs; "xs" (US or SS) is shown unsigned
_NUMBERS = {
    "US": "H", "SS": "h", "UL": "I", "SL": "i", "FL": "f", "FD": "d", "UV": "Q", "SV": "q",
    "xs": "H",
}  # fmt: skip
# the dictionary's ambiguous VRs, as an implicit-VR data set leaves them (PS3.5 Annex A.1)
_AMBIGUOUS = {"US or SS": "xs", "OB or OW": "ox", "US or OW": "uw", "US or SS or OW": "xw"}
# Pixel Data, Float Pixel Data, Double Float Pixel Data: never read
_PIXEL_TAGS = frozenset((0x7FE00010, 0x7FE00008, 0x7FE00009))
# a binary value up to this long is shown in hex
_SHORT_BINARY = 12
# the Specific Character Set terms whose Python codec differs from latin-1 (PS3.3 C.12.1.1.2)
_CODECS = {"ISO_IR 192": "utf-8", "ISO_IR 101": "iso8859_2", "ISO_IR 144": "iso8859_5"}
_CHUNK = 1 << 16


def keyword(tag: int) -> str:
    """The PS3.6 keyword of `tag`; for tags the dictionary lacks, what kind of tag it is."""
    from storecore.dataset._keyword_table import KEYWORDS, REPEATERS

    name = KEYWORDS.get(tag)
    if name:
        return name
    group, element = tag >> 16, tag & 0xFFFF
    if element == 0:
        return "GroupLength"  # PS3.5 7.2: retired except in group 0002
    if group & 1:
        return "PrivateCreator" if 0x10 <= element <= 0xFF else "Private"  # PS3.5 7.8.1
    for mask, value, name in REPEATERS:
        if tag & mask == value:
            return name
    return "Unknown"


def parse_tag(text: str) -> int:
    """A tag from ``gggg,eeee``, ``(gggg,eeee)``, ``ggggeeee`` or a keyword.

    Raises
    ------
    ValueError
        Neither a tag nor a known keyword.
    """
    bare = text.strip().strip("()").replace(",", "")
    if len(bare) == 8:
        try:
            return int(bare, 16)
        except ValueError:
            pass
    from storecore.dataset._keyword_table import KEYWORDS

    for tag, name in KEYWORDS.items():
        if name == text:
            return tag
    raise ValueError(f"{text!r} is neither a tag (gggg,eeee) nor a keyword")


class _Printer:
    """Turns tokens into lines; reads values from `data` (the bytes the tokens address)."""

    def __init__(
        self,
        data: Buffer,
        little_endian: bool,
        max_depth: int | None,
        tags: Collection[int] | None,
        width: int,
    ) -> None:
        self.data = memoryview(data)
        self.order = "<" if little_endian else ">"
        self.max_depth = max_depth
        self.tags = tags
        self.width = width
        self.codec = "latin-1"
        self.items: dict[int, int] = {}  # depth -> items seen in the current sequence

    def line(self, t: Token) -> str | None:
        kind = t.kind
        if kind in (TokenKind.ITEM_END, TokenKind.SEQUENCE_END, TokenKind.ENCAPSULATED_END):
            return None
        if kind in (TokenKind.ITEM_START, TokenKind.FRAGMENT, TokenKind.BASIC_OFFSET_TABLE):
            n = self.items.get(t.depth, 0) + 1
            self.items[t.depth] = n
        elif kind in (TokenKind.SEQUENCE_START, TokenKind.ENCAPSULATED_START):
            self.items[t.depth + 1] = 0
        if self.max_depth is not None and (t.depth + 1) // 2 > self.max_depth:
            return None
        if self.tags is not None and (t.tag not in self.tags or kind > TokenKind.SEQUENCE_START):
            return None
        indent = "  " * t.depth
        tag = f"({t.tag >> 16:04X},{t.tag & 0xFFFF:04X})"
        length = "u/l" if t.length == _UNDEFINED else str(t.length)
        if kind == TokenKind.ITEM_START:
            size = "undefined length" if length == "u/l" else f"{length} bytes"
            return f"{indent}{tag} item #{n}, {size}"
        if kind == TokenKind.BASIC_OFFSET_TABLE:
            return f"{indent}{tag} Basic Offset Table, {length} bytes"
        if kind == TokenKind.FRAGMENT:
            return f"{indent}{tag} fragment #{n - 1}, {length} bytes"
        vr = _AMBIGUOUS.get(t.vr, t.vr)
        head = f"{indent}{tag} {vr:<2} {length:>8} {keyword(t.tag):<{max(1, 36 - len(indent))}}"
        if kind == TokenKind.SEQUENCE_START:
            return f"{head} (sequence)"
        if kind == TokenKind.ENCAPSULATED_START:
            return f"{head} (encapsulated: fragments follow)"
        return f"{head} {self.value(t, vr)}"

    def value(self, t: Token, vr: str) -> str:
        start, length = t.value_offset, t.length
        if vr in _TEXT:
            raw = bytes(self.data[start : start + length])
            text = raw.decode(self.codec, errors="replace").rstrip(" \0")
            if t.tag == 0x00080005 and t.depth == 0:
                first = text.split("\\")[0].strip()
                self.codec = _CODECS.get(first, "latin-1")
            if not text.isprintable():
                text = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)
            return f"[{self._cut(text)}]"
        code = _NUMBERS.get(vr)
        if code is not None or vr == "AT":
            size = struct.calcsize(code or "H") * (2 if vr == "AT" else 1)
            if length % size:
                return f"({length} bytes: not a whole number of values)"
            count = length // size
            shown = min(count, self.width or count)
            values = self.data[start : start + shown * size]
            if vr == "AT":
                words = struct.unpack(f"{self.order}{2 * shown}H", values)
                parts = [f"({g:04X},{e:04X})" for g, e in zip(words[::2], words[1::2], strict=True)]
            else:
                parts = [repr(v) for v in struct.unpack(f"{self.order}{shown}{code}", values)]
            text = "\\".join(parts)
            return f"[{self._cut(text + ('...' if shown < count else ''))}]"
        if t.tag in _PIXEL_TAGS or length > _SHORT_BINARY or vr == "SQ":
            return f"({length} bytes)"
        return "[" + "\\".join(f"{b:02x}" for b in self.data[start : start + length]) + "]"

    def _cut(self, text: str) -> str:
        if self.width and len(text) > self.width:
            return text[: self.width] + "..."
        return text


def dump_lines(
    buffer: Buffer,
    *,
    max_depth: int | None = None,
    tags: Collection[int] | None = None,
    width: int = 64,
    limits: Limits = DEFAULT_LIMITS,
    lenient_odd_length: bool = False,
) -> Iterator[str]:
    """The lines of a dump of the Part 10 file in `buffer`: File Meta, then the data set.

    Parameters
    ----------
    buffer : bytes-like
        The whole file (an mmap is fine: pixel data is never read).
    max_depth : int or None
        Show sequence items nested at most this deep (0: top-level elements only).
    tags : collection of int or None
        Show only elements with these tags (at any depth).
    width : int
        Truncate values after this many characters (0: never).

    Raises
    ------
    DatasetError
        Not a Part 10 file, or the data set is malformed; the lines before the
        fault have been yielded.

    References
    ----------
    PS3.10 Section 7.1; PS3.5 Sections 7.1, 7.5, A.4.
    """
    with memoryview(buffer) as view:
        meta = read_file_meta(view)
        ts = transfer_syntax(meta.transfer_syntax_uid)
        meta_start = 132 if meta.has_preamble else 0
        yield "# File Meta Information (PS3.10 7.1), Explicit VR Little Endian"
        meta_bytes = view[meta_start : meta.dataset_offset]
        printer = _Printer(meta_bytes, True, max_depth, tags, width)
        yield from _scan_lines(printer, meta_bytes, "ExplicitVRLittleEndian", limits, False)
        yield f"# Data Set, {ts.keyword or ts.uid}" + (" (inflated)" if ts.deflated else "")
        dataset: Buffer = view[meta.dataset_offset :]  # bytes once inflated
        syntax = ts.uid
        if ts.deflated:
            dataset = inflate(dataset, limits.max_inflated_length)
            syntax = "ExplicitVRLittleEndian"
        printer = _Printer(dataset, ts.little_endian, max_depth, tags, width)
        yield from _scan_lines(printer, dataset, syntax, limits, lenient_odd_length)


def _scan_lines(
    printer: _Printer, data: Buffer, syntax: str, limits: Limits, lenient_odd_length: bool
) -> Iterator[str]:
    scanner = Scanner(syntax, limits=limits, lenient_odd_length=lenient_odd_length)
    with memoryview(data) as view:
        total = len(view)
        # in chunks, so that the elements before a fault are printed before it is raised
        for start in range(0, total, _CHUNK):
            for t in scanner.feed(view[start : start + _CHUNK]):
                line = printer.line(t)
                if line is not None:
                    yield line
        for t in scanner.close():
            line = printer.line(t)
            if line is not None:
                yield line

"""The scanned view of one instance that validators read: tokens, top-level values, raw bytes.

Built from the scanner's tokens (:mod:`storecore.dataset`), never from pydicom
objects: values are read from the mapped file by (offset, length) when a check
asks for them.
"""

from __future__ import annotations

import mmap
import os
import struct
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from storecore._typing import Buffer
from storecore.dataset import Scanner, Token, TokenKind, inflate
from storecore.limits import DEFAULT_LIMITS, Limits
from storecore.uid import TransferSyntax, transfer_syntax

__all__ = ["InstanceView", "open_view"]

_UNDEFINED = 0xFFFFFFFF
_TOP_KINDS = (TokenKind.ELEMENT, TokenKind.SEQUENCE_START, TokenKind.ENCAPSULATED_START)


class InstanceView:
    """The tokens of one data set and its top-level elements, values read on demand.

    Parameters
    ----------
    data : buffer
        The data set's bytes (for Deflated Explicit VR Little Endian: inflated).
    transfer_syntax : str or TransferSyntax
    tokens : sequence of Token, optional
        Already scanned; scanned here otherwise.

    References
    ----------
    PS3.5 Sections 7.1 (data elements), 7.5 (sequences), A.4 (encapsulation).
    """

    def __init__(
        self,
        data: Buffer,
        transfer_syntax: str | TransferSyntax,
        *,
        tokens: Sequence[Token] | None = None,
        limits: Limits = DEFAULT_LIMITS,
        lenient_odd_length: bool = False,
    ) -> None:
        ts = transfer_syntax if isinstance(transfer_syntax, TransferSyntax) else None
        self.transfer_syntax: TransferSyntax = ts or _ts(str(transfer_syntax))
        self._data = memoryview(data).cast("B")
        if tokens is None:
            # the raw encoding, not the deflated one: `data` is already inflated
            scanner = Scanner(
                _native_of(self.transfer_syntax), limits=limits,
                lenient_odd_length=lenient_odd_length,
            )  # fmt: skip
            found = scanner.feed(self._data)
            found += scanner.close()
            tokens = found
        self.tokens: Sequence[Token] = tokens
        self.big_endian = not self.transfer_syntax.little_endian
        top: dict[int, int] = {}
        for i, token in enumerate(tokens):
            if token.depth == 0 and token.kind in _TOP_KINDS:
                top[token.tag] = i
        self._top = top

    # ------------------------------------------------------------ elements

    @property
    def raw(self) -> memoryview:
        """The data set's bytes (valid only during the validator's call)."""
        return self._data

    def __contains__(self, tag: int) -> bool:
        return tag in self._top

    def top_level(self) -> Iterator[Token]:
        """The top-level element tokens, in stream order."""
        for i in self._top.values():
            yield self.tokens[i]

    def token(self, tag: int) -> Token | None:
        """The top-level token of `tag` (None: absent)."""
        i = self._top.get(tag)
        return None if i is None else self.tokens[i]

    def value(self, tag: int) -> bytes | None:
        """The raw value of a top-level element (None: absent; sequences: b'')."""
        t = self.token(tag)
        if t is None:
            return None
        if t.kind != TokenKind.ELEMENT:
            return b""
        return bytes(self._data[t.value_offset : t.value_offset + t.length])

    def is_empty(self, tag: int) -> bool:
        """Present without a value: zero length, only padding, or a sequence of no items."""
        t = self.token(tag)
        if t is None:
            return False
        if t.kind == TokenKind.SEQUENCE_START:
            return self.item_count(tag) == 0
        if t.kind == TokenKind.ENCAPSULATED_START:
            return False
        if t.length == 0:
            return True
        if t.vr in _TEXT_VRS:
            raw = self._data[t.value_offset : t.value_offset + t.length]
            return bytes(raw).strip(b" \x00") == b""
        return False

    def text(self, tag: int) -> str | None:
        """A top-level string value, padding stripped (ASCII; others replaced)."""
        raw = self.value(tag)
        if raw is None:
            return None
        return raw.strip(b" \x00").decode("ascii", "replace")

    def values(self, tag: int) -> list[str]:
        """The values of a multi-valued string element (PS3.5 6.4), each stripped."""
        text = self.text(tag)
        if not text:
            return []
        return [v.strip() for v in text.split("\\")]

    def uint(self, tag: int) -> int | None:
        """A US, UL, IS value (the first one); None if absent, empty or unreadable."""
        t = self.token(tag)
        if t is None or t.kind != TokenKind.ELEMENT or t.length == 0:
            return None
        raw = self._data[t.value_offset : t.value_offset + t.length]
        vr = t.vr
        if vr in ("US", "xs", "SS") and t.length >= 2:
            return int(struct.unpack_from(">H" if self.big_endian else "<H", raw)[0])
        if vr in ("UL", "SL") and t.length >= 4:
            return int(struct.unpack_from(">I" if self.big_endian else "<I", raw)[0])
        try:
            return int(bytes(raw).strip(b" \x00").split(b"\\")[0])
        except ValueError:
            return None

    def item_count(self, tag: int) -> int:
        """The number of items of a top-level sequence (0 when absent)."""
        i = self._top.get(tag)
        if i is None or self.tokens[i].kind != TokenKind.SEQUENCE_START:
            return 0
        count = 0
        for t in self.tokens[i + 1 :]:
            if t.depth == 0:
                break
            if t.depth == 1 and t.kind == TokenKind.ITEM_START:
                count += 1
        return count

    def fragments(self, tag: int = 0x7FE00010) -> tuple[Token | None, list[Token]]:
        """The Basic Offset Table item and the fragments of encapsulated pixel data."""
        i = self._top.get(tag)
        if i is None or self.tokens[i].kind != TokenKind.ENCAPSULATED_START:
            return None, []
        bot: Token | None = None
        frags: list[Token] = []
        for t in self.tokens[i + 1 :]:
            if t.kind == TokenKind.BASIC_OFFSET_TABLE:
                bot = t
            elif t.kind == TokenKind.FRAGMENT:
                frags.append(t)
            elif t.depth == 0:
                break
        return bot, frags


# PS3.5 Table 6.2-1: the character string VRs, whose padding is not a value
_TEXT_VRS = frozenset(
    ("AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM", "UC", "UI"),
) | {"UR", "UT"}


def _ts(uid: str) -> TransferSyntax:
    return transfer_syntax(uid)


def _native_of(ts: TransferSyntax) -> str:
    # the dataset's own encoding (PS3.5 Section 10): only pixel data differs
    if ts.deflated:
        return "1.2.840.10008.1.2.1"
    return ts.uid


@contextmanager
def open_view(
    path: str | os.PathLike[str],
    dataset_offset: int,
    transfer_syntax_uid: str,
    *,
    limits: Limits = DEFAULT_LIMITS,
    lenient_odd_length: bool = False,
    tokens: Sequence[Token] | None = None,
) -> Iterator[InstanceView]:
    """Map a Part 10 file and yield the view of its data set; unmapped on exit.

    `tokens`: the data set's tokens when already scanned (the ingest scanner's).
    """
    ts = transfer_syntax(transfer_syntax_uid)
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size <= dataset_offset:
            yield InstanceView(b"", ts, limits=limits, lenient_odd_length=lenient_odd_length)
            return
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
            whole = memoryview(m)
            try:
                data = whole[dataset_offset:]
                try:
                    if ts.deflated:  # PS3.5 A.5: validators read the inflated stream
                        inflated = inflate(data, limits.max_inflated_length)
                        view = InstanceView(
                            inflated,
                            ts,
                            tokens=tokens,
                            limits=limits,
                            lenient_odd_length=lenient_odd_length,
                        )
                    else:
                        view = InstanceView(
                            data,
                            ts,
                            tokens=tokens,
                            limits=limits,
                            lenient_odd_length=lenient_odd_length,
                        )
                    try:
                        yield view
                    finally:
                        view._data.release()
                finally:
                    data.release()
            finally:
                whole.release()

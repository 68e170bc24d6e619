"""The scanned view of one instance that validators read: tokens, top-level values, raw bytes.

Built from the scanner's tokens (:mod:`storecore.dataset`), never from pydicom
objects: values are read by (offset, length) when a check asks for them.

Cost (issue 7: validation adds at most 10% to ingest): on ingest the tokens
are the ingest scanner's and the file was just written, so :func:`open_view`
reads only the bytes before the first large value (for an image, everything
before Pixel Data: a few KiB) with one ``pread``; the file is mapped only if a
check asks for bytes past them (:attr:`InstanceView.raw`, a large value).
Mapping costs ten times the read (mmap, page faults, munmap).
"""

from __future__ import annotations

import mmap
import os
import struct
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from types import TracebackType

from storecore._ext._validate import index_tokens
from storecore._typing import Buffer
from storecore.dataset import Scanner, Token, TokenKind, inflate
from storecore.limits import DEFAULT_LIMITS, Limits
from storecore.uid import TransferSyntax, transfer_syntax

__all__ = ["InstanceView", "open_view"]

_ELEMENT = TokenKind.ELEMENT
_SEQUENCE_START = TokenKind.SEQUENCE_START
_ENCAPSULATED_START = TokenKind.ENCAPSULATED_START
_ITEM_START = TokenKind.ITEM_START
_TOP_KINDS = frozenset((_ELEMENT, _SEQUENCE_START, _ENCAPSULATED_START))

#: A value longer than this ends the bytes read ahead (the pixel data, an
#: encapsulated document): checks read their length, seldom their bytes.
_LARGE_VALUE = 64 * 1024
#: At most this many bytes are read ahead; past them, the file is mapped.
_MAX_HEAD = 1024 * 1024

_U16 = (struct.Struct("<H"), struct.Struct(">H"))
_U32 = (struct.Struct("<I"), struct.Struct(">I"))


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
        whole = memoryview(data).cast("B")
        self._data: memoryview | None = whole
        if tokens is None:
            # the raw encoding, not the deflated one: `data` is already inflated
            scanner = Scanner(
                _native_of(self.transfer_syntax), limits=limits,
                lenient_odd_length=lenient_odd_length,
            )  # fmt: skip
            found = scanner.feed(whole)
            found += scanner.close()
            tokens = found
        self._init(tokens, whole, None)

    def _init(
        self, tokens: Sequence[Token], head: bytes | memoryview, mapper: _Mapper | None
    ) -> None:
        self.tokens: Sequence[Token] = tokens
        self.big_endian = not self.transfer_syntax.little_endian
        # one pass: tag -> its top-level token (the checks look tags up, never scan)
        self._top, self._head_wanted = index_tokens(tokens, _LARGE_VALUE, _MAX_HEAD)
        self._positions: dict[int, int] | None = None
        #: the bytes values are read from: the whole data set, or (from a file)
        #: those before the first large value; past them, :attr:`raw`
        self._head = head
        self._head_end = len(head)
        self._mapper = mapper

    # ------------------------------------------------------------ elements

    @property
    def raw(self) -> memoryview:
        """The data set's bytes (valid only during the validator's call)."""
        if self._data is None:
            assert self._mapper is not None
            self._data = self._mapper.map()
        return self._data

    def _read(self, offset: int, length: int) -> bytes:
        end = offset + length
        if end <= self._head_end:
            return bytes(self._head[offset:end])
        return bytes(self.raw[offset:end])

    def __contains__(self, tag: int) -> bool:
        return tag in self._top

    def top_level(self) -> Iterator[Token]:
        """The top-level element tokens, in stream order."""
        return iter(self._top.values())

    def token(self, tag: int) -> Token | None:
        """The top-level token of `tag` (None: absent)."""
        return self._top.get(tag)

    def value(self, tag: int) -> bytes | None:
        """The raw value of a top-level element (None: absent; sequences: b'')."""
        t = self._top.get(tag)
        if t is None:
            return None
        if t[0] != _ELEMENT:
            return b""
        return self._read(t[5], t[3])

    def is_empty(self, tag: int) -> bool:
        """Present without a value: zero length, only padding, or a sequence of no items."""
        t = self._top.get(tag)
        if t is None:
            return False
        kind = t[0]
        if kind == _SEQUENCE_START:
            return not self._has_item(tag)
        if kind == _ENCAPSULATED_START:
            return False
        if t[3] == 0:
            return True
        if t[2] in _TEXT_VRS:
            return self._read(t[5], t[3]).strip(b" \x00") == b""
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
        t = self._top.get(tag)
        if t is None or t[0] != _ELEMENT:
            return None
        length = t[3]
        if length == 0:
            return None
        vr = t[2]
        if vr in ("US", "xs", "SS") and length >= 2:
            return int(_U16[self.big_endian].unpack(self._read(t[5], 2))[0])
        if vr in ("UL", "SL") and length >= 4:
            return int(_U32[self.big_endian].unpack(self._read(t[5], 4))[0])
        try:
            return int(self._read(t[5], length).strip(b" \x00").split(b"\\")[0])
        except ValueError:
            return None

    def _position(self, tag: int) -> int | None:
        # the index of a top-level token in `tokens`, for the walks below (rare)
        if self._positions is None:
            self._positions = {
                t[1]: i for i, t in enumerate(self.tokens) if t[6] == 0 and t[0] in _TOP_KINDS
            }
        return self._positions.get(tag)

    def _has_item(self, tag: int) -> bool:
        i = self._position(tag)
        if i is None or self.tokens[i][0] != _SEQUENCE_START:
            return False
        if i + 1 < len(self.tokens):
            t = self.tokens[i + 1]
            if t[0] == _ITEM_START and t[6] == 1:
                return True
        return self.item_count(tag) > 0

    def item_count(self, tag: int) -> int:
        """The number of items of a top-level sequence (0 when absent)."""
        i = self._position(tag)
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
        i = self._position(tag)
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


class _Mapper:
    """The file, opened and mapped on first use, closed when the view's context ends."""

    def __init__(self, path: str | os.PathLike[str], offset: int) -> None:
        self.path = path
        self.offset = offset
        self.fd: int | None = None
        self._map: mmap.mmap | None = None
        self._views: list[memoryview] = []

    def open(self) -> int:
        if self.fd is None:
            self.fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        return self.fd

    def map(self) -> memoryview:
        fd = self.open()
        size = os.fstat(fd).st_size
        if size <= self.offset:
            return memoryview(b"")
        self._map = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
        whole = memoryview(self._map)
        self._views = [whole, whole[self.offset :]]
        return self._views[1]

    def close(self) -> None:
        try:
            # the data set's view before the whole file's: a view is released
            # after those made from it; a validator that kept one is a BufferError
            for view in reversed(self._views):
                view.release()
            if self._map is not None:
                self._map.close()
        finally:
            if self.fd is not None:
                os.close(self.fd)


class _OpenView:
    def __init__(
        self,
        path: str | os.PathLike[str],
        dataset_offset: int,
        transfer_syntax_uid: str,
        limits: Limits,
        lenient_odd_length: bool,
        tokens: Sequence[Token] | None,
        head: bytes | None,
    ) -> None:
        self.args = (transfer_syntax_uid, limits, lenient_odd_length, tokens, head)
        self.mapper: _Mapper | None = _Mapper(path, dataset_offset)
        self.view: InstanceView | None = None

    def __enter__(self) -> InstanceView:
        ts_uid, limits, lenient, tokens, head = self.args
        mapper = self.mapper
        assert mapper is not None, "open_view's context entered twice"
        ts = transfer_syntax(ts_uid)
        try:
            if tokens is not None and not ts.deflated:
                # the ingest path: the bytes before the first large value, as the
                # ingest kept them or in one read; the file is mapped only if a
                # check reads past them
                view = InstanceView.__new__(InstanceView)
                view.transfer_syntax = ts
                view._data = None
                view._init(tokens, b"", mapper)
                if head is None or len(head) < view._head_wanted:
                    head = os.pread(mapper.open(), view._head_wanted, mapper.offset)
                view._head = head
                view._head_end = len(head)
            else:
                data = mapper.map()
                if ts.deflated and len(data):  # PS3.5 A.5: validators read the inflated stream
                    data = memoryview(inflate(data, limits.max_inflated_length))
                view = InstanceView(
                    data, ts, tokens=tokens, limits=limits, lenient_odd_length=lenient
                )
        except BaseException:
            self.mapper = None
            mapper.close()
            raise
        self.view = view
        return view

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        view, mapper = self.view, self.mapper
        self.view = self.mapper = None
        try:
            if view is not None and view._data is not None:
                view._data.release()
        finally:
            if mapper is not None:
                mapper.close()


def open_view(
    path: str | os.PathLike[str],
    dataset_offset: int,
    transfer_syntax_uid: str,
    *,
    limits: Limits = DEFAULT_LIMITS,
    lenient_odd_length: bool = False,
    tokens: Sequence[Token] | None = None,
    head: bytes | None = None,
) -> AbstractContextManager[InstanceView]:
    """Open a Part 10 file and give the view of its data set; closed (unmapped) on exit.

    `tokens`: the data set's tokens when already scanned (the ingest scanner's):
    then only the bytes before the first large value are read, and the file is
    mapped only if a check reads past them. Without them the data set is
    mapped and scanned here. `head`: the data set's first bytes, when already
    in memory (the ingest's): with `tokens`, the file is not even opened
    unless a check reads past them.
    """
    return _OpenView(
        path, dataset_offset, transfer_syntax_uid, limits, lenient_odd_length, tokens, head
    )

"""The scanner API: tokens with byte offsets, in any of the four native encodings.

The byte work is done by :mod:`storecore._ext._scanner`; this layer picks the
encoding from the transfer syntax and inflates Deflated Explicit VR Little
Endian on the fly (PS3.5 Annex A.5), so that token offsets then refer to the
inflated stream.
"""

from __future__ import annotations

import mmap
from collections.abc import Callable, Iterable, Sequence

from storecore import _deflate
from storecore._ext._scanner import Scanner as _CScanner
from storecore._ext._scanner import Token, TokenKind, lookup_dictionary_vr
from storecore._typing import Buffer
from storecore.errors import DatasetError
from storecore.limits import DEFAULT_LIMITS, Limits
from storecore.uid import TransferSyntax, transfer_syntax

# Inflated bytes per step when scanning a deflated stream: bounded memory.
_INFLATE_STEP = 1 << 20

__all__ = ["Scanner", "Token", "TokenKind", "scan", "inflate", "inflate_to", "lookup_dictionary_vr"]

# Inflated bytes per step when reading a deflated stream: memory stays bounded.
_INFLATE_STEP = 1 << 20


def _encoding(ts: TransferSyntax) -> tuple[bool, bool]:
    # Every syntax encodes its dataset in one of the native encodings; only the
    # pixel data differs (PS3.5 Section 10), so (implicit, big endian) is enough.
    return ts.implicit_vr, not ts.little_endian


class Scanner:
    """Incremental scanner of one dataset, fed in chunks of any size.

    Parameters
    ----------
    transfer_syntax : str or TransferSyntax
        The dataset's transfer syntax (UID or keyword).
    limits : Limits
        Element length and nesting limits.
    lenient_odd_length : bool
        Accept odd value lengths (PS3.5 Section 7.1.1 forbids them). Off by default.
    tokens : bool
        Return tokens (False: only captures and the stop are wanted; faster).
    stop_tag : int
        Stop at the first top-level element whose tag is >= this, after its
        header (``done`` becomes True; the rest of the data is ignored); 0: never.
    capture : sequence of int
        Top-level tags whose values (up to ``limits.max_captured_value`` bytes)
        are kept, read back with :meth:`captures`.

    Notes
    -----
    Feeding a dataset in chunks of any size gives the same tokens as feeding it
    whole. For Deflated Explicit VR Little Endian, offsets refer to the inflated
    stream.

    References
    ----------
    PS3.5 Sections 7.1 (data elements), 7.5 (sequences), A.4 (encapsulation).
    """

    def __init__(
        self,
        transfer_syntax: str | TransferSyntax = "1.2.840.10008.1.2.1",
        *,
        limits: Limits = DEFAULT_LIMITS,
        lenient_odd_length: bool = False,
        tokens: bool = True,
        stop_tag: int = 0,
        capture: Sequence[int] = (),
    ) -> None:
        self.transfer_syntax = _ts(transfer_syntax)
        implicit, big = _encoding(self.transfer_syntax)
        self._c = _CScanner(
            implicit,
            big,
            max_element_length=limits.max_element_length,
            max_sequence_depth=limits.max_sequence_depth,
            lenient_odd_length=lenient_odd_length,
            tokens=tokens,
            stop_tag=stop_tag,
            capture=capture,
            max_captured_value=limits.max_captured_value,
        )
        self._inflater = _deflate.decompressobj() if self.transfer_syntax.deflated else None
        self._inflated = 0
        self._max_inflated = limits.max_inflated_length

    def feed(self, data: Buffer) -> list[Token]:
        """Scan the next chunk and return the tokens it completed."""
        if self._c.done:
            return []
        if self._inflater is None:
            tokens: list[Token] = self._c.feed(data)
            return tokens
        # Inflate in bounded steps: memory stays flat whatever the ratio (a
        # deflate bomb expands ~1000:1), and the inflated total is limited.
        tokens = []
        pending: Buffer = data
        while pending and not self._c.done:
            try:
                out = self._inflater.decompress(pending, _INFLATE_STEP)
            except _deflate.ERRORS as exc:
                raise DatasetError(f"deflated dataset is corrupt: {exc}", self._c.offset) from None
            self._inflated += len(out)
            if self._inflated > self._max_inflated:
                raise DatasetError(
                    f"deflated dataset inflates past {self._max_inflated} bytes "
                    "(Limits.max_inflated_length)",
                    self._c.offset,
                )
            tokens += self._c.feed(out)
            pending = self._inflater.unconsumed_tail
        return tokens

    def close(self) -> list[Token]:
        """End of data: return the last tokens, or raise if the dataset is incomplete."""
        tokens: list[Token] = []
        if self._inflater is not None and not self._c.done:
            try:
                rest = self._inflater.flush()
            except (
                _deflate.ERRORS
            ) as exc:  # pragma: no cover - flush raises only on internal errors
                raise DatasetError(f"deflated dataset is corrupt: {exc}", self._c.offset) from None
            if not self._inflater.eof:
                raise DatasetError(
                    "deflated dataset ends before its deflate stream", self._c.offset
                )
            if rest:
                tokens = self._c.feed(rest)
        closing: list[Token] = self._c.close()
        return tokens + closing

    def core(self) -> _CScanner | None:
        """The C scanner, for C code that feeds it directly; None when it inflates first.

        Feeding the core is feeding this scanner: the same checks, the same
        captures, and an error is raised by the next :meth:`feed` or :meth:`close`.
        """
        return self._c if self._inflater is None else None

    @property
    def offset(self) -> int:
        """Bytes of the (inflated) dataset consumed so far."""
        return int(self._c.offset)

    @property
    def done(self) -> bool:
        """The scan reached `stop_tag`: further data is not needed."""
        return bool(self._c.done)

    def captures(self) -> tuple[bytes | None, ...]:
        """The captured values, in `capture` order (None: absent, or over the limit)."""
        return self._c.captures()


def _ts(value: str | TransferSyntax) -> TransferSyntax:
    return value if isinstance(value, TransferSyntax) else transfer_syntax(value)


def scan(
    buffer: Buffer | Iterable[Buffer],
    transfer_syntax: str | TransferSyntax = "1.2.840.10008.1.2.1",
    *,
    limits: Limits = DEFAULT_LIMITS,
    lenient_odd_length: bool = False,
) -> list[Token]:
    """Scan a whole dataset (a buffer, or an iterable of chunks) into tokens.

    Returns
    -------
    list of Token
        Every token of the dataset in stream order.

    Raises
    ------
    DatasetError
        The bytes are not a valid dataset in `transfer_syntax`; the error names
        the byte offset and the tag path.
    """
    scanner = Scanner(transfer_syntax, limits=limits, lenient_odd_length=lenient_odd_length)
    if isinstance(buffer, (bytes, bytearray, memoryview, mmap.mmap)):
        tokens = scanner.feed(buffer)
    else:
        tokens = []
        for chunk in buffer:
            tokens.extend(scanner.feed(chunk))
    tokens.extend(scanner.close())
    return tokens


def inflate(buffer: Buffer, limit: int = DEFAULT_LIMITS.max_inflated_length) -> bytes:
    """Inflate a Deflated Explicit VR Little Endian dataset (PS3.5 Annex A.5) into memory.

    Raises DatasetError if the stream is corrupt, truncated, or inflates past
    `limit` bytes. For large datasets :func:`inflate_to` writes to a file instead.
    """
    out = bytearray()
    inflate_to(buffer, out.extend, limit)
    return bytes(out)


def inflate_to(buffer: Buffer, write: Callable[[bytes], object], limit: int) -> int:
    """Inflate `buffer` in bounded steps into `write`; return the inflated length."""
    d = _deflate.decompressobj()
    total = 0
    pending: Buffer = buffer
    try:
        while pending:
            out = d.decompress(pending, _INFLATE_STEP)
            total += len(out)
            if total > limit:
                raise DatasetError(f"deflated dataset inflates past {limit} bytes", limit)
            write(out)
            pending = d.unconsumed_tail
        rest = d.flush()
    except _deflate.ERRORS as exc:
        raise DatasetError(f"deflated dataset is corrupt: {exc}", total) from None
    total += len(rest)
    if total > limit:
        raise DatasetError(f"deflated dataset inflates past {limit} bytes", limit)
    write(rest)
    if not d.eof:
        raise DatasetError("deflated dataset ends before its deflate stream", total)
    return total

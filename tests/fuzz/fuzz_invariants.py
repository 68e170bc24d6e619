"""What the atheris harnesses check, importable without atheris.

The harnesses (``fuzz_scanner.py``, ``fuzz_part10.py``) wrap these functions;
``test_regressions.py`` calls them directly on saved reproducers, so a bug
found by fuzzing stays a plain pytest test that runs wherever pytest does.

The invariant is the one of errors.py: on any bytes, storecore returns or
raises a :class:`~storecore.errors.StorecoreError`. Any other exception
propagates (the fuzzer reports it as a crash); a broken cross-check raises
:class:`InvariantViolation`. The cross-checks are:

* the scanner gives the same tokens (or the same error) fed whole or in chunks
  of any size, in any buffer type, and through a deflate stream;
* its tokens are well formed: balanced containers at the depths they claim,
  values inside the buffer, defined-length containers ending where they say;
* :func:`~storecore.dataset.summarize` of a dataset the scanner accepts
  succeeds, stops at the first top-level pixel data element the scanner saw,
  and reports the values of the scanner's elements (UIDs, image attributes);
* :func:`~storecore.dataset.read_file_meta` reports the group 0002 values the
  scanner finds, and a dataset offset inside the file;
* native rewriting of a dataset the scanner accepts either raises a
  StorecoreError or writes as many bytes as it returns, and the reverse
  rewrite restores the source byte for byte, for the rewrites that lose
  nothing (Explicit VR LE <-> BE; Implicit VR LE -> explicit -> implicit);
* :func:`~storecore.dataset.summarize_file` agrees with
  :func:`~storecore.dataset.summarize` on the same bytes;
* a file :func:`~storecore.transcode.native.transcode_part10` writes reads
  back, with the same summary (within little endian).
"""

from __future__ import annotations

import contextlib
import os
import random
import tempfile
import zlib
from collections.abc import Callable, Iterator
from typing import Any

from storecore.dataset import (
    Scanner,
    Token,
    TokenKind,
    read_file_meta,
    scan,
    summarize,
    summarize_file,
)
from storecore.errors import StorecoreError
from storecore.transcode import transcode_dataset
from storecore.transcode.native import transcode_part10

IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
EXPLICIT_BE = "1.2.840.10008.1.2.2"
DEFLATED_LE = "1.2.840.10008.1.2.1.99"
NATIVE = (IMPLICIT_LE, EXPLICIT_LE, EXPLICIT_BE)

# The round trips that lose nothing, so must restore the source byte for byte:
# explicit <-> explicit keeps every VR; implicit -> explicit takes the VRs from
# the same dictionary the way back uses, and explicit -> implicit drops them.
LOSSLESS_ROUND_TRIPS = {
    EXPLICIT_LE: (EXPLICIT_BE,),
    EXPLICIT_BE: (EXPLICIT_LE,),
    IMPLICIT_LE: (EXPLICIT_LE, EXPLICIT_BE),
}

_PIXEL_TAGS = 0x7FE00008  # summarize stops at the first top-level tag >= this
_STARTS = {
    TokenKind.SEQUENCE_START: TokenKind.SEQUENCE_END,
    TokenKind.ITEM_START: TokenKind.ITEM_END,
    TokenKind.ENCAPSULATED_START: TokenKind.ENCAPSULATED_END,
}
_UNDEFINED = 0xFFFFFFFF
# the tokens that stand for a data element's header
_HEADS = (TokenKind.ELEMENT, TokenKind.SEQUENCE_START, TokenKind.ENCAPSULATED_START)

# Known bugs a long campaign steps around so that it can find others, by name,
# comma-separated: partial-unit-swap, capture-after-empty, deflate-truncated (see
# where each is tested). Empty by default: a short run and the regression tests
# meet every bug head on.
AVOID = frozenset(filter(None, os.environ.get("STORECORE_FUZZ_AVOID", "").split(",")))
_SWAP_WIDTHS = {
    **dict.fromkeys(("US", "SS", "OW", "AT", "US or SS", "US or OW", "US or SS or OW"), 2),
    **dict.fromkeys(("UL", "SL", "FL", "OF", "OL"), 4),
    **dict.fromkeys(("FD", "OD", "SV", "UV", "OV"), 8),
}

# The top-level tags the summary and the File Meta reader capture (the scanner's
# capture list): the known bug "capture-after-empty" is keyed on them.
_META_TAGS = tuple(
    0x00020000 | e
    for e in (0, 1, 2, 3, 0x10, 0x12, 0x13, 0x16, 0x17, 0x18, 0x26, 0x27, 0x28, 0x31, 0x32,
              0x33, 0x35, 0x100, 0x102)
)  # PS3.10 Table 7.1-1 # fmt: skip
_SUMMARY_TAGS = (
    0x00080005, 0x00080016, 0x00080018, 0x00080060, 0x00100010, 0x00100020,
    0x0020000D, 0x0020000E, 0x00280002, 0x00280004, 0x00280008, 0x00280010,
    0x00280011, 0x00280100, 0x00280101, 0x00280103,
)  # fmt: skip
_CAPTURED_TAGS = _META_TAGS + _SUMMARY_TAGS
_CAPTURED_TAG_BYTES = tuple(
    tag_bytes
    for tag in _CAPTURED_TAGS
    for tag_bytes in (
        (tag >> 16).to_bytes(2, "little") + (tag & 0xFFFF).to_bytes(2, "little"),
        (tag >> 16).to_bytes(2, "big") + (tag & 0xFFFF).to_bytes(2, "big"),
    )
)
_LONG_VRS = {
    b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"
}  # fmt: skip

Outcome = tuple[str, object]  # ("ok", value) or ("error", "ExceptionType: message")


class InvariantViolation(Exception):
    """A harness cross-check failed: storecore returned a wrong answer."""


def _error(exc: StorecoreError) -> Outcome:
    return ("error", f"{type(exc).__name__}: {exc}")


# -- chunking -----------------------------------------------------------------


def chunk_sizes(selector: int) -> Iterator[int]:
    """Chunk sizes chosen by one input byte.

    0-15: every chunk `selector` + 1 bytes (1-byte chunks included);
    16-255: sizes 0-64 from a generator seeded with the byte (0 = an empty feed).
    """
    if selector < 16:
        while True:
            yield selector + 1
    rng = random.Random(selector)
    while True:
        yield rng.randint(0, 64)


def split(body: bytes, selector: int) -> list[bytes | bytearray | memoryview]:
    """`body` cut by :func:`chunk_sizes`, the chunks alternating between buffer types."""
    chunks: list[bytes | bytearray | memoryview] = []
    view = memoryview(body)
    sizes = chunk_sizes(selector)
    pos = 0
    while pos < len(body):
        n = next(sizes)
        piece = view[pos : pos + n]
        kind = len(chunks) % 3
        chunks.append(bytes(piece) if kind == 0 else bytearray(piece) if kind == 1 else piece)
        pos += n
    return chunks


def scan_whole(body: bytes, ts: str) -> Outcome:
    try:
        return ("ok", scan(body, ts))
    except StorecoreError as exc:
        return _error(exc)


def scan_chunked(chunks: list[bytes | bytearray | memoryview], ts: str) -> Outcome:
    scanner = Scanner(ts)
    tokens: list[Token] = []
    try:
        for chunk in chunks:
            tokens.extend(scanner.feed(chunk))
        tokens.extend(scanner.close())
    except StorecoreError as exc:
        return _error(exc)
    return ("ok", tokens)


def deflate(body: bytes) -> bytes:
    """A raw deflate stream (PS3.5 Annex A.5), as Deflated Explicit VR LE carries."""
    c = zlib.compressobj(1, zlib.DEFLATED, -15)
    return c.compress(body) + c.flush()


# -- token structure -------------------------------------------------------------


def check_tokens(tokens: list[Token], size: int, ts: str) -> None:
    """Raise InvariantViolation unless `tokens` describe a well-formed dataset of `size` bytes."""
    stack: list[Token] = []
    last = 0

    def fail(why: str, tok: Token) -> None:
        raise InvariantViolation(f"{ts}: {why}: {tok}")

    for tok in tokens:
        if tok.offset < last:
            fail("offsets go backwards", tok)
        last = tok.offset
        top = stack[-1] if stack else None
        if tok.kind in (TokenKind.ELEMENT, TokenKind.BASIC_OFFSET_TABLE, TokenKind.FRAGMENT):
            if tok.depth != len(stack):
                fail(f"depth {tok.depth} at nesting {len(stack)}", tok)
            if tok.value_offset + tok.length > size:
                fail("value runs past the end of the buffer", tok)
            inside = top.kind if top is not None else None
            if tok.kind == TokenKind.ELEMENT:
                if inside not in (None, TokenKind.ITEM_START):
                    fail(f"element inside {inside!r}", tok)
                header = tok.value_offset - tok.offset
                if header not in ((8,) if tok.implicit else (8, 12)):
                    fail(f"element header of {header} bytes", tok)
            elif inside != TokenKind.ENCAPSULATED_START:
                fail("fragment outside encapsulated pixel data", tok)
        elif tok.kind in _STARTS:
            if tok.depth != len(stack):
                fail(f"depth {tok.depth} at nesting {len(stack)}", tok)
            in_sequence = top is not None and top.kind == TokenKind.SEQUENCE_START
            if tok.kind == TokenKind.ITEM_START and not in_sequence:
                fail("item outside a sequence", tok)
            if tok.length != _UNDEFINED and tok.value_offset + tok.length > size:
                fail("container runs past the end of the buffer", tok)
            stack.append(tok)
        else:
            if top is None or _STARTS[top.kind] != tok.kind:
                fail(f"end token closes {top!r}", tok)
            assert top is not None
            stack.pop()
            if tok.depth != len(stack):
                fail(f"depth {tok.depth} at nesting {len(stack)}", tok)
            if top.length == _UNDEFINED:
                if not tok.delimited or tok.value_offset != tok.offset + 8:
                    fail("undefined-length container ends without its delimiter", tok)
            elif tok.delimited or tok.offset != top.value_offset + top.length:
                fail(f"defined-length container {top} ends elsewhere", tok)
    if stack:
        raise InvariantViolation(f"{ts}: {len(stack)} containers left open: {stack[-1]}")


# -- coverage features -------------------------------------------------------------

FEATURE_BITS = 11
_TREE_BITS = 5  # atheris instruments a function in time superlinear in its size: keep them small


def _tree(bits: int, name: str) -> Callable[[int], int]:
    """A function with one distinct branch per value of a `bits`-bit key."""
    lines = ["def hit(key):"]

    def emit(lo: int, hi: int, indent: int) -> None:
        pad = " " * indent
        if hi - lo == 1:
            lines.append(f"{pad}return {lo}")
            return
        mid = (lo + hi) // 2
        lines.append(f"{pad}if key < {mid}:")
        emit(lo, mid, indent + 1)
        lines.append(f"{pad}else:")
        emit(mid, hi, indent + 1)

    emit(0, 1 << bits, 1)
    namespace: dict[str, Any] = {}
    exec(compile("\n".join(lines), name, "exec"), namespace)
    hit: Callable[[int], int] = namespace["hit"]
    return hit


def make_feature_map(
    instrument: Callable[[Callable[[int], int]], Callable[[int], int]],
) -> Callable[[int], None]:
    """A function with one distinct branch per feature key (FEATURE_BITS bits).

    The scanner and the rewriter are C: atheris sees no coverage inside them. A
    harness passes ``atheris.instrument_func`` and calls the result with a hash
    of what the C code did (token kinds, VRs, depths, error reasons), so that
    libFuzzer keeps inputs that reach new scanner states. The keys are spread
    over many small instrumented functions, each its own code object.
    """
    low = (1 << _TREE_BITS) - 1
    trees = [
        instrument(_tree(_TREE_BITS, f"<feature-tree-{i}>"))
        for i in range(1 << (FEATURE_BITS - _TREE_BITS))
    ]

    def hit(key: int) -> None:
        trees[key >> _TREE_BITS](key & low)

    return hit


def _key(*parts: object) -> int:
    return zlib.crc32(repr(parts).encode()) & ((1 << FEATURE_BITS) - 1)


def token_features(tokens: list[Token]) -> Iterator[int]:
    prev = 0
    for tok in tokens:
        n = tok.length
        length = "u" if n == _UNDEFINED else "0" if n == 0 else "s" if n < 256 else "l"
        yield _key(int(tok.kind), tok.vr, min(tok.depth, 3), tok.implicit, tok.delimited, length)
        yield _key(prev, int(tok.kind))
        prev = int(tok.kind)


def _reason(outcome: Outcome) -> str:
    """The error message without its offset (which varies per input), or "ok"."""
    return "ok" if outcome[0] == "ok" else str(outcome[1]).split(" at 0x")[0]


def outcome_features(ts: str, outcome: Outcome) -> Iterator[int]:
    kind, value = outcome
    if kind == "ok":
        assert isinstance(value, list)
        yield from token_features(value)
    else:
        yield _key(ts, _reason(outcome))


# -- the scanner harness ---------------------------------------------------------------


def _same(what: str, a: Outcome, b: Outcome) -> None:
    if a != b:
        raise InvariantViolation(f"{what}:\n  {_show(a)}\n  {_show(b)}")


def _show(outcome: Outcome) -> str:
    kind, value = outcome
    if kind == "ok" and isinstance(value, list):
        return f"ok, {len(value)} tokens, last {value[-1] if value else None}"
    return f"{kind}: {value}"


def _collector(out: list[bytes]) -> Callable[[bytes | bytearray | memoryview], None]:
    # the rewriter reuses its buffer after each call: keep a copy
    def write(chunk: bytes | bytearray | memoryview) -> None:
        out.append(bytes(chunk))

    return write


def zero_reserved(body: bytes, tokens: list[Token]) -> bytes:
    """`body` with the reserved bytes of its 12-byte explicit VR headers set to 0000H.

    PS3.5 Section 7.1.2 reserves them "set to a value of 0000H"; the scanner
    does not check them and a rewrite writes zeros, so a round trip normalizes them.
    """
    out = bytearray(body)
    for tok in tokens:
        if tok.kind in _HEADS and not tok.implicit and tok.value_offset - tok.offset == 12:
            out[tok.offset + 6 : tok.offset + 8] = b"\0\0"
    return bytes(out)


def swaps_partial_unit(tokens: list[Token]) -> bool:
    """Whether a value to byte-swap has a length that is not a whole number of units.

    The known bug "partial-unit-swap": the rewriter loops forever on such a value
    when the byte order changes. Errs on the side of True (pixel data counts as
    8-byte units whatever its Bits Allocated).
    """
    for tok in tokens:
        if tok.kind == TokenKind.BASIC_OFFSET_TABLE:
            width = 4
        elif tok.kind == TokenKind.ELEMENT:
            pixels = tok.tag == 0x7FE00010 and tok.vr in ("OW", "OB or OW")
            width = 8 if pixels else _SWAP_WIDTHS.get(tok.vr, 0)
        else:
            continue
        if width and tok.length % width:
            return True
    return False


def may_capture_after_empty(data: bytes) -> bool:
    """Whether `data` may hold a captured tag with a zero length (errs on the side of True).

    The known bug "capture-after-empty": after a captured top-level element of
    length 0 the scanner copies the following values into the capture buffer,
    past its end. A byte search: the tag (either byte order) followed, after the
    VR if any, by a zero length; a deflated dataset is searched once inflated.
    """
    for tag_bytes in _CAPTURED_TAG_BYTES:
        at = data.find(tag_bytes)
        while at >= 0:
            header = data[at + 4 : at + 12]
            length = header[4:8] if header[:2] in _LONG_VRS else header[2:4]
            if header[:4] == b"\0\0\0\0" or length in (b"\0\0", b"\0\0\0\0"):
                return True
            at = data.find(tag_bytes, at + 1)
    return False


def avoid_capture(data: bytes, deflated: bool = False) -> bool:
    """True when "capture-after-empty" is avoided and `data` may trigger it.

    `data` is a dataset (`deflated`: a deflate stream of one) or a Part 10 file,
    whose deflated dataset, if any, is searched once inflated.
    """
    if "capture-after-empty" not in AVOID:
        return False
    if may_capture_after_empty(data):
        return True
    start = None
    if deflated:
        start = 0
    elif b"1.2.840.10008.1.2.1.99" in data or b"1.2.840.10008.1.2.8.1" in data:
        # safe now: no captured meta element is empty
        meta = _outcome(lambda: read_file_meta(data))
        start = meta[1].dataset_offset if meta[0] == "ok" else None  # type: ignore[attr-defined]
    if start is None:
        return False
    d = zlib.decompressobj(-15)
    try:
        return may_capture_after_empty(d.decompress(data[start:], 1 << 22))
    except zlib.error:
        return False


def check_transcode(
    body: bytes, ts: str, tokens: list[Token], hit: Callable[[int], None] | None = None
) -> None:
    """Native rewriting of a dataset the scanner accepted, and the lossless round trips."""
    expected = zero_reserved(body, tokens)
    partial = "partial-unit-swap" in AVOID and swaps_partial_unit(tokens)
    for target in (*NATIVE, DEFLATED_LE):
        if target == ts or (partial and (EXPLICIT_BE in (ts, target))):
            continue
        out: list[bytes] = []
        try:
            n = transcode_dataset(body, ts, target, _collector(out))
        except StorecoreError as exc:
            if hit is not None:
                hit(_key("transcode", ts, target, _reason(_error(exc))))
            continue
        data = b"".join(out)
        if target != DEFLATED_LE and n != len(data):
            raise InvariantViolation(f"{ts} -> {target}: returned {n}, wrote {len(data)} bytes")
        if target not in LOSSLESS_ROUND_TRIPS.get(ts, ()):
            continue
        back: list[bytes] = []
        try:
            transcode_dataset(data, target, ts, _collector(back))
        except StorecoreError as exc:
            raise InvariantViolation(
                f"{ts} -> {target} wrote {len(data)} bytes that {target} cannot read back: {exc}\n"
                f"  output: {data.hex()}"
            ) from exc
        restored = b"".join(back)
        if restored != expected:
            at = next(
                (i for i, (x, y) in enumerate(zip(restored, expected, strict=False)) if x != y),
                min(len(restored), len(expected)),
            )
            raise InvariantViolation(
                f"{ts} -> {target} -> {ts} changed the dataset: first difference at "
                f"0x{at:X} (lengths {len(body)} and {len(restored)})\n  output: {data.hex()}"
            )


_MAX_CAPTURED = 1024  # Limits.max_captured_value, the default summarize() uses
_SUMMARY_TEXT = {
    0x00080016: "sop_class_uid",
    0x00080018: "sop_instance_uid",
    0x00080060: "modality",
    0x0020000D: "study_instance_uid",
    0x0020000E: "series_instance_uid",
    0x00280004: "photometric_interpretation",
}
_SUMMARY_US = {
    0x00280002: "samples_per_pixel",
    0x00280010: "rows",
    0x00280011: "columns",
    0x00280100: "bits_allocated",
    0x00280101: "bits_stored",
    0x00280103: "pixel_representation",
}


def captured_values(
    body: bytes, tokens: list[Token], tags: Iterator[int] | tuple[int, ...], stop: int = _PIXEL_TAGS
) -> dict[int, bytes | None]:
    """What a capture of `tags` must hold, from the tokens: the value of a tag met
    once at the top level before `stop` (None if absent, too long or not a plain
    element). Tags met more than once are left out."""
    seen: dict[int, list[Token]] = {}
    for tok in tokens:
        if tok.depth == 0 and tok.kind in _HEADS:
            if tok.tag >= stop:
                break
            seen.setdefault(tok.tag, []).append(tok)
    out: dict[int, bytes | None] = {}
    for tag in tags:
        found = seen.get(tag, [])
        if len(found) > 1:
            continue
        tok = found[0] if found else None
        if tok is None or tok.kind != TokenKind.ELEMENT or tok.length > _MAX_CAPTURED:
            out[tag] = None
        else:
            out[tag] = body[tok.value_offset : tok.value_offset + tok.length]
    return out


def check_summary(body: bytes, ts: str, tokens: list[Token]) -> None:
    """summarize() of a dataset the scanner accepted: succeeds, stops at its pixel data,
    and reports the values the scanner found."""
    if avoid_capture(body):
        return
    try:
        summary = summarize(body, ts)
    except StorecoreError as exc:
        raise InvariantViolation(
            f"{ts}: scan() accepts the dataset, summarize() does not: {exc}"
        ) from exc
    heads = (t for t in tokens if t.depth == 0 and t.kind in _HEADS)
    first = next((t for t in heads if t.tag >= _PIXEL_TAGS), None)
    found = None
    if first is not None:
        length = None if first.length == _UNDEFINED else first.length
        found = (first.tag, first.value_offset, length)
    got = (
        None
        if summary.pixel_data_tag is None
        else (summary.pixel_data_tag, summary.pixel_data_offset, summary.pixel_data_length)
    )
    if found != got:
        raise InvariantViolation(
            f"{ts}: summarize() stopped at {got}, the scan's pixel data is {found}"
        )
    values = captured_values(body, tokens, (*_SUMMARY_TEXT, *_SUMMARY_US))
    byteorder = "big" if ts == EXPLICIT_BE else "little"
    for tag, raw in values.items():
        if tag in _SUMMARY_TEXT:
            field = _SUMMARY_TEXT[tag]
            expected: object = (
                None if raw is None else raw.rstrip(b"\0 ").decode("ascii", "replace")
            )
        else:
            field = _SUMMARY_US[tag]
            expected = None if raw is None or len(raw) < 2 else int.from_bytes(raw[:2], byteorder)
        if getattr(summary, field) != expected:
            raise InvariantViolation(
                f"{ts}: summarize() reports {field}={getattr(summary, field)!r}, "
                f"the scan's ({tag >> 16:04X},{tag & 0xFFFF:04X}) holds {expected!r}"
            )


def check_scanner(data: bytes, hit: Callable[[int], None] | None = None) -> None:
    """The scanner harness: data[0] picks the chunking, data[1:] is the dataset."""
    if not data:
        return
    selector, body = data[0], data[1:]
    chunks = split(body, selector)
    outcomes = {}
    for ts in NATIVE:
        whole = scan_whole(body, ts)
        outcomes[ts] = whole
        if hit is not None:
            for key in outcome_features(ts, whole):
                hit(key)
        chunked = scan_chunked(chunks, ts)
        _same(f"{ts}: whole and chunked scans differ (chunk selector {selector})", whole, chunked)
        if whole[0] == "ok":
            tokens = whole[1]
            assert isinstance(tokens, list)
            check_tokens(tokens, len(body), ts)
            check_summary(body, ts, tokens)
            check_transcode(body, ts, tokens, hit)
        else:
            if not avoid_capture(body):
                with contextlib.suppress(StorecoreError):
                    summarize(body, ts)  # may succeed: it stops before the pixel data
    # Deflated Explicit VR LE: the same dataset through a deflate stream, chunked,
    # scans to the same tokens (offsets refer to the inflated stream).
    _same(
        "deflated and plain Explicit VR LE scans differ",
        outcomes[EXPLICIT_LE],
        scan_chunked(split(deflate(body), selector), DEFLATED_LE),
    )
    # And the raw bytes as a (most likely corrupt) deflate stream.
    scan_whole(body, DEFLATED_LE)
    if not avoid_capture(body, deflated=True):
        with contextlib.suppress(StorecoreError):
            summarize(body, DEFLATED_LE)


# -- the Part 10 harness --------------------------------------------------------------------

_scratch: str | None = None


def _scratch_file() -> str:
    """One scratch file per process for summarize_file.

    Under the harness it lives in the runner's temporary directory (libFuzzer
    exits without running atexit handlers); elsewhere it is removed at exit.
    """
    global _scratch
    if _scratch is None:
        directory = os.environ.get("STORECORE_FUZZ_TMP")
        fd, _scratch = tempfile.mkstemp(prefix="storecore-fuzz-", suffix=".dcm", dir=directory)
        os.close(fd)
        if directory is None:
            import atexit

            atexit.register(os.unlink, _scratch)
    return _scratch


# The known bug "deflate-truncated": summarize() and summarize_file() disagree on a
# deflate stream cut after the pixel data header (one raises this, the other not).
_TRUNCATED = "DatasetError: deflated dataset ends before its deflate stream"


def _no_offset(outcome: Outcome) -> Outcome:
    return outcome if outcome[0] == "ok" else ("error", _reason(outcome))


def _outcome(fn: Callable[[], object]) -> Outcome:
    try:
        return ("ok", fn())
    except StorecoreError as exc:
        return _error(exc)


def check_meta(data: bytes, meta: Any) -> None:
    """A FileMeta read_file_meta() returned: its offsets, and the values of group 0002
    as the scanner finds them."""
    start = 132 if meta.has_preamble else 0
    if not start <= meta.dataset_offset <= len(data):
        raise InvariantViolation(
            f"dataset_offset {meta.dataset_offset} outside {start}..{len(data)}"
        )
    group = data[start : meta.dataset_offset]
    outcome = scan_whole(group, EXPLICIT_LE)
    if outcome[0] != "ok":
        raise InvariantViolation(f"read_file_meta() accepts group 0002, scan() does not: {outcome}")
    tokens = outcome[1]
    assert isinstance(tokens, list)
    for tag, value in captured_values(group, tokens, _META_TAGS, stop=0x00030000).items():
        if meta.elements.get(tag) != value:
            raise InvariantViolation(
                f"read_file_meta() holds {meta.elements.get(tag)!r} for "
                f"({tag >> 16:04X},{tag & 0xFFFF:04X}), the scan finds {value!r}"
            )


def check_transcode_part10(data: bytes, summary: Outcome) -> None:
    """transcode_part10() into each native syntax: a StorecoreError, or a file that
    read_file_meta() and summarize() read back, with the source's summary."""
    for target in NATIVE:
        out: list[bytes] = []
        try:
            transcode_part10(data, target, _collector(out))
        except StorecoreError:
            continue
        produced = b"".join(out)
        try:
            meta = read_file_meta(produced)
            again = summarize(produced)
        except StorecoreError as exc:
            raise InvariantViolation(
                f"transcode_part10() into {target} wrote a file storecore cannot read: {exc}"
            ) from exc
        if meta.transfer_syntax_uid != target:
            raise InvariantViolation(f"transcode_part10() into {target} wrote {meta}")
        # Compared within little endian only: a UN value is never byte-swapped
        # (PS3.5 6.2.2), so a UN Rows, say, reads otherwise once big endian.
        little = EXPLICIT_BE not in (target, getattr(summary[1], "transfer_syntax_uid", None))
        if summary[0] == "ok" and little:
            before = summary[1]._replace(  # type: ignore[attr-defined]
                transfer_syntax_uid=target, dataset_offset=0, pixel_data_offset=0
            )
            after = again._replace(dataset_offset=0, pixel_data_offset=0)
            if before != after:
                raise InvariantViolation(
                    f"transcode_part10() into {target} changed the summary:\n  {before}\n  {after}"
                )


def check_part10(data: bytes, hit: Callable[[int], None] | None = None) -> None:
    """The Part 10 harness: read_file_meta, summarize and summarize_file on a file's bytes."""
    if avoid_capture(data):
        return
    for lenient in (False, True):
        meta = _outcome(
            lambda lenient=lenient: read_file_meta(
                data, lenient_no_preamble=lenient, lenient_meta_group_length=lenient
            )
        )
        if hit is not None:
            hit(_key("meta", lenient, _reason(meta)))
        if meta[0] == "ok":
            check_meta(data, meta[1])
    in_memory = _outcome(lambda: summarize(data))
    if hit is not None:
        hit(_key("summary", _reason(in_memory)))
    path = _scratch_file()
    with open(path, "wb") as f:
        f.write(data)
    on_disk = _outcome(lambda: summarize_file(path))
    skip = "deflate-truncated" in AVOID and _TRUNCATED in (_reason(in_memory), _reason(on_disk))
    if not skip:
        # the same answer; an error's offset may differ (summarize_file inflates less)
        _same("summarize() and summarize_file() differ", _no_offset(in_memory), _no_offset(on_disk))
    check_transcode_part10(data, in_memory)

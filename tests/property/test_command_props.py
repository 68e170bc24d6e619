"""Property tests of the DIMSE command set fast path (storecore._ext._command).

(a) encode -> fast decode is the identity for every valid message of every
implemented type, and the fast encoder writes the Python encoder's bytes.
(b) The fast path and the strict decoder agree on any input: on valid command
sets with one or two elements edited (values at the edges of every rule,
elements dropped, added, swapped, repeated, foreign, a wrong group length), on
valid ones corrupted byte-wise, and under small element length limits: the
fast path returns the strict decoder's message whenever that one succeeds,
and declines otherwise, so that decode_command raises the strict decoder's
very error.
(c) encode_c_store_rsp writes what encode_command(C_STORE_RSP(...)) writes.

References: PS3.7 Sections 6.3.1, 9.3, 10.3, Annex E; PS3.5 Sections 6.2, 7.1, 9.1.
"""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storecore.dimse import (
    C_STORE_RQ,
    C_STORE_RSP,
    MESSAGE_TYPES,
    Message,
    decode_command,
    encode_c_store_rsp,
    encode_command,
)
from storecore.dimse.messages import _CODEC, _decode_strict, _encode_command_py
from storecore.errors import StorecoreError
from storecore.limits import DEFAULT_LIMITS, Limits
from tests.property.strategies import PROPERTY_SETTINGS
from tests.unit.dimse.strategies import BY_TYPE, c_store_rq, messages

_MANY = settings(PROPERTY_SETTINGS, max_examples=400)


def _outcome(data: bytes, limits: Limits) -> tuple[str, object]:
    """What the strict decoder makes of `data`: ("ok", message) or ("error", its identity)."""
    try:
        return "ok", _decode_strict(data, limits=limits)
    except StorecoreError as exc:
        return "error", (type(exc), str(exc), vars(exc))


def _check_agreement(data: bytes, limits: Limits = DEFAULT_LIMITS) -> None:
    fast = _CODEC.decode(data, limits.max_element_length)
    kind, strict = _outcome(data, limits)
    if kind == "ok":
        assert fast is not None, "the fast path declined a valid command set"
        assert type(fast) is type(strict) and fast == strict
        assert decode_command(data, limits=limits) == strict
        return
    assert fast is None, f"the fast path accepted what the strict decoder refuses: {strict}"
    with pytest.raises(StorecoreError) as info:
        decode_command(data, limits=limits)
    assert (type(info.value), str(info.value), vars(info.value)) == strict


# -- (a) round trips -------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(BY_TYPE))
def test_encode_then_fast_decode_is_the_identity(kind: str) -> None:
    @PROPERTY_SETTINGS
    @given(BY_TYPE[kind])
    def check(msg: Message) -> None:
        data = encode_command(msg)
        assert data == _encode_command_py(msg)
        decoded = _CODEC.decode(data)
        assert decoded == msg
        assert type(decoded) is type(msg)
        assert _CODEC.encode(decoded) == data

    check()


@PROPERTY_SETTINGS
@given(messages, st.integers(0, 7))
def test_any_buffer_decodes_alike(msg: Message, skip: int) -> None:
    data = encode_command(msg)
    padded = bytearray(b"\xff" * skip + data + b"\xee")
    for view in (bytearray(data), memoryview(data), memoryview(padded)[skip : skip + len(data)]):
        assert _CODEC.decode(view) == msg
        assert decode_command(view) == msg


# -- (b) the fast path and the strict decoder agree -------------------------------------


def _element(tag: int, value: bytes) -> bytes:
    return struct.pack("<HHI", tag >> 16, tag & 0xFFFF, len(value)) + value


def _elements(data: bytes) -> list[tuple[int, bytes]]:
    """The (tag, value) of each element after Command Group Length, of a valid encoding."""
    out, off = [], 12
    while off < len(data):
        group, elem, length = struct.unpack_from("<HHI", data, off)
        out.append((group << 16 | elem, data[off + 8 : off + 8 + length]))
        off += 8 + length
    return out


# Values at the edges of each VR's rules, valid and not (PS3.5 6.2, 9.1; PS3.7 E.1)
_US = st.one_of(
    st.integers(0, 0xFFFF).map(lambda v: struct.pack("<H", v)),
    st.sampled_from([b"", b"\x01\x01", b"\x03\x00", b"\x01\x00\x02\x00", b"\x00\x00" * 3]),
)
_UIDS = st.sampled_from(
    [
        b"1.2.840.10008.5.1.4.1.1.2\x00",
        b"1.2.840.10008.1.20.1",
        b"1.20",
        b"0.0",
        b"10.0.30\x00",
        b"1.2.03.4",
        b"1.02\x00",
        b"01.2",
        b"00",
        b"1.2.3.4 ",
        b"1.23\x00\x00",
        b"\x00\x00",
        b"1.2.\xc3\xa9",
        b".1.2",
        b"1..2",
        b"1.2.",
        b"1.2\x003",
        b"1.2a",
        b"1/2\x00",
        b"1." + b"2" * 62,  # 64 characters
        b"1." + b"2" * 61 + b"\x00",  # 63 characters, padded
        b"1." + b"2" * 63 + b"\x00",  # 65 characters, padded
        b"1." + b"2" * 64,  # 66 characters
    ]
)
_TEXT = st.one_of(
    st.sampled_from(
        [
            b"AE",
            b" AE ",
            b"A B ",
            b"    ",
            b"A\\B ",
            b"A" * 16,
            b" " + b"A" * 16 + b" ",
            b"A" * 18,
            b"A" * 64,
            b"A" * 66,
            b"\tA",
            b"\xe9A",
            b"A\x00",
            b"~}",
            b"A\x7f",
        ]
    ),
    st.binary(max_size=70),
)
_AT = st.one_of(
    st.lists(st.integers(0, 0xFFFF_FFFF), max_size=3).map(
        lambda ts: b"".join(struct.pack("<HH", t >> 16, t & 0xFFFF) for t in ts)
    ),
    st.sampled_from([b"\x10\x00\x10\x00\x08\x00", b"\x00\x00"]),
)
_VALUES = {"US": _US, "UI": _UIDS, "AE": _TEXT, "LO": _TEXT, "AT": _AT}
# every command element of the implemented messages, with values of its VR
_BY_TAG: dict[int, st.SearchStrategy[bytes]] = {
    f.tag: _VALUES[f.vr] for cls in MESSAGE_TYPES.values() for f in cls._FIELDS
}
# Command Field: the implemented commands, others, and values of other lengths
_BY_TAG[0x0100] = st.one_of(
    st.sampled_from([*MESSAGE_TYPES, 0x0020, 0x0FFF, 0x1234]).map(lambda v: struct.pack("<H", v)),
    st.sampled_from([b"", b"\x01\x00\x01\x00"]),
)
_EDITS = ("value", "value", "value", "drop", "add", "swap", "repeat", "foreign", "length")


@st.composite
def command_sets(draw: st.DrawFn) -> bytes:
    """A valid command set, then none, one or two edits of its elements.

    Valid but for one or two things: the inputs that find where the fast path
    and the strict decoder could part.
    """
    items = _elements(encode_command(draw(messages)))
    group_length_delta = 0
    for _ in range(draw(st.sampled_from([0, 1, 1, 1, 2]))):
        edit = draw(st.sampled_from(_EDITS))
        i = draw(st.integers(0, len(items) - 1))
        tag = items[i][0]
        if edit == "value":  # another value of the element's VR (any bytes if foreign)
            items[i] = (tag, draw(_BY_TAG.get(tag, st.binary(max_size=6))))
        elif edit == "drop":
            del items[i]
        elif edit == "add":  # an element of this message or of another
            new = draw(st.sampled_from(sorted(_BY_TAG)))
            items = sorted([*(t for t in items if t[0] != new), (new, draw(_BY_TAG[new]))])
        elif edit == "swap" and i + 1 < len(items):
            items[i], items[i + 1] = items[i + 1], items[i]
        elif edit == "repeat":
            items.insert(i, items[i])
        elif edit == "foreign":  # outside group 0000, or not a command element
            new = draw(st.sampled_from([0x0008_0016, 0xFFFE_E000, 0x0000_0004, 0x0000_0001]))
            items = sorted([*items, (new, draw(st.binary(max_size=6)))])
        elif edit == "length":
            group_length_delta = draw(st.sampled_from([-2, 2, 0x1_0000]))
        if not items:
            break
    body = b"".join(_element(tag, value) for tag, value in items)
    length = (len(body) + group_length_delta) & 0xFFFF_FFFF
    return _element(0, struct.pack("<I", length)) + body


@_MANY
@given(command_sets())
def test_decoders_agree_on_built_command_sets(data: bytes) -> None:
    _check_agreement(data)


@_MANY
@given(messages, st.data())
def test_decoders_agree_on_corrupted_command_sets(msg: Message, data: st.DataObject) -> None:
    raw = bytearray(encode_command(msg))
    for _ in range(data.draw(st.integers(0, 3))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    _check_agreement(bytes(raw[:cut]))


@PROPERTY_SETTINGS
@given(messages, st.integers(0, 80))
def test_decoders_agree_on_element_length_limits(msg: Message, limit: int) -> None:
    _check_agreement(encode_command(msg), Limits(max_element_length=limit))


# -- (c) the C-STORE-RSP of a request ----------------------------------------------------


@PROPERTY_SETTINGS
@given(c_store_rq, st.integers(0, 0xFFFF))
def test_c_store_rsp_is_the_messages_encoding(request: C_STORE_RQ, status: int) -> None:
    expected = C_STORE_RSP(
        request.MessageID, status, request.AffectedSOPClassUID, request.AffectedSOPInstanceUID
    )
    data = encode_c_store_rsp(request, status)
    assert data == _encode_command_py(expected)
    assert decode_command(data) == expected

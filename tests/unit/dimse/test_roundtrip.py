"""Hypothesis round trips: decode(encode(m)) == m; decoding only ever raises StorecoreError."""

from __future__ import annotations

import contextlib
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storecore.dataset import Scanner, TokenKind
from storecore.dimse import Message, decode_command, encode_command, has_dataset
from storecore.errors import StorecoreError

from .strategies import BY_TYPE, messages

_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("kind", list(BY_TYPE))
def test_round_trip(kind: str) -> None:
    @_SETTINGS
    @given(BY_TYPE[kind])
    def check(msg: Message) -> None:
        data = encode_command(msg)
        decoded = decode_command(data)
        assert decoded == msg
        assert type(decoded) is type(msg)
        assert encode_command(decoded) == data
        assert has_dataset(decoded) is has_dataset(msg)

    check()


@_SETTINGS
@given(messages)
def test_encoding_is_a_valid_implicit_vr_group(msg: Message) -> None:
    data = encode_command(msg)
    assert len(data) % 2 == 0
    (group_length,) = struct.unpack_from("<I", data, 8)
    assert data[:8] == b"\x00\x00\x00\x00\x04\x00\x00\x00"
    assert group_length == len(data) - 12
    # fed byte by byte, the scanner sees even-length group 0000 elements in
    # strictly ascending order
    scanner = Scanner("1.2.840.10008.1.2")
    tokens = []
    for i in range(len(data)):
        tokens += scanner.feed(data[i : i + 1])
    tokens += scanner.close()
    assert all(t.kind == TokenKind.ELEMENT and t.tag >> 16 == 0 for t in tokens)
    assert [t.tag for t in tokens] == sorted({t.tag for t in tokens})
    assert all(t.length % 2 == 0 for t in tokens)


@settings(max_examples=400, deadline=None)
@given(messages, st.data())
def test_corrupted_command_sets_fail_only_with_storecore_errors(
    msg: Message, data: st.DataObject
) -> None:
    raw = bytearray(encode_command(msg))
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    with contextlib.suppress(StorecoreError):
        decode_command(bytes(raw[:cut]))

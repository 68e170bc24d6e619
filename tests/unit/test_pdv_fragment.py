"""Sending: fragment() against the receiving side (the C framer and assembler)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storecore._ext._pdu import PDUFramer
from storecore.dimse import C_ECHO_RQ, PDVAssembler, encode_command, fragment
from storecore.dimse.pdv import COMMAND, DATA, pdv_headers


@given(st.binary(max_size=5000), st.integers(7, 2000), st.sampled_from([1, 3, 255]))
@settings(max_examples=200, deadline=None)
def test_fragments_reassemble_and_respect_the_maximum(data: bytes, maximum: int, ctx: int) -> None:
    framer = PDUFramer(maximum)  # the receiver refuses anything over `maximum`
    stream = b"".join(h + bytes(p) for h, p in fragment(ctx, data, maximum, command=False))
    pdus = framer.feed(stream)
    assert all(len(body) <= maximum for _, body in pdus)
    assembler = PDVAssembler([ctx])
    command = encode_command(C_ECHO_RQ(MessageID=1))
    events = []
    for h, p in fragment(ctx, command, maximum, command=True):
        events += assembler.feed(bytes(h[6:]) + bytes(p))
    # C-ECHO-RQ has no dataset: the message ends with its command
    assert events[-1][0] == COMMAND and events[-1][2] == command and events[-1][3] is False
    # a dataset on its own is refused before a command: wrap it behind a C-STORE-like command
    got = b""
    last_flags = []
    assembler2 = PDVAssembler([ctx])
    store_cmd = bytes.fromhex("00000000040000000a00000000080000020000000000")
    assembler2.feed(next(fragment(ctx, store_cmd, 0, command=True))[0][6:] + store_cmd)
    for _, body in pdus:
        for ev in assembler2.feed(body):
            assert ev[0] == DATA
            got += bytes(ev[2])
            last_flags.append(ev[3])
    assert got == data and last_flags[-1] and not any(last_flags[:-1])


@given(
    st.integers(0, 70_000),
    st.sampled_from([0, 7, 100, 16384, 131072]),
    st.sampled_from([1, 3, 255]),
    st.booleans(),
)
@settings(max_examples=200, deadline=None)
def test_pdv_headers_are_fragments_headers(total: int, maximum: int, ctx: int, cmd: bool) -> None:
    """What a file's data set is sent with (os.sendfile): the same PDUs, payloads by offset."""
    data = bytes(range(256)) * (total // 256) + bytes(total % 256)
    pieces = list(fragment(ctx, data, maximum, command=cmd))
    headers = list(pdv_headers(ctx, total, maximum, command=cmd))
    assert [h for h, _, _ in headers] == [h for h, _ in pieces]
    assert [data[o : o + n] for _, o, n in headers] == [bytes(p) for _, p in pieces]
    assert sum(n for _, _, n in headers) == total


def test_zero_copy_payload() -> None:
    data = bytearray(100_000)
    pieces = list(fragment(1, data, 16384, command=False))
    assert all(p.obj is data for _, p in pieces)
    assert len(pieces) == -(-100_000 // (16384 - 6))


@pytest.mark.parametrize(("ctx", "maximum"), [(2, 0), (0, 0), (257, 0), (1, 6)])
def test_bad_arguments(ctx: int, maximum: int) -> None:
    with pytest.raises(ValueError):
        list(fragment(ctx, b"x", maximum, command=True))
    with pytest.raises(ValueError):
        list(pdv_headers(ctx, 1, maximum, command=True))

"""Property tests of the SCP's data set fast path, ``_pdu.pump_dataset``.

The pump must do what the framer and the assembler do with the same bytes
(``tests/fuzz/pump_check.py`` says what is compared): on data sets cut into
PDVs and PDUs of any size, on what may follow them (the next command, an
A-RELEASE-RQ, a bad PDV), on streams with one byte changed, and whatever the
kernel hands over per ``recv``.

References: PS3.8 Section 9.3.5 and Annex E.2; PS3.7 Section 9.3.1.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storecore._ext._pdu import (
    PUMP_CLOSED,
    PUMP_LAST,
    PUMP_RECV_ERROR,
    PUMP_TIMEOUT,
    PUMP_YIELD,
    PDUFramer,
    PDVAssembler,
    pump_dataset,
)
from storecore._ext._scanner import Scanner
from tests.fuzz.pump_check import command_pdu, pump_vs_feed
from tests.property.strategies import PROPERTY_SETTINGS

_MANY = settings(PROPERTY_SETTINGS, max_examples=300)
A_RELEASE_RQ = bytes.fromhex("0500000000040000" "0000")


def pdv(context: int, mch: int, data: bytes) -> bytes:
    return (len(data) + 2).to_bytes(4, "big") + bytes([context, mch]) + data


def pdata(*items: bytes) -> bytes:
    body = b"".join(items)
    return b"\x04\x00" + len(body).to_bytes(4, "big") + body


@st.composite
def data_set_pdus(draw: st.DrawFn) -> tuple[bytes, bytes]:
    """(the data set, its P-DATA-TF PDUs): PDVs of 0-3000 bytes, 1-3 per PDU."""
    data = draw(st.binary(min_size=0, max_size=12000))
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=8)))
    pieces = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
    items = [pdv(1, 0, piece) for piece in pieces[:-1]] + [pdv(1, 2, pieces[-1])]
    stream = b""
    while items:
        k = draw(st.integers(1, min(3, len(items))))
        stream += pdata(*items[:k])
        items = items[k:]
    return data, stream


TAILS = st.sampled_from(
    [
        b"",
        command_pdu(),  # the next C-STORE's command
        A_RELEASE_RQ,
        pdata(pdv(3, 0, b"xx")),  # another context: the assembler path refuses it
        b"\x09\x00\x00\x00\x00\x00",  # an unknown PDU type
    ]
)


@_MANY
@given(data_set_pdus(), TAILS)
def test_a_whole_data_set_is_written_as_the_pdvs_carry_it(
    case: tuple[bytes, bytes], tail: bytes
) -> None:
    data, stream = case
    assert pump_vs_feed(stream + tail) == (PUMP_LAST, data)


@_MANY
@given(data_set_pdus(), st.data())
def test_a_data_set_cut_short_is_written_up_to_the_cut(
    case: tuple[bytes, bytes], draw: st.DataObject
) -> None:
    _, stream = case
    cut = draw.draw(st.integers(0, max(0, len(stream) - 1)))
    outcome, written = pump_vs_feed(stream[:cut])
    assert outcome in (PUMP_CLOSED, PUMP_YIELD) and case[0].startswith(written)


@_MANY
@given(data_set_pdus(), st.data())
def test_any_byte_changed_is_taken_or_left_as_the_assembler_would(
    case: tuple[bytes, bytes], draw: st.DataObject
) -> None:
    _, stream = case
    at = draw.draw(st.integers(0, len(stream) - 1))
    value = draw.draw(st.integers(0, 255))
    pump_vs_feed(stream[:at] + bytes([value]) + stream[at + 1 :])


@contextlib.contextmanager
def _wire(out: int | None = None) -> Iterator[tuple[socket.socket, socket.socket, int]]:
    """A socket pair (ours, theirs) and a file to pump into (a memfd unless `out`)."""
    ours, theirs = socket.socketpair()
    fd = os.memfd_create("pump") if out is None else out
    try:
        yield ours, theirs, fd
    finally:
        ours.close()
        theirs.close()
        os.close(fd)


def _pair() -> tuple[PDUFramer, PDVAssembler]:
    assembler = PDVAssembler([1])
    assembler.feed(memoryview(command_pdu())[6:])
    return PDUFramer(16384), assembler


def test_the_scanner_checks_the_bytes_on_the_way() -> None:
    # an Explicit VR LE element whose value ends early: the scanner's close says so
    element = b"\x08\x00\x18\x00UI\x10\x00" + b"1.2.3.4.5.6.7.8\x00"
    framer, assembler = _pair()
    scanner = Scanner()
    with _wire() as (ours, theirs, out):
        theirs.sendall(pdata(pdv(1, 2, element[:-4])))
        outcome, nbytes, _, _ = pump_dataset(framer, assembler, ours.fileno(), out, scanner)
    assert (outcome, nbytes) == (PUMP_LAST, len(element) - 4)
    with pytest.raises(Exception, match="ends inside a value"):
        scanner.close()


def test_a_failed_write_drains_the_data_set_and_reports_the_errno() -> None:
    framer, assembler = _pair()
    with _wire(os.open("/dev/null", os.O_RDONLY)) as (ours, theirs, read_only):
        theirs.sendall(pdata(pdv(1, 0, b"a" * 100)) + pdata(pdv(1, 2, b"b" * 50)) + A_RELEASE_RQ)
        outcome, nbytes, write_errno, _ = pump_dataset(framer, assembler, ours.fileno(), read_only)
    assert (outcome, nbytes) == (PUMP_LAST, 150)
    assert write_errno != 0  # EBADF: the data set was consumed all the same
    pdu = framer.next_pdu()
    assert pdu is not None and pdu[0] == 5  # the release request is left for the caller


def test_a_silent_peer_is_a_time_out() -> None:
    framer, assembler = _pair()
    with _wire() as (ours, theirs, out):
        ours.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, (0).to_bytes(8, "little") + (
            50_000).to_bytes(8, "little"))  # 50 ms  # fmt: skip
        theirs.sendall(pdata(pdv(1, 0, b"a" * 10)))
        outcome, nbytes, _, _ = pump_dataset(framer, assembler, ours.fileno(), out)
    assert (outcome, nbytes) == (PUMP_TIMEOUT, 10)


def test_a_socket_that_fails_is_a_receive_error() -> None:
    framer, assembler = _pair()
    out = os.memfd_create("pump")
    try:
        outcome, nbytes, _, recv_errno = pump_dataset(framer, assembler, out, out)  # not a socket
        assert (outcome, nbytes) == (PUMP_RECV_ERROR, 0) and recv_errno != 0
    finally:
        os.close(out)


def test_no_message_in_progress_leaves_everything_to_the_assembler() -> None:
    framer, assembler = PDUFramer(16384), PDVAssembler([1])  # no command yet
    with _wire() as (ours, theirs, out):
        theirs.sendall(pdata(pdv(1, 2, b"data before its command")))
        outcome, nbytes, _, _ = pump_dataset(framer, assembler, ours.fileno(), out)
    assert (outcome, nbytes) == (PUMP_YIELD, 0)
    assert framer.next_pdu() is not None  # still there, for feed() to refuse

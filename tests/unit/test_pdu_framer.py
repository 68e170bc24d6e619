"""The C PDU framer and PDV assembler (PS3.8 9.3.1, 9.3.5, Annex E; PS3.7 9.3.1)."""

from __future__ import annotations

import contextlib
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storecore._ext._pdu import COMMAND, DATA, PDUFramer, PDVAssembler
from storecore.errors import RemoteProtocolError


def pdu(pdu_type: int, body: bytes) -> bytes:
    # PDU type (1 byte), reserved (1), PDU length (4, big endian) - PS3.8 Table 9-22
    return struct.pack(">BBI", pdu_type, 0, len(body)) + body


def pdv(context_id: int, control: int, data: bytes) -> bytes:
    # item length (4), presentation context ID (1), message control header (1) - 9.3.5.1
    return struct.pack(">IBB", len(data) + 2, context_id, control) + data


def command_set(data_set_type: int) -> bytes:
    """A minimal Implicit VR LE command set carrying Command Data Set Type (0000,0800)."""
    body = struct.pack("<HHIH", 0x0000, 0x0100, 2, 0x0001)  # Command Field: C-STORE-RQ
    body += struct.pack("<HHIH", 0x0000, 0x0800, 2, data_set_type)
    return struct.pack("<HHII", 0x0000, 0x0000, 4, len(body)) + body


RELEASE_RQ = pdu(5, b"\x00\x00\x00\x00")


# --- framing ------------------------------------------------------------------------


def test_whole_pdus_and_a_split_header() -> None:
    f = PDUFramer(16384)
    stream = pdu(4, pdv(1, 3, b"abcd")) + RELEASE_RQ
    assert f.feed(stream[:3]) == []
    assert f.feed(stream[3:]) == [(4, pdv(1, 3, b"abcd")), (5, b"\x00\x00\x00\x00")]
    assert f.buffered == 0 and f.pdus == 2


def test_zero_copy_receive_path() -> None:
    f = PDUFramer(16384)
    body = pdv(1, 2, bytes(range(256)) * 10)
    data = pdu(4, body)
    view = f.get_buffer(len(data))
    view[: len(data)] = data
    view.release()
    f.buffer_updated(len(data))
    pdu_type, got = f.next_pdu()
    assert pdu_type == 4 and got == body
    assert got.obj is not None and not got.readonly  # a view of the framer's own buffer
    assert f.next_pdu() is None


@given(st.lists(st.binary(max_size=300), min_size=1, max_size=12), st.data())
@settings(max_examples=150, deadline=None)
def test_any_split_gives_the_same_pdus(bodies: list[bytes], data: st.DataObject) -> None:
    stream = b"".join(pdu(4, pdv(1, 2, b)) for b in bodies)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    f = PDUFramer(4096, buffer_size=1024)  # small buffer: compaction and spill both happen
    got = []
    prev = 0
    for cut in [*cuts, len(stream)]:
        got += f.feed(stream[prev:cut])
        prev = cut
    assert got == [(4, pdv(1, 2, b)) for b in bodies]


def test_pdu_larger_than_the_buffer_is_assembled_on_its_own() -> None:
    f = PDUFramer(0, buffer_size=1024, max_pdu_length=1 << 20)
    big = pdu(1, bytes(5000))  # an A-ASSOCIATE-RQ with a large user identity
    assert f.feed(big[:3000]) == []
    assert f.feed(big[3000:] + RELEASE_RQ) == [(1, bytes(5000)), (5, b"\x00\x00\x00\x00")]


def test_unknown_pdu_type_aborts_with_reason_1() -> None:
    with pytest.raises(RemoteProtocolError, match="unrecognized PDU type 0x09") as err:
        PDUFramer(16384).feed(pdu(9, b""))
    assert (err.value.abort_source, err.value.abort_reason) == (2, 1)


def test_pdata_over_the_negotiated_maximum_aborts() -> None:
    f = PDUFramer(1024)
    with pytest.raises(RemoteProtocolError, match="exceeds the negotiated maximum") as err:
        f.feed(pdu(4, pdv(1, 2, bytes(1100)))[:6])  # refused from the header alone
    assert (err.value.abort_source, err.value.abort_reason) == (2, 6)
    f2 = PDUFramer(0)  # unlimited P-DATA: only the general limit applies
    assert f2.feed(pdu(4, pdv(1, 2, bytes(1100))))


def test_other_pdu_over_the_limit_aborts() -> None:
    with pytest.raises(RemoteProtocolError, match="exceeds the limit"):
        PDUFramer(16384, max_pdu_length=4096).feed(struct.pack(">BBI", 1, 0, 1 << 30))


def test_truncated_pdu_waits() -> None:
    f = PDUFramer(16384)
    assert f.feed(pdu(4, pdv(1, 2, b"abcd"))[:-1]) == []
    assert f.buffered == 15


# --- PDV reassembly -----------------------------------------------------------------


def test_command_then_dataset_fragments() -> None:
    a = PDVAssembler([1, 3])
    cmd = command_set(0x0000)
    events = a.feed(pdv(3, 1, cmd[:10]))
    assert events == [] and a.in_message
    events = a.feed(pdv(3, 3, cmd[10:]) + pdv(3, 0, b"data1"))
    assert events[0] == (COMMAND, 3, cmd, True)
    assert events[1][:2] == (DATA, 3) and bytes(events[1][2]) == b"data1" and events[1][3] is False
    events = a.feed(pdv(3, 2, b"data2"))
    assert events[0][0] == DATA and events[0][3] is True
    assert not a.in_message and a.messages == 1


def test_command_without_dataset_completes_the_message() -> None:
    a = PDVAssembler([1])
    events = a.feed(pdv(1, 3, command_set(0x0101)) + pdv(1, 3, command_set(0x0101)))
    assert [e[:2] for e in events] == [(COMMAND, 1), (COMMAND, 1)]
    assert [e[3] for e in events] == [False, False] and a.messages == 2


def test_dataset_fragments_are_views() -> None:
    a = PDVAssembler([1])
    body = pdv(1, 3, command_set(0)) + pdv(1, 2, b"x" * 100)
    view = memoryview(bytearray(body))
    events = a.feed(view)
    assert events[1][2].obj is view.obj  # no copy of dataset bytes


@pytest.mark.parametrize(
    ("body", "message", "reason"),
    [
        (pdv(5, 3, command_set(0)), "context 5, which was not accepted", 5),
        (pdv(1, 2, b"data"), "dataset fragment before its command", 5),
        (pdv(1, 3, command_set(0)) + pdv(3, 2, b"data"), "context changed from 1 to 3", 5),
        (pdv(1, 3, command_set(0)) + pdv(1, 1, b"cmd"), "command fragment while a dataset", 5),
        (pdv(1, 0x13, b"x"), "reserved bits", 6),
        (struct.pack(">IBB", 1, 1, 3), "PDV item length 1 is invalid", 6),
        (struct.pack(">IBB", 50, 1, 3) + b"short", "PDV item length 50 is invalid", 6),
        (b"\x00\x00\x00", "truncated PDV item header", 6),
        (b"", "without PDV items", 6),
    ],
    ids=[
        "unaccepted-context",
        "data-before-command",
        "context-switch",
        "command-inside-dataset",
        "reserved-bits",
        "item-too-short",
        "item-too-long",
        "truncated-header",
        "empty",
    ],
)
def test_bad_pdvs_abort(body: bytes, message: str, reason: int) -> None:
    a = PDVAssembler([1, 3])
    with pytest.raises(RemoteProtocolError, match=message) as err:
        a.feed(body)
    assert (err.value.abort_source, err.value.abort_reason) == (2, reason)


@given(st.binary(max_size=200))
@settings(max_examples=300, deadline=None)
def test_garbage_is_refused_cleanly(data: bytes) -> None:
    with contextlib.suppress(RemoteProtocolError):
        PDVAssembler([1, 3, 5]).feed(data)
    with contextlib.suppress(RemoteProtocolError):
        PDUFramer(64, buffer_size=256, max_pdu_length=512).feed(data)

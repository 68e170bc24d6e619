"""The pump (``_pdu.pump_dataset``) against the framer and assembler it stands in for.

:func:`pump_vs_feed` sends a byte stream through a socket pair into the pump
(a data set expected on context 1, as after its command), then compares what
it did with what :meth:`PDUFramer.feed` and :meth:`PDVAssembler.feed` make of
the same stream:

- the pump consumed whole PDUs, a prefix of the framer's;
- the bytes it wrote are the data fragments the assembler gives for that
  prefix, in order, and the prefix holds nothing else (no command fragment,
  no error);
- it stopped at the last fragment (``PUMP_LAST``), at a PDU the assembler
  path must handle (``PUMP_YIELD``), or at the end of the stream (``PUMP_CLOSED``);
- the framer then gives the rest of the PDUs, unchanged, and both assemblers
  are in the same state.

Used by the property test and the atheris harness.
"""

from __future__ import annotations

import os
import socket

from storecore._ext._pdu import (
    COMMAND,
    DATA,
    PUMP_CLOSED,
    PUMP_LAST,
    PUMP_YIELD,
    PDUFramer,
    PDVAssembler,
    pump_dataset,
)
from storecore.errors import StorecoreError

#: a command set (Implicit VR LE) saying a data set follows: Command Data Set Type 0x0000
COMMAND_SET = bytes.fromhex("0008000002000000" "0000")


def command_pdu(context: int = 1) -> bytes:
    item = bytes([context, 0x03]) + COMMAND_SET
    body = len(item).to_bytes(4, "big") + item
    return b"\x04\x00" + len(body).to_bytes(4, "big") + body


def _assembler() -> PDVAssembler:
    assembler = PDVAssembler([1, 3])
    events = assembler.feed(memoryview(command_pdu())[6:])
    assert events[0][0] == COMMAND and events[0][3] is True  # a data set is expected
    return assembler


def _framer() -> PDUFramer:
    return PDUFramer(16384, buffer_size=40000, max_pdu_length=1 << 16)


def _reference(stream: bytes) -> tuple[list[tuple[int, bytes]], bool]:
    """The PDUs of `stream` before any framing error, and whether one came."""
    return _reference_from(_framer(), stream)


def _reference_from(framer: PDUFramer, stream: bytes) -> tuple[list[tuple[int, bytes]], bool]:
    pdus: list[tuple[int, bytes]] = []
    view = memoryview(stream)
    try:
        while True:
            while (pdu := framer.next_pdu()) is not None:  # each PDU before an error counts
                pdus.append((pdu[0], bytes(pdu[1])))
            if not view:
                return pdus, False
            room = framer.get_buffer(len(view))
            n = min(len(room), len(view))
            room[:n] = view[:n]
            room.release()
            framer.buffer_updated(n)
            view = view[n:]
    except StorecoreError:
        return pdus, True


def pump_vs_feed(stream: bytes) -> tuple[int, bytes]:
    """Check the pump on `stream` (see the module's docstring); return its outcome and output."""
    reference, _ = _reference(stream)
    framer, assembler = _framer(), _assembler()
    ours, theirs = socket.socketpair()
    out = os.memfd_create("pump")
    try:
        theirs.sendall(stream)  # the pair's buffers hold far more than the harness sends
        theirs.shutdown(socket.SHUT_WR)
        outcome, nbytes, write_errno, recv_errno = pump_dataset(
            framer, assembler, ours.fileno(), out, None
        )
        assert write_errno == 0 and recv_errno == 0
        assert outcome in (PUMP_LAST, PUMP_YIELD, PUMP_CLOSED), outcome
        written = os.pread(out, nbytes + 1, 0)
        assert len(written) == nbytes
        # the rest: what the framer holds, then what the socket still has
        leftover = b""
        while chunk := ours.recv(65536):
            leftover += chunk
        rest: list[tuple[int, bytes]] = []
        try:
            while (pdu := framer.next_pdu()) is not None:
                rest.append((pdu[0], bytes(pdu[1])))
            if leftover:
                more, _ = _reference_from(framer, leftover)
                rest += more
        except StorecoreError:
            pass
        consumed = len(reference) - len(rest)
        assert consumed >= 0 and rest == reference[consumed:], "the pump skipped or split a PDU"
        # the assembler path over the consumed PDUs: data fragments only, the same bytes
        check = _assembler()
        fragments: list[bytes] = []
        last = False
        for pdu_type, body in reference[:consumed]:
            assert pdu_type == 4 and not last
            for kind, context, fragment, flag in check.feed(body):
                assert kind == DATA and context == 1
                fragments.append(bytes(fragment))
                last = flag
        assert b"".join(fragments) == written, "the pump wrote other bytes than the PDVs'"
        assert (outcome == PUMP_LAST) == last
        assert check.in_message == assembler.in_message
        assert check.messages == assembler.messages
        if outcome == PUMP_YIELD and rest:
            # the PDU it left is one the pump may not take: feed() takes it or refuses it
            pdu_type, body = rest[0]
            if pdu_type == 4:
                try:
                    events = check.feed(body)
                    assert any(kind != DATA for kind, *_ in events) or len(body) > 40000 - 6
                except StorecoreError:
                    pass
        return outcome, written
    finally:
        ours.close()
        theirs.close()
        os.close(out)

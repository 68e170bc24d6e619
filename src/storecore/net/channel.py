"""One association over one TCP connection: blocking sockets, zero-copy both ways.

Why threads and blocking sockets rather than asyncio: storage is blocking work
(file writes, fsync, renames) that an event loop would have to push to a
thread pool anyway, and a thread blocked in ``recv_into`` or ``write`` releases
the GIL. Each association gets a thread that receives straight into the C
framer's buffer (``recv_into``), hands dataset fragments to the sink as views,
and sends each P-DATA-TF with one ``sendmsg`` of its header and a view of the
payload. Back-pressure is free: while the sink writes, the thread does not
read, the kernel's receive window fills and the peer's sends wait.

The P-DATA-TF path bypasses the sans-IO Association's own PDU decoding (which
builds PDV objects): PS3.8 Table 9-10 allows P-DATA only in Sta6 and Sta7 for
a received one (DT-2, AR-6) and in Sta6 and Sta8 for a sent one (DT-1, AR-7);
outside those states the PDU goes through the Association, whose state machine
answers it (A-ABORT). Every other PDU always goes through the Association.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from storecore._ext._pdu import COMMAND, DATA, PDUFramer, PDVAssembler
from storecore._typing import Buffer
from storecore.dimse import encode_command, fragment
from storecore.dimse.messages import Message
from storecore.errors import RemoteProtocolError, StorecoreError
from storecore.ul import (
    NEED_DATA,
    Abort,
    Association,
    ConnectionClosed,
)
from storecore.ul.fsm import State
from storecore.ul.pdu import A_ABORT, encode_pdu

__all__ = ["Channel", "CommandReceived", "DataReceived", "Timeouts", "TransportClosed"]

log = logging.getLogger(__name__)

_P_DATA_TF = 4
_RECEIVE_PDATA_STATES = (State.Sta6, State.Sta7)
_SEND_PDATA_STATES = (State.Sta6, State.Sta8)


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds to wait, as dcmtk names them (``-ta``, ``-td``, ``-to``).

    Attributes
    ----------
    acse : float
        For association set-up and release (the ARTIM timer, PS3.8 9.1.5).
    dimse : float
        For the next message once associated (e.g. a C-STORE-RSP).
    network : float
        To connect.
    """

    acse: float = 30.0
    dimse: float = 60.0
    network: float = 30.0


@dataclass(frozen=True, slots=True)
class CommandReceived:
    """A whole command set arrived on a presentation context."""

    context_id: int
    command: bytes
    has_dataset: bool


@dataclass(frozen=True, slots=True)
class DataReceived:
    """A dataset fragment: a view valid only until the next event is asked for."""

    context_id: int
    data: memoryview
    last: bool


class TransportClosed(StorecoreError):
    """The connection ended (peer closed, timeout, or we aborted)."""


def nodelay(sock: socket.socket) -> None:
    """Disable Nagle: a small PDU must not wait for the previous one's ACK."""
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class Channel:
    """A socket, its framer and PDV assembler, and the sans-IO association on it.

    Parameters
    ----------
    sock : socket.socket
        Connected, blocking (a timeout is set per wait).
    association : Association
        The protocol machine (requestor or acceptor).
    timeouts : Timeouts
        How long each wait may take.
    """

    def __init__(self, sock: socket.socket, association: Association, timeouts: Timeouts) -> None:
        self.sock = sock
        self.association = association
        self.timeouts = timeouts
        self.framer = PDUFramer(
            association.max_receive_pdu_length,
            max_pdu_length=association.limits.max_pdu_length,
        )
        self.assembler = PDVAssembler()
        self.closed = False
        self._contexts_set = False
        self._timeout: float | None = None
        self._can_sendmsg = not isinstance(sock, ssl.SSLSocket) and hasattr(sock, "sendmsg")
        self.bytes_sent = 0
        nodelay(sock)

    # ------------------------------------------------------------------ sending

    def send_bytes(self, data: bytes) -> None:
        """Write bytes the Association produced (A-ASSOCIATE, A-RELEASE, A-ABORT)."""
        if data:
            self.sock.sendall(data)
            self.bytes_sent += len(data)

    def _send_pdus(self, pieces: Iterable[tuple[bytes, memoryview]]) -> None:
        for header, payload in pieces:
            if self._can_sendmsg:
                self._sendmsg(header, payload)
            else:  # TLS has no sendmsg: one copy, still one write per PDU
                self.sock.sendall(header + bytes(payload))
            self.bytes_sent += len(header) + len(payload)

    def _sendmsg(self, header: bytes, payload: memoryview) -> None:
        sent = self.sock.sendmsg([header, payload])
        total = len(header) + len(payload)
        while sent < total:  # a partial write: send the rest, which is rare
            if sent < len(header):
                sent += self.sock.sendmsg([header[sent:], payload])
            else:
                self.sock.sendall(payload[sent - len(header) :])
                sent = total

    def send_message(
        self, context_id: int, message: Message, dataset: Buffer | None = None
    ) -> None:
        """Send a DIMSE message: its command set, then its dataset, as P-DATA-TF PDUs.

        Raises
        ------
        TransportClosed
            The association cannot carry data now (released, aborted).
        """
        self.send_command(context_id, encode_command(message))
        if dataset is not None:
            peer_max = self.association.max_send_pdu_length
            self._send_pdus(fragment(context_id, dataset, peer_max, command=False))

    def send_command(self, context_id: int, command: Buffer) -> None:
        """Send an encoded command set (e.g. :func:`~storecore.dimse.encode_c_store_rsp`'s).

        The whole message when no data set follows; :meth:`send_message` sends
        its dataset after it.

        Raises
        ------
        TransportClosed
            The association cannot carry data now (released, aborted).
        """
        state = self.association.state
        if state not in _SEND_PDATA_STATES:
            raise TransportClosed(f"cannot send a message in {state.name}")
        peer_max = self.association.max_send_pdu_length
        self._send_pdus(fragment(context_id, command, peer_max, command=True))

    # ---------------------------------------------------------------- receiving

    def events(self) -> Iterator[object]:
        """What the peer sends: UL events, :class:`CommandReceived`, :class:`DataReceived`.

        Ends with :class:`ConnectionClosed` (after which the generator returns).
        A protocol error from the peer is answered with the A-ABORT the state
        machine chose, then reported as :class:`Abort` and ConnectionClosed.
        """
        framer = self.framer
        assoc = self.association
        while True:
            try:
                pdu = framer.next_pdu()
            except RemoteProtocolError as exc:  # unknown PDU type, or over the maximum
                yield from self._abort_for(exc)
                return
            if pdu is None:
                if not self._receive():
                    assoc.receive_data(b"")
                    yield from self._drain()
                    return
                continue
            pdu_type, body = pdu
            if pdu_type == _P_DATA_TF and assoc.state in _RECEIVE_PDATA_STATES:
                if not self._contexts_set:
                    self.assembler.set_contexts(assoc.contexts)
                    self._contexts_set = True
                try:
                    items = self.assembler.feed(body)
                except RemoteProtocolError as exc:
                    yield from self._abort_for(exc)
                    return
                for kind, context_id, payload, flag in items:
                    if kind == COMMAND:
                        yield CommandReceived(context_id, bytes(payload), flag)
                    elif kind == DATA:
                        yield DataReceived(context_id, memoryview(payload), flag)
                continue
            try:
                assoc.receive_pdu(pdu_type, body)
                events = list(self._drain())
            except RemoteProtocolError as exc:
                yield from self._abort_for(exc)
                return
            for event in events:
                yield event
                if isinstance(event, ConnectionClosed):
                    return

    def _drain(self) -> Iterator[object]:
        assoc = self.association
        while True:
            try:
                event = assoc.next_event()
            finally:
                self.send_bytes(assoc.data_to_send())
            if event is NEED_DATA:
                return
            if isinstance(event, ConnectionClosed) or assoc.close_requested:
                self.close()
            yield event
            if isinstance(event, ConnectionClosed):
                return

    def _abort_for(self, exc: RemoteProtocolError) -> Iterator[object]:
        log.warning("aborting the association: %s", exc)
        data = self.association.data_to_send()
        if not data and self.association.state not in (State.Sta1, State.Sta13):
            # the fast path found it: the machine has not answered yet
            data = encode_pdu(A_ABORT(source=exc.abort_source, reason=exc.abort_reason))
        with contextlib.suppress(OSError):
            self.send_bytes(data)
        self.close()
        yield Abort(exc.abort_source, exc.abort_reason)
        yield ConnectionClosed()

    def _receive(self) -> bool:
        """Receive into the framer's buffer; False at the end of the stream."""
        assoc = self.association
        timeout = self.timeouts.dimse if assoc.state is State.Sta6 else self.timeouts.acse
        if timeout != self._timeout:  # a settimeout per receive would cost a poll() each
            self.sock.settimeout(timeout)
            self._timeout = timeout
        buf = self.framer.get_buffer(256 * 1024)
        try:
            n = self.sock.recv_into(buf)
        except TimeoutError:
            log.warning("no data from the peer for %.0f s: aborting", timeout)
            self.abort()
            return False
        except OSError as exc:
            log.info("connection lost: %s", exc)
            self.close()
            return False
        finally:
            buf.release()
        if n == 0:
            return False
        self.framer.buffer_updated(n)
        return True

    def abort(self) -> None:
        """Send A-ABORT (service-user) and close."""
        try:
            if self.association.state not in (State.Sta1, State.Sta13):
                self.send_bytes(self.association.send(Abort(0, 0)))
        except (StorecoreError, OSError):
            pass
        self.close()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_RDWR)
            self.sock.close()

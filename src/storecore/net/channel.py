"""One association over one TCP connection: blocking sockets, zero-copy both ways.

Why threads and blocking sockets rather than asyncio: storage is blocking work
(file writes, fsync, renames) that an event loop would have to push to a
thread pool anyway, and a thread blocked in ``recv_into`` or ``write`` releases
the GIL. Each association gets a thread that receives straight into the C
framer's buffer (``recv_into``), hands dataset fragments to the sink as views,
and sends each P-DATA-TF with one ``sendmsg`` of its header and a view of the
payload, or, for a file's data set sent unchanged, its header then the payload
straight from the page cache (``os.sendfile``: no copy through user space, no
map of the file). Back-pressure is free: while the sink writes, the thread does
not read, the kernel's receive window fills and the peer's sends wait.

A plain TCP socket stays in blocking mode and its time-outs are the kernel's
(``SO_RCVTIMEO``, ``SO_SNDTIMEO``): CPython polls before every call on a socket
with a time-out of its own, one more system call per receive and per send, and
``os.sendfile`` needs a blocking descriptor. TLS sockets keep Python's
time-outs (the ssl module's reads and writes need them).

A data set whose sink keeps it as received in a file (the plain directory
sink) takes a faster path still: the receiver names the file (:attr:`Channel.direct`)
and the channel hands the socket, the framer, the assembler and the file to
:func:`~storecore._ext._pdu.pump_dataset`, which receives the P-DATA-TF PDUs and
writes their data PDVs in C, without the GIL, until the last fragment or
anything else (another PDU, a command, a PDV the assembler would refuse), which
it leaves to the path below: per instance, one Python event instead of one per
PDU and per ``recv``.

The P-DATA-TF path bypasses the sans-IO Association's own PDU decoding (which
builds PDV objects): PS3.8 Table 9-10 allows P-DATA only in Sta6 and Sta7 for
a received one (DT-2, AR-6) and in Sta6 and Sta8 for a sent one (DT-1, AR-7);
outside those states the PDU goes through the Association, whose state machine
answers it (A-ABORT). Every other PDU always goes through the Association.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import ssl
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from storecore._ext._pdu import (
    COMMAND,
    DATA,
    PUMP_CLOSED,
    PUMP_LAST,
    PUMP_TIMEOUT,
    PUMP_YIELD,
    PDUFramer,
    PDVAssembler,
    pump_dataset,
)
from storecore._ext._scanner import Scanner as CScanner
from storecore._typing import Buffer
from storecore.dimse import encode_command, fragment
from storecore.dimse.messages import Message
from storecore.dimse.pdv import pdv_headers
from storecore.errors import RemoteProtocolError, StorecoreError
from storecore.ul import (
    NEED_DATA,
    Abort,
    Association,
    ConnectionClosed,
)
from storecore.ul.fsm import State
from storecore.ul.pdu import A_ABORT, encode_pdu

__all__ = [
    "Channel",
    "CommandReceived",
    "DataPumped",
    "DataReceived",
    "DirectTarget",
    "Timeouts",
    "TransportClosed",
]

log = logging.getLogger(__name__)

_P_DATA_TF = 4
_RECEIVE_PDATA_STATES = (State.Sta6, State.Sta7)
_SEND_PDATA_STATES = (State.Sta6, State.Sta8)
_MSG_MORE = getattr(socket, "MSG_MORE", 0)  # Linux: hold a PDU's header for its payload
_TIMEVAL = struct.Struct("@ll")  # struct timeval, for SO_RCVTIMEO and SO_SNDTIMEO


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


@dataclass(frozen=True, slots=True)
class DirectTarget:
    """Where the data set now arriving goes on the fast path (:attr:`Channel.direct`).

    Attributes
    ----------
    context_id : int
        The message's presentation context.
    fd : int
        The file its bytes are written to, at its position.
    scanner : storecore._ext._scanner.Scanner or None
        The scanner's C core that checks them on the way (its errors surface
        at its ``close``).
    """

    context_id: int
    fd: int
    scanner: CScanner | None


@dataclass(frozen=True, slots=True)
class DataPumped:
    """`nbytes` of the data set were written to the :class:`DirectTarget` by the channel."""

    context_id: int
    nbytes: int
    last: bool
    #: errno of the first failed write (the rest was consumed, not written); 0: none
    write_errno: int


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
        plain = not isinstance(sock, ssl.SSLSocket)
        self._can_sendmsg = plain and hasattr(sock, "sendmsg")
        # blocking, with the kernel's time-outs (see the module's docstring)
        self._kernel_timeouts = plain and hasattr(socket, "SO_RCVTIMEO")
        #: Whether :meth:`send_file_dataset` can be used (a plain socket, on Linux).
        self.can_sendfile = self._kernel_timeouts and hasattr(os, "sendfile") and bool(_MSG_MORE)
        #: Whether :attr:`direct` is honoured: a plain blocking socket, whose
        #: receive time-out is the kernel's, so C can receive from it.
        self.can_pump = self._kernel_timeouts
        #: Set by the receiver of a data set that goes into a file as received:
        #: :meth:`events` then writes its P-DATA-TF PDUs there itself
        #: (:func:`~storecore._ext._pdu.pump_dataset`, no Python per PDU) and
        #: reports :class:`DataPumped`; cleared when its last fragment is written.
        self.direct: DirectTarget | None = None
        self.bytes_sent = 0
        nodelay(sock)
        if self._kernel_timeouts:
            sock.settimeout(None)
        self._set_timeout(timeouts.acse)  # until the first receive chooses

    # ------------------------------------------------------------------ sending

    def send_bytes(self, data: bytes) -> None:
        """Write bytes the Association produced (A-ASSOCIATE, A-RELEASE, A-ABORT)."""
        if data:
            self.sock.sendall(data)
            self.bytes_sent += len(data)

    def _send_pdus(self, pieces: Iterable[tuple[bytes, memoryview]], flags: int = 0) -> None:
        for header, payload in pieces:
            if self._can_sendmsg:
                self._sendmsg(header, payload, flags)
            else:  # TLS has no sendmsg: one copy, still one write per PDU
                self.sock.sendall(header + bytes(payload))
            self.bytes_sent += len(header) + len(payload)

    def _sendmsg(self, header: bytes, payload: memoryview, flags: int = 0) -> None:
        sent = self.sock.sendmsg([header, payload], (), flags)
        total = len(header) + len(payload)
        while sent < total:  # a partial write: send the rest, which is rare
            if sent < len(header):
                sent += self.sock.sendmsg([header[sent:], payload], (), flags)
            else:
                self.sock.sendall(payload[sent - len(header) :], flags)
                sent = total

    def send_file_dataset(self, context_id: int, fd: int, offset: int, length: int) -> None:
        """Send `length` bytes of the open file `fd` from `offset` as a data set's PDUs.

        Each P-DATA-TF's 12 header bytes go with ``MSG_MORE`` (held for the
        payload, so that header and payload still leave as one segment), then
        its payload with ``os.sendfile``, from the page cache: no user-space
        copy and no map of the file. The last piece of each PDU is sent
        without "more", so that the last PDU is pushed at once (TCP_NODELAY).
        Only when :attr:`can_sendfile`; call it right after :meth:`send_command`
        of a message whose data set this is.

        Raises
        ------
        TransportClosed
            The file ended before `length` bytes (it changed since it was
            read): the PDUs already announced cannot be completed, so the
            association is aborted.
        OSError
            From the socket or the file.

        References
        ----------
        PS3.8 Section 9.3.5 and Annex E.2.
        """
        sock = self.sock
        out = sock.fileno()
        peer_max = self.association.max_send_pdu_length
        for header, start, size in pdv_headers(context_id, length, peer_max, command=False):
            sock.sendall(header, _MSG_MORE if size else 0)  # an empty PDV: nothing to wait for
            position = offset + start
            end = position + size
            while position < end:
                n = os.sendfile(out, fd, position, end - position)
                if n == 0:
                    self.abort()
                    raise TransportClosed(
                        f"the file ended at byte {position}, before the {offset + length} "
                        "its data set was read to end at"
                    )
                position += n
            self.bytes_sent += len(header) + size

    def send_message(
        self, context_id: int, message: Message, dataset: Buffer | None = None
    ) -> None:
        """Send a DIMSE message: its command set, then its dataset, as P-DATA-TF PDUs.

        Raises
        ------
        TransportClosed
            The association cannot carry data now (released, aborted).
        """
        self.send_command(context_id, encode_command(message), more=dataset is not None)
        if dataset is not None:
            peer_max = self.association.max_send_pdu_length
            self._send_pdus(fragment(context_id, dataset, peer_max, command=False))

    def send_command(self, context_id: int, command: Buffer, *, more: bool = False) -> None:
        """Send an encoded command set (e.g. :func:`~storecore.dimse.encode_c_store_rsp`'s).

        The whole message when no data set follows; :meth:`send_message` sends
        its dataset after it. With `more` (a data set follows at once) the
        command's last bytes are held to leave with the data set's first
        (``MSG_MORE``): one segment and one wake-up of the peer fewer.

        Raises
        ------
        TransportClosed
            The association cannot carry data now (released, aborted).
        """
        state = self.association.state
        if state not in _SEND_PDATA_STATES:
            raise TransportClosed(f"cannot send a message in {state.name}")
        peer_max = self.association.max_send_pdu_length
        flags = _MSG_MORE if more else 0
        self._send_pdus(fragment(context_id, command, peer_max, command=True), flags)

    # ---------------------------------------------------------------- receiving

    def events(self) -> Iterator[object]:
        """What the peer sends: UL events, :class:`CommandReceived`, :class:`DataReceived`.

        Ends with :class:`ConnectionClosed` (after which the generator returns).
        A protocol error from the peer is answered with the A-ABORT the state
        machine chose, then reported as :class:`Abort` and ConnectionClosed.
        """
        framer = self.framer
        assoc = self.association
        paused = False  # the pump left the next PDU to this path
        while True:
            direct = self.direct
            if direct is not None and not paused and assoc.state in _RECEIVE_PDATA_STATES:
                self._timeout_for_state()
                outcome, nbytes, write_errno, recv_errno = pump_dataset(
                    framer, self.assembler, self.sock.fileno(), direct.fd, direct.scanner
                )
                last = outcome == PUMP_LAST
                if last:
                    self.direct = None
                if nbytes or last:
                    yield DataPumped(direct.context_id, nbytes, last, write_errno)
                if outcome == PUMP_LAST:
                    continue
                if outcome == PUMP_YIELD:
                    paused = True
                else:
                    if outcome == PUMP_TIMEOUT:
                        log.warning("no data from the peer for %.0f s: aborting", self._timeout)
                        self.abort()
                    elif outcome != PUMP_CLOSED:
                        log.info("connection lost: %s", os.strerror(recv_errno))
                        self.close()
                    assoc.receive_data(b"")
                    yield from self._drain()
                    return
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
            paused = False
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

    def _timeout_for_state(self) -> float:
        """Set the time-out the association's state asks for; return it."""
        assoc = self.association
        timeout = self.timeouts.dimse if assoc.state is State.Sta6 else self.timeouts.acse
        if timeout != self._timeout:
            self._set_timeout(timeout)
        return timeout

    def _receive(self) -> bool:
        """Receive into the framer's buffer; False at the end of the stream."""
        timeout = self._timeout_for_state()
        buf = self.framer.get_buffer(256 * 1024)
        try:
            n = self.sock.recv_into(buf)
        except (TimeoutError, BlockingIOError):  # Python's time-out, or the kernel's (EAGAIN)
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

    def _set_timeout(self, timeout: float) -> None:
        # set only when it changes: each change is a system call or two
        if self._kernel_timeouts:
            # at least 1 us: a zero timeval means "wait for ever"
            seconds, fraction = divmod(max(timeout, 1e-6), 1.0)
            tv = _TIMEVAL.pack(int(seconds), max(int(fraction * 1e6), 0))
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, tv)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, tv)
        else:
            self.sock.settimeout(timeout)
        self._timeout = timeout

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

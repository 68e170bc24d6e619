"""One association as a sans-IO connection object, in the manner of h11.

The transport feeds received bytes to :meth:`Association.receive_data` (``b""``
when the peer closed), reads what happened from :meth:`Association.next_event`
until it returns :data:`NEED_DATA`, and writes what :meth:`Association.send`
returns for each primitive of the local user. Bytes the machine produces on its
own (an A-ABORT after a malformed PDU, an A-ASSOCIATE-RJ for a protocol version
it does not speak) wait in :meth:`Association.data_to_send`, and are also
prefixed to the next :meth:`Association.send` result, so order is kept.

The state machine of :mod:`storecore.ul.fsm` decides what is legal: a primitive
its table refuses raises :class:`~storecore.errors.LocalProtocolError`; a peer
that breaks the protocol makes :meth:`~Association.next_event` raise
:class:`~storecore.errors.RemoteProtocolError` once the A-ABORT is queued.

Hot path: a received PDU body is copied once, out of the caller's buffer into a
buffer of its own (the caller may reuse its receive buffer); the PDVs of a
P-DATA-TF are memoryview slices of that buffer. A sent P-DATA-TF is copied once,
into the bytes returned.

References
----------
PS3.8 Section 9 (the protocol machine and PDUs); h11's ``Connection`` for the
shape of the API.
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Final, Literal, NoReturn, TypeAlias

from storecore._typing import Buffer
from storecore.errors import LocalProtocolError, RemoteProtocolError
from storecore.limits import DEFAULT_LIMITS, Limits
from storecore.ul.fsm import (
    AcceptTransport,
    CloseTransport,
    ConnectTransport,
    Event,
    Indicate,
    Output,
    Primitive,
    SendPDU,
    StartARTIM,
    State,
    StateMachine,
    StopARTIM,
)
from storecore.ul.negotiation import Policy, accepted_contexts
from storecore.ul.pdu import (
    A_ABORT,
    A_ASSOCIATE_AC,
    A_ASSOCIATE_RJ,
    A_ASSOCIATE_RQ,
    P_DATA_TF,
    PDU,
    PDU_HEADER_LENGTH,
    PDV,
    AbortReason,
    AbortSource,
    PDUType,
    RejectReasonACSE,
    RejectResult,
    RejectSource,
    decode_pdu,
    encode_pdu,
)

__all__ = [
    "NEED_DATA",
    "AssociateRequest",
    "AssociateAccept",
    "AssociateReject",
    "DataTransfer",
    "ReleaseRequest",
    "ReleaseResponse",
    "Abort",
    "ConnectionClosed",
    "AssociationEvent",
    "Association",
]


class _Sentinel(Enum):
    NEED_DATA = "NEED_DATA"


NEED_DATA: Final = _Sentinel.NEED_DATA
"""Returned by :meth:`Association.next_event` when more bytes are needed."""


@dataclass(frozen=True, slots=True)
class AssociateRequest:
    """A-ASSOCIATE request (sent, Evt1) or indication (received, Evt6).

    References
    ----------
    PS3.8 Section 7.1 (A-ASSOCIATE); Table 9-10, Evt1 and Evt6.
    """

    pdu: A_ASSOCIATE_RQ


@dataclass(frozen=True, slots=True)
class AssociateAccept:
    """A-ASSOCIATE response (sent, Evt7) or confirmation (received, Evt3): accepted.

    References
    ----------
    PS3.8 Section 7.1 (A-ASSOCIATE); Table 9-10, Evt3 and Evt7.
    """

    pdu: A_ASSOCIATE_AC


@dataclass(frozen=True, slots=True)
class AssociateReject:
    """A-ASSOCIATE response (sent, Evt8) or confirmation (received, Evt4): rejected.

    References
    ----------
    PS3.8 Section 7.1 (A-ASSOCIATE); Table 9-10, Evt4 and Evt8.
    """

    pdu: A_ASSOCIATE_RJ


@dataclass(frozen=True, slots=True)
class DataTransfer:
    """P-DATA request (sent, Evt9) or indication (received, Evt10): the PDVs of one PDU.

    References
    ----------
    PS3.8 Section 7.6 (P-DATA); Table 9-10, Evt9 and Evt10.
    """

    pdvs: tuple[PDV, ...]


@dataclass(frozen=True, slots=True)
class ReleaseRequest:
    """A-RELEASE request (sent, Evt11) or indication (received, Evt12).

    ``collision`` is set on an indication received after we requested release
    too (Sta9 or Sta10, PS3.8 Section 9.2.3). The requestor then answers at
    once; the acceptor waits for the :class:`ReleaseResponse` before answering.

    References
    ----------
    PS3.8 Section 7.2 (A-RELEASE); Table 9-10, Evt11 and Evt12.
    """

    collision: bool = False


@dataclass(frozen=True, slots=True)
class ReleaseResponse:
    """A-RELEASE response (sent, Evt14) or confirmation (received, Evt13).

    References
    ----------
    PS3.8 Section 7.2 (A-RELEASE); Table 9-10, Evt13 and Evt14.
    """


@dataclass(frozen=True, slots=True)
class Abort:
    """A-ABORT request (sent, Evt15), or A-ABORT / A-P-ABORT indication (received).

    Attributes
    ----------
    source : int
        0 when the peer's user aborted; 2 when a service-provider did (the
        peer's, or ours when the transport closed under an association).
    reason : int
        The A-ABORT reason (PS3.8 Table 9-26); 0 when the source is 0.

    References
    ----------
    PS3.8 Sections 7.3 (A-ABORT) and 7.4 (A-P-ABORT); Table 9-10, Evt15-Evt17.
    """

    source: int = AbortSource.SERVICE_USER
    reason: int = AbortReason.REASON_NOT_SPECIFIED


@dataclass(frozen=True, slots=True)
class ConnectionClosed:
    """The transport connection is closed, by the peer or because the machine closed it.

    References
    ----------
    PS3.8 Table 9-10, Evt17.
    """


AssociationEvent: TypeAlias = (
    AssociateRequest
    | AssociateAccept
    | AssociateReject
    | DataTransfer
    | ReleaseRequest
    | ReleaseResponse
    | Abort
    | ConnectionClosed
)

# The Table 9-10 event of each received PDU type (int keys: looked up per PDU).
_EVENT_OF_PDU: Final[dict[int, Event]] = {
    int(PDUType.A_ASSOCIATE_RQ): Event.Evt6,
    int(PDUType.A_ASSOCIATE_AC): Event.Evt3,
    int(PDUType.A_ASSOCIATE_RJ): Event.Evt4,
    int(PDUType.P_DATA_TF): Event.Evt10,
    int(PDUType.A_RELEASE_RQ): Event.Evt12,
    int(PDUType.A_RELEASE_RP): Event.Evt13,
    int(PDUType.A_ABORT): Event.Evt16,
}
_HEADER: Final = struct.Struct(">BxI")
# What the receive side queues: a PDU (type, body), a framing error, or None for the end
# of the stream.
_Inbound: TypeAlias = tuple[int, Buffer] | RemoteProtocolError | None


class Association:
    """The DICOM Upper Layer of one association, without IO.

    Parameters
    ----------
    role : {"requestor", "acceptor"}
        Which end of the association this is.
    policy : Policy, optional
        What we accept and advertise; :class:`Policy` defaults otherwise.
    limits : Limits
        ``max_pdu_length`` caps every PDU other than P-DATA-TF we buffer;
        ``policy.max_pdu_length`` must not exceed it.
    clock : callable, optional
        Returns the current time in seconds (e.g. the transport's
        ``time.monotonic``), read when the ARTIM timer starts. Without it
        :attr:`artim_deadline` stays None while ARTIM runs.

    Attributes
    ----------
    request : A_ASSOCIATE_RQ or None
        The A-ASSOCIATE-RQ sent or received.
    response : A_ASSOCIATE_AC, A_ASSOCIATE_RJ or None
        Its answer, sent or received.
    contexts : dict of int to (str, str)
        The accepted presentation contexts (see
        :func:`~storecore.ul.negotiation.accepted_contexts`).
    max_send_pdu_length : int
        The peer's Maximum Length: the largest P-DATA-TF variable field we may
        send; 0 for no limit.
    max_receive_pdu_length : int
        The Maximum Length we advertised: a larger P-DATA-TF is refused.
    artim_deadline : float or None
        When the running ARTIM timer expires; call :meth:`check_artim`.
    artim_running : bool
        Whether ARTIM runs.
    close_requested : bool
        The machine closed the transport connection (after a release, an
        abort, a rejection or an ARTIM expiry): close the socket.
    connect_requested : bool
        The machine asked for a transport connection (AE-1).

    References
    ----------
    PS3.8 Section 9.2 (DICOM UL protocol machine) and Section 9.3 (PDUs).
    """

    def __init__(
        self,
        role: Literal["requestor", "acceptor"],
        policy: Policy | None = None,
        *,
        limits: Limits = DEFAULT_LIMITS,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if role not in ("requestor", "acceptor"):
            raise ValueError(f"role must be 'requestor' or 'acceptor', not {role!r}")
        self.role = role
        self.policy = policy if policy is not None else Policy()
        if self.policy.max_pdu_length > limits.max_pdu_length:
            raise ValueError(
                f"policy.max_pdu_length {self.policy.max_pdu_length} exceeds "
                f"limits.max_pdu_length {limits.max_pdu_length}"
            )
        self.limits = limits
        self._clock = clock
        self._machine = StateMachine(role == "requestor", self.policy.artim_timeout)
        self.request: A_ASSOCIATE_RQ | None = None
        self.response: A_ASSOCIATE_AC | A_ASSOCIATE_RJ | None = None
        self.contexts: dict[int, tuple[str, str]] = {}
        self.max_send_pdu_length = 0
        self.max_receive_pdu_length = self.policy.max_pdu_length
        self.artim_deadline: float | None = None
        self.artim_running = False
        self.close_requested = False
        self.connect_requested = False
        self._connected = False
        self._eof_received = False
        self._closed = False  # the transport connection is over, either way
        self._broken = False  # framing is lost: later bytes are not PDUs we can find
        # Receive side: a partial header, or the body being filled.
        self._header = bytearray()
        self._pdu_type = 0
        self._body: bytearray | None = None
        self._filled = 0
        self._inbox: deque[_Inbound] = deque()
        self._events: deque[AssociationEvent] = deque()
        self._outgoing: list[bytes] = []
        self._last_sent: PDU | None = None

    # ------------------------------------------------------------------ state

    @property
    def state(self) -> State:
        """The state of the protocol machine (PS3.8 Table 9-10)."""
        return self._machine.state

    # -------------------------------------------------------------- transport

    def connection_made(self) -> bytes:
        """Tell the machine the transport connection is open.

        For the acceptor this is the Transport Connection Indication (Evt5):
        ARTIM starts until the A-ASSOCIATE-RQ arrives. For the requestor it is
        the Transport Connect Confirmation (Evt2) once the A-ASSOCIATE request
        was sent, and the A-ASSOCIATE-RQ bytes are returned; called earlier, it
        only records the connection and :meth:`send` returns them.

        Returns
        -------
        bytes
            The bytes to write (possibly empty).

        Raises
        ------
        LocalProtocolError
            The connection was already made.

        References
        ----------
        PS3.8 Table 9-10, Evt2 and Evt5.
        """
        if self._connected:
            raise LocalProtocolError("connection_made() was already called")
        self._connected = True
        if self.role == "acceptor":
            self._run(Event.Evt5)
        elif self._machine.state is State.Sta4:
            self._run(Event.Evt2, pdu=self.request)
        return self.data_to_send()

    def receive_data(self, data: Buffer) -> None:
        """Feed bytes received from the peer; ``b""`` means the peer closed.

        A partial header or body is kept until the rest arrives; each PDU body
        is copied once, into a buffer of its own, so the caller may reuse its
        buffer at once. A PDU over the Maximum Length we advertised (P-DATA-TF)
        or over ``limits.max_pdu_length`` (the others) is refused from its
        header, before anything is allocated for it.

        Parameters
        ----------
        data : bytes-like
            The bytes, in any split.

        Raises
        ------
        LocalProtocolError
            Bytes after the end of the stream, or before :meth:`connection_made`.

        References
        ----------
        PS3.8 Section 9.3.1 (PDU framing).
        """
        if self._eof_received:
            raise LocalProtocolError("receive_data() after the end of the stream")
        if not data:
            self._eof_received = True
            self._inbox.append(None)
            return
        if not self._connected:
            raise LocalProtocolError("receive_data() before connection_made()")
        if self._broken or self._closed:
            return  # nothing after a framing error or our own close is read
        view = memoryview(data)
        if view.format != "B" or view.ndim != 1:
            view = view.cast("B")
        pos, end = 0, len(view)
        while pos < end:
            body = self._body
            if body is None:
                header = self._header
                if not header and end - pos >= PDU_HEADER_LENGTH:
                    pdu_type, length = _HEADER.unpack_from(view, pos)
                    pos += PDU_HEADER_LENGTH
                else:
                    take = min(PDU_HEADER_LENGTH - len(header), end - pos)
                    header += view[pos : pos + take]
                    pos += take
                    if len(header) < PDU_HEADER_LENGTH:
                        return
                    pdu_type, length = _HEADER.unpack_from(header, 0)
                    header.clear()
                refusal = self._refuse_header(pdu_type, length)
                if refusal is not None:
                    self._inbox.append(refusal)
                    self._broken = True
                    return
                if end - pos >= length:  # the whole body is here: one copy, to bytes
                    self._inbox.append((pdu_type, view[pos : pos + length].tobytes()))
                    pos += length
                    continue
                self._pdu_type = pdu_type
                self._body = body = bytearray(length)
                self._filled = 0
            take = min(len(body) - self._filled, end - pos)
            body[self._filled : self._filled + take] = view[pos : pos + take]
            self._filled += take
            pos += take
            if self._filled == len(body):
                self._inbox.append((self._pdu_type, body))
                self._body = None

    def receive_pdu(self, pdu_type: int, body: Buffer) -> None:
        """Feed one PDU that a framer already cut (the C framer of the transport).

        The same checks as :meth:`receive_data` apply (type, length); the body
        is used as given, so it must stay valid until :meth:`next_event` has
        returned the events it causes.

        References
        ----------
        PS3.8 Section 9.3.1 (PDU framing).
        """
        if self._eof_received:
            raise LocalProtocolError("receive_pdu() after the end of the stream")
        if not self._connected:
            raise LocalProtocolError("receive_pdu() before connection_made()")
        if self._broken or self._closed:
            return
        refusal = self._refuse_header(pdu_type, len(body))
        if refusal is not None:
            self._inbox.append(refusal)
            self._broken = True
            return
        self._inbox.append((pdu_type, body))

    def _refuse_header(self, pdu_type: int, length: int) -> RemoteProtocolError | None:
        if pdu_type not in _EVENT_OF_PDU:
            return RemoteProtocolError(
                f"unrecognized PDU type 0x{pdu_type:02X}",
                AbortSource.SERVICE_PROVIDER,
                AbortReason.UNRECOGNIZED_PDU,
            )
        if pdu_type == PDUType.P_DATA_TF:
            limit, what = self.max_receive_pdu_length, "the Maximum Length we advertised"
        else:
            limit, what = self.limits.max_pdu_length, "Limits.max_pdu_length"
        if length > limit:
            return RemoteProtocolError(
                f"{PDUType(pdu_type).name} PDU of {length} bytes exceeds {what} ({limit})",
                AbortSource.SERVICE_PROVIDER,
                AbortReason.INVALID_PDU_PARAMETER_VALUE,
            )
        return None

    def check_artim(self, now: float) -> bool:
        """Expire the ARTIM timer if ``now`` is at or past its deadline (Evt18).

        Parameters
        ----------
        now : float
            The current time, on the clock given to the constructor.

        Returns
        -------
        bool
            True if it expired: the machine closed the connection
            (:attr:`close_requested`) and :class:`ConnectionClosed` is queued.

        References
        ----------
        PS3.8 Section 9.1.5 (ARTIM) and Table 9-10, Evt18.
        """
        if not self.artim_running or self.artim_deadline is None or now < self.artim_deadline:
            return False
        self._run(Event.Evt18)
        return True

    # ----------------------------------------------------------------- events

    def next_event(self) -> AssociationEvent | Literal[_Sentinel.NEED_DATA]:
        """The next thing that happened, or :data:`NEED_DATA`.

        After each call, write :meth:`data_to_send` if it is not empty.

        Returns
        -------
        AssociationEvent or NEED_DATA
            An event; :class:`ConnectionClosed` again and again once the
            connection is over.

        Raises
        ------
        RemoteProtocolError
            The peer broke the protocol: a malformed, unexpected or too long
            PDU. The A-ABORT the machine chose is already queued in
            :meth:`data_to_send`, and the exception carries its source and
            reason; the association is in Sta13, awaiting the close.

        References
        ----------
        PS3.8 Table 9-10, Evt3-Evt6, Evt10, Evt12, Evt13, Evt16, Evt17, Evt19.
        """
        while not self._events:
            if self._closed:
                self._inbox.clear()
                return ConnectionClosed()
            if not self._inbox:
                return NEED_DATA
            self._process(self._inbox.popleft())
        return self._events.popleft()

    def data_to_send(self) -> bytes:
        """Take the bytes the machine produced on its own.

        Those are the PDUs that received input made it send: an A-ABORT after a
        malformed or unexpected PDU (AA-1, AA-7, AA-8), an A-ASSOCIATE-RJ for a
        protocol version it does not speak (AE-6).

        Returns
        -------
        bytes
            The bytes to write, possibly empty; taken, so a second call returns
            only what came after.

        References
        ----------
        PS3.8 Tables 9-6 and 9-9.
        """
        if not self._outgoing:
            return b""
        data = self._outgoing[0] if len(self._outgoing) == 1 else b"".join(self._outgoing)
        self._outgoing.clear()
        return data

    def _process(self, item: _Inbound) -> None:
        if item is None:  # the end of the stream
            if self._machine.state is not State.Sta1:
                self._run(Event.Evt17)
            self._close()
            return
        if isinstance(item, RemoteProtocolError):
            self._fail(item)
        pdu_type, body = item
        try:
            pdu = decode_pdu(pdu_type, body, lenient_uid_padding=self.policy.lenient_uid_padding)
            self._check_received(pdu)
        except RemoteProtocolError as exc:
            self._fail(exc)
        event = _EVENT_OF_PDU[pdu_type]
        rejection = None
        if event is Event.Evt6 and isinstance(pdu, A_ASSOCIATE_RQ):
            rejection = self._provider_rejection(pdu)
        state = self._machine.state
        self._run(event, pdu=pdu, rejection=rejection)
        if self._machine.last_action in ("AA-1", "AA-8"):
            # An unexpected PDU (Sta2 answers with AA-1, the others with AA-8).
            sent = self._last_abort
            raise RemoteProtocolError(
                f"unexpected {type(pdu).__name__} in {state.name}",
                sent.source if sent else AbortSource.SERVICE_PROVIDER,
                sent.reason if sent else AbortReason.UNEXPECTED_PDU,
            )

    def _fail(self, exc: RemoteProtocolError) -> NoReturn:
        """Evt19: run the machine on an invalid PDU, then raise what it sent."""
        self._run(Event.Evt19, abort_reason=exc.abort_reason)
        sent = self._last_abort
        if sent is not None:
            exc.abort_source, exc.abort_reason = sent.source, sent.reason
        raise exc

    def _check_received(self, pdu: PDU) -> None:
        """Checks of a received PDU against the association, where Table 9-10 would act on it."""
        state = self._machine.state
        if isinstance(pdu, P_DATA_TF) and state in (State.Sta6, State.Sta7):
            for pdv in pdu.pdvs:
                if pdv.presentation_context_id not in self.contexts:
                    raise RemoteProtocolError(
                        f"PDV on presentation context {pdv.presentation_context_id}, "
                        "which was not accepted",
                        AbortSource.SERVICE_PROVIDER,
                        AbortReason.INVALID_PDU_PARAMETER_VALUE,
                    )
        elif isinstance(pdu, A_ASSOCIATE_AC) and state is State.Sta5 and self.request is not None:
            accepted_contexts(self.request, pdu)  # raises on an answer that does not match

    @staticmethod
    def _provider_rejection(rq: A_ASSOCIATE_RQ) -> A_ASSOCIATE_RJ | None:
        # AE-6: "if A-ASSOCIATE-RQ acceptable by service-provider". What the provider
        # itself checks is the protocol version: bit 0 (PS3.8 Table 9-11).
        if rq.protocol_version & 0x0001:
            return None
        return A_ASSOCIATE_RJ(
            RejectResult.REJECTED_PERMANENT,
            RejectSource.SERVICE_PROVIDER_ACSE,
            RejectReasonACSE.PROTOCOL_VERSION_NOT_SUPPORTED,
        )

    # ---------------------------------------------------------------- sending

    def send(
        self,
        primitive: AssociateRequest
        | AssociateAccept
        | AssociateReject
        | DataTransfer
        | ReleaseRequest
        | ReleaseResponse
        | Abort,
    ) -> bytes:
        """Issue a primitive of the local user and return the bytes to write.

        Parameters
        ----------
        primitive
            :class:`AssociateRequest` (requestor, Evt1), :class:`AssociateAccept`
            or :class:`AssociateReject` (acceptor, Evt7/Evt8),
            :class:`DataTransfer` (Evt9), :class:`ReleaseRequest` (Evt11),
            :class:`ReleaseResponse` (Evt14) or :class:`Abort` (Evt15, always
            sent with the service-user source).

        Returns
        -------
        bytes
            What to write: any bytes still in :meth:`data_to_send`, then this
            primitive's PDU, if it sends one.

        Raises
        ------
        LocalProtocolError
            The primitive is not allowed in this state or role, or does not fit
            the association: a context that was not accepted, a P-DATA-TF over
            the peer's Maximum Length, an answer that does not match the request.

        References
        ----------
        PS3.8 Table 9-10, Evt1, Evt7-Evt9, Evt11, Evt14, Evt15.
        """
        if isinstance(primitive, DataTransfer):
            return self._send_data(primitive)
        if isinstance(primitive, AssociateRequest):
            self._require_role("requestor", primitive)
            advertised = self._check_advertised(primitive.pdu)
            self._run(Event.Evt1, pdu=primitive.pdu)
            self.request = primitive.pdu
            self.max_receive_pdu_length = advertised
            if self._connected:  # the transport is already open: Evt2 at once
                self._run(Event.Evt2, pdu=primitive.pdu)
        elif isinstance(primitive, AssociateAccept):
            self._require_role("acceptor", primitive)
            if self.request is None or self._machine.state is not State.Sta3:
                raise LocalProtocolError("AssociateAccept is only an answer to an AssociateRequest")
            advertised = self._check_advertised(primitive.pdu)
            try:
                contexts = accepted_contexts(self.request, primitive.pdu)
            except RemoteProtocolError as exc:
                raise LocalProtocolError(
                    f"the A-ASSOCIATE-AC does not match the request: {exc}"
                ) from None
            self._run(Event.Evt7, pdu=primitive.pdu)
            self.max_receive_pdu_length = advertised
            self._established(primitive.pdu, contexts, self.request.user_information.maximum_length)
        elif isinstance(primitive, AssociateReject):
            self._require_role("acceptor", primitive)
            self._run(Event.Evt8, pdu=primitive.pdu)
            self.response = primitive.pdu
        elif isinstance(primitive, ReleaseRequest):
            self._run(Event.Evt11)
        elif isinstance(primitive, ReleaseResponse):
            self._run(Event.Evt14)
        elif isinstance(primitive, Abort):
            self._run(Event.Evt15)
        else:
            raise LocalProtocolError(f"{primitive!r} cannot be sent")
        return self.data_to_send()

    def _send_data(self, primitive: DataTransfer) -> bytes:
        contexts = self.contexts
        length = 0
        for pdv in primitive.pdvs:
            if pdv.presentation_context_id not in contexts:
                raise LocalProtocolError(
                    f"presentation context {pdv.presentation_context_id} was not accepted"
                )
            data = pdv.data
            length += 6 + (data.nbytes if isinstance(data, memoryview) else len(data))
        limit = self.max_send_pdu_length
        if limit and length > limit:
            raise LocalProtocolError(
                f"a P-DATA-TF of {length} bytes exceeds the peer's Maximum Length {limit}: "
                "fragment the PDVs (PS3.8 Annex D.1)"
            )
        # DT-1 (Sta6) or AR-7 (Sta8) encode it: the one copy of the fragments, and the
        # bytes returned are that encoding itself unless older bytes wait before it.
        self._run(Event.Evt9, pdu=P_DATA_TF(primitive.pdvs))
        return self.data_to_send()

    def _require_role(self, role: str, primitive: object) -> None:
        if self.role != role:
            raise LocalProtocolError(f"{type(primitive).__name__} is sent by the {role} only")

    def _check_advertised(self, pdu: A_ASSOCIATE_RQ | A_ASSOCIATE_AC) -> int:
        # We never advertise "no limit" (0) nor more than we agreed to buffer.
        advertised = pdu.user_information.maximum_length
        if advertised is None or not 0 < advertised <= self.limits.max_pdu_length:
            raise LocalProtocolError(
                f"the {type(pdu).__name__} must advertise a Maximum Length within "
                f"1..{self.limits.max_pdu_length} (Limits.max_pdu_length), not {advertised}"
            )
        return advertised

    # --------------------------------------------------------------- machine

    @property
    def _last_abort(self) -> A_ABORT | None:
        return self._last_sent if isinstance(self._last_sent, A_ABORT) else None

    def _run(
        self,
        event: Event,
        *,
        pdu: PDU | None = None,
        abort_reason: int = AbortReason.UNEXPECTED_PDU,
        rejection: A_ASSOCIATE_RJ | None = None,
    ) -> None:
        now = self._clock() if self._clock is not None else None
        outputs = self._machine.handle(
            event, pdu=pdu, now=now, abort_reason=abort_reason, rejection=rejection
        )
        self._last_sent = None
        for output in outputs:
            self._carry_out(output)

    def _carry_out(self, output: Output) -> None:
        if isinstance(output, SendPDU):
            self._outgoing.append(encode_pdu(output.pdu))
            self._last_sent = output.pdu
        elif isinstance(output, Indicate):
            self._indicate(output)
        elif isinstance(output, StartARTIM):
            self.artim_running = True
            self.artim_deadline = output.deadline
        elif isinstance(output, StopARTIM):
            self.artim_running = False
            self.artim_deadline = None
        elif isinstance(output, CloseTransport):
            self.close_requested = True
            self._close()
        elif isinstance(output, ConnectTransport):
            self.connect_requested = True
        elif isinstance(output, AcceptTransport):
            pass  # sans-IO: the transport accepted the connection before telling us

    def _indicate(self, output: Indicate) -> None:
        primitive, pdu = output.primitive, output.pdu
        if primitive is Primitive.P_DATA_INDICATION and isinstance(pdu, P_DATA_TF):
            self._events.append(DataTransfer(pdu.pdvs))
        elif primitive is Primitive.A_ASSOCIATE_INDICATION and isinstance(pdu, A_ASSOCIATE_RQ):
            self.request = pdu
            self.max_send_pdu_length = pdu.user_information.maximum_length or 0
            self._events.append(AssociateRequest(pdu))
        elif primitive is Primitive.A_ASSOCIATE_CONFIRMATION_ACCEPT and isinstance(
            pdu, A_ASSOCIATE_AC
        ):
            if self.request is None:  # Sta5 is reached by sending the request only
                raise LocalProtocolError("an A-ASSOCIATE-AC confirmed without a request")
            contexts = accepted_contexts(self.request, pdu)  # checked in _check_received
            self._established(pdu, contexts, pdu.user_information.maximum_length)
            self._events.append(AssociateAccept(pdu))
        elif primitive is Primitive.A_ASSOCIATE_CONFIRMATION_REJECT and isinstance(
            pdu, A_ASSOCIATE_RJ
        ):
            self.response = pdu
            self._events.append(AssociateReject(pdu))
        elif primitive is Primitive.A_RELEASE_INDICATION:
            collision = self._machine.state in (State.Sta9, State.Sta10)
            self._events.append(ReleaseRequest(collision))
        elif primitive is Primitive.A_RELEASE_CONFIRMATION:
            self._events.append(ReleaseResponse())
        elif primitive is Primitive.A_ABORT_INDICATION and isinstance(pdu, A_ABORT):
            self._events.append(Abort(pdu.source, pdu.reason))
        elif primitive is Primitive.A_P_ABORT_INDICATION:
            if self._machine.last_action == "AA-8":
                return  # next_event raises RemoteProtocolError for these
            if isinstance(pdu, A_ABORT):  # AA-3: the peer's provider aborted
                self._events.append(Abort(pdu.source, pdu.reason))
            else:  # AA-4: the transport closed under the association
                self._events.append(Abort(AbortSource.SERVICE_PROVIDER, 0))

    def _established(
        self, ac: A_ASSOCIATE_AC, contexts: dict[int, tuple[str, str]], peer_max: int | None
    ) -> None:
        self.response = ac
        self.contexts = contexts
        self.max_send_pdu_length = peer_max or 0

    def _close(self) -> None:
        if not self._closed:
            self._closed = True
            self._events.append(ConnectionClosed())

"""The Storage SCP facade: C-ECHO and C-STORE into a sink (PS3.4 Annex B).

Wires the pieces: :mod:`storecore.net` (sockets, threads), :mod:`storecore.ul`
(association, negotiation), :mod:`storecore.dimse` (command sets, statuses)
and a :class:`~storecore.storage.StoreSink`. Each C-STORE dataset streams into
the sink as its PDVs arrive; the C-STORE-RSP carries the status the sink
answered once the dataset was complete, so Success is sent only after the sink
kept the instance.

An exception inside a sink becomes a failure status (0xA700 for an OS error,
0x0110 Processing failure otherwise), never an aborted association.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from storecore.dimse import (
    C_ECHO_RQ,
    C_ECHO_RSP,
    C_STORE_RQ,
    C_STORE_RSP,
    CommandSetError,
    decode_command,
    encode_c_store_rsp,
)
from storecore.dimse.messages import (
    N_ACTION_RQ,
    N_ACTION_RSP,
    N_EVENT_REPORT_RQ,
    N_EVENT_REPORT_RSP,
    Message,
)
from storecore.errors import DatasetError, StorecoreError
from storecore.limits import DEFAULT_LIMITS, Limits
from storecore.net.channel import (
    Channel,
    CommandReceived,
    DataPumped,
    DataReceived,
    DirectTarget,
    Timeouts,
)
from storecore.net.server import Server
from storecore.storage.sink import (
    Prepared,
    RefusedHandle,
    StoreHandle,
    StoreRequest,
    StoreResult,
    StoreSink,
)
from storecore.uid import STORAGE_SOP_CLASSES, transfer_syntaxes
from storecore.ul import (
    A_ASSOCIATE_AC,
    A_ASSOCIATE_RJ,
    A_ASSOCIATE_RQ,
    Abort,
    AssociateAccept,
    AssociateReject,
    AssociateRequest,
    Association,
    ConnectionClosed,
    ContextResult,
    Policy,
    RejectReasonPresentation,
    RejectResult,
    RejectSource,
    ReleaseRequest,
    ReleaseResponse,
    negotiate,
)
from storecore.ul.negotiation import VERIFICATION_SOP_CLASS, operations_window

if TYPE_CHECKING:
    from storecore.commitment import CommitmentResult
    from storecore.commitment.service import CommitmentService

__all__ = ["StorageSCP", "AssociationStats", "default_storage_transfer_syntaxes"]

log = logging.getLogger(__name__)

# C-STORE statuses (PS3.4 B.2.3, PS3.7 C.4)
_OUT_OF_RESOURCES = 0xA700
_PROCESSING_FAILURE = 0x0110
_SOP_CLASS_NOT_SUPPORTED = 0x0122
# N-ACTION statuses (PS3.7 C.5)
_NO_SUCH_OBJECT_INSTANCE = 0x0112
_NO_SUCH_ACTION_TYPE = 0x0123
_COMMITMENT_DATASET_LIMIT = 16 << 20  # a Referenced SOP Sequence of ~100,000 items


def default_storage_transfer_syntaxes() -> tuple[str, ...]:
    """What the SCP accepts for storage: every syntax whose dataset it can keep as is.

    Native ones first (Explicit VR LE preferred, as dcmtk's storescp), then
    every encapsulated one: the sink stores the dataset as received, so no
    codec is needed. Referenced-pixel (JPIP) and separate-pixel (SMPTE 2110)
    syntaxes are not offered: their pixel data is not in the dataset.
    """
    first = ("1.2.840.10008.1.2.1", "1.2.840.10008.1.2", "1.2.840.10008.1.2.1.99")
    rest = tuple(
        ts.uid
        for ts in transfer_syntaxes()
        if ts.uid not in first
        and not ts.retired
        and not ts.private
        and (ts.native or ts.pixel_data == "encapsulated")
    )
    return (*first, "1.2.840.10008.1.2.2", *rest)


@dataclass
class AssociationStats:
    """What one association did, for its log line."""

    peer: str
    calling_ae_title: str = ""
    called_ae_title: str = ""
    started: float = field(default_factory=time.monotonic)
    instances: int = 0
    bytes: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    outcome: str = "closed"
    proposed: int = 0  # presentation contexts proposed
    accepted: int = 0  # and accepted
    # instances per (SOP Class UID, Transfer Syntax UID) of the contexts used
    used: dict[tuple[str, str], int] = field(default_factory=dict)

    def contexts(self) -> str:
        """The contexts, for the log line: accepted of proposed, then those used."""
        from storecore.uid import sop_class, transfer_syntax

        def name(sop: str, ts: str) -> str:
            # keywords where the dictionary has them (private UIDs stay UIDs)
            with contextlib.suppress(StorecoreError, KeyError, ValueError):
                sop = sop_class(sop).keyword or sop
            with contextlib.suppress(StorecoreError, KeyError, ValueError):
                ts = transfer_syntax(ts).keyword or ts
            return f"{sop}/{ts}"

        used = ", ".join(f"{name(k, t)} x{n}" for (k, t), n in sorted(self.used.items()))
        return f"contexts {self.accepted} of {self.proposed} accepted" + (
            f", used {used}" if used else ""
        )


class StorageSCP:
    """Receive C-ECHO and C-STORE requests and store each instance into `sink`.

    Parameters
    ----------
    sink : StoreSink
        Where datasets go (e.g. :class:`~storecore.storage.DirectorySink`).
    ae_title : str
        Our AE title; associations calling another are rejected.
    host, port : str, int
        Where to listen (port 0: any free port, see :attr:`address`).
    sop_classes : iterable of str, optional
        The Storage SOP Classes to accept; default every one of PS3.4 Annex B
        known to pydicom's dictionary. Verification is always accepted.
    transfer_syntaxes : iterable of str, optional
        Accepted transfer syntaxes, in our order of preference; default
        :func:`default_storage_transfer_syntaxes`.
    promiscuous : bool
        Also accept SOP classes we do not know (with the same syntaxes).
    calling_ae_titles : iterable of str, optional
        The callers allowed; default anyone.
    max_pdu_length : int
        The Maximum Length we advertise (PS3.8 D.1); default 128 KiB, the
        size at which dcmtk moves data fastest here (ANCHORS.md).
    timeouts : Timeouts
        ACSE, DIMSE and network timeouts.
    ssl_context : ssl.SSLContext, optional
        TLS for every connection.
    reports : callable, optional
        Accept Storage Commitment reports (N-EVENT-REPORT) that an SCP sends on
        an association of its own: called with each result and the sender's AE
        title, then answered Success. What :meth:`StorageSCU.commit` listens with.
    commitment : CommitmentService, optional
        Also provide the Storage Commitment Push Model SOP Class (PS3.4 Annex J)
        as SCP: N-ACTION requests are verified against the service's archive
        and reported (N-EVENT-REPORT) on the requester's association while it
        is open, else on a new one.
    peer_services : mapping of str to collection of str, optional
        Calling AE title -> the services it may request: ``"echo"``
        (Verification), ``"commit"`` (Storage Commitment Push Model) and
        ``"store"`` (every other abstract syntax: the Storage SOP Classes). A
        listed caller's association is accepted, but each proposed context of a
        service it lacks is answered user-rejection (PS3.8 Table 9-18, result
        1): the caller is recognised, so A-ASSOCIATE-RJ's
        calling-AE-title-not-recognized would misstate why, and its other
        contexts stay usable. Callers not listed are not restricted per
        service (`calling_ae_titles` admits them or not).
    async_operations : int
        The requests a peer may have outstanding at once, when it proposes an
        Asynchronous Operations Window (PS3.7 D.3.3.3): they are performed one
        at a time, in order, and answered in order; a pipelining SCU (storecore's
        own) then never waits for a response before sending. 1: the proposal
        is not answered, so one at a time. Default 16.
    max_associations : int, optional
        Associations served at once; a request beyond is answered
        A-ASSOCIATE-RJ rejected-transient, source 3 (service-provider,
        presentation related), reason 2 local-limit-exceeded (PS3.8 Table
        9-21). None: no cap.

    References
    ----------
    PS3.4 Annex B (Storage Service Class); PS3.7 Sections 9.1.1 and 9.3.1.
    """

    def __init__(
        self,
        sink: StoreSink,
        *,
        ae_title: str = "STORECORE",
        host: str = "0.0.0.0",
        port: int = 11112,
        sop_classes: Iterable[str] | None = None,
        transfer_syntaxes: Iterable[str] | None = None,
        promiscuous: bool = False,
        calling_ae_titles: Iterable[str] | None = None,
        max_pdu_length: int = 128 * 1024,
        limits: Limits = DEFAULT_LIMITS,
        timeouts: Timeouts | None = None,
        ssl_context: ssl.SSLContext | None = None,
        commitment: CommitmentService | None = None,
        reports: Callable[[CommitmentResult, str], None] | None = None,
        peer_services: Mapping[str, Collection[str]] | None = None,
        max_associations: int | None = None,
        async_operations: int = 16,
    ) -> None:
        window = operations_window(async_operations)
        if max_associations is not None and max_associations < 1:
            raise ValueError("max_associations must be at least 1 (None: no cap)")
        unknown = {x for v in (peer_services or {}).values() for x in v} - set(SERVICES)
        if unknown:
            raise ValueError(f"unknown services {sorted(unknown)} (known: {', '.join(SERVICES)})")
        self.peer_services = {ae: frozenset(v) for ae, v in (peer_services or {}).items()}
        self.max_associations = max_associations
        self.sink = sink
        self.commitment = commitment
        self.reports = reports
        self.limits = limits
        self.timeouts = timeouts or Timeouts()
        syntaxes = tuple(transfer_syntaxes or default_storage_transfer_syntaxes())
        classes = (
            tuple(sop_classes)
            if sop_classes is not None
            else tuple(c.uid for c in STORAGE_SOP_CLASSES)
        )
        contexts = {uid: syntaxes for uid in classes}
        contexts[VERIFICATION_SOP_CLASS] = ("1.2.840.10008.1.2", "1.2.840.10008.1.2.1")
        roles: dict[str, tuple[bool, bool]] = {}
        if commitment is not None or reports is not None:
            from storecore.commitment import STORAGE_COMMITMENT_PUSH_MODEL

            contexts[STORAGE_COMMITMENT_PUSH_MODEL] = ("1.2.840.10008.1.2.1", "1.2.840.10008.1.2")
            if reports is not None:
                # an SCP reporting on an association of its own proposes the SCP role
                # (PS3.4 J.3.3, PS3.7 D.3.3.4): we accept it, and the SCU role too
                roles[STORAGE_COMMITMENT_PUSH_MODEL] = (True, True)
        self.policy = Policy(
            ae_title=ae_title,
            contexts=contexts,
            promiscuous=promiscuous,
            promiscuous_transfer_syntaxes=syntaxes,
            # the sink keeps any accepted syntax as received, at no cost: take the
            # SCU's first choice (usually the file's own), sparing it a transcode
            prefer_proposed_order=True,
            calling_ae_titles=frozenset(calling_ae_titles) if calling_ae_titles else None,
            max_pdu_length=max_pdu_length,
            artim_timeout=self.timeouts.acse,
            roles=roles,
            asynchronous_operations_window=window,
        )
        self.server = Server(self._handle, host, port, ssl_context=ssl_context)
        self.associations = 0
        self._associated = 0  # accepted and not yet ended, against max_associations
        self._lock = threading.Lock()

    @property
    def address(self) -> tuple[str, int]:
        """Where the SCP listens."""
        return self.server.address

    def start(self) -> StorageSCP:
        """Serve in background threads; returns self."""
        self.server.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until :meth:`shutdown` (from another thread or a signal)."""
        self.server.serve_forever()

    def shutdown(self, drain_timeout: float = 30.0) -> None:
        """Stop accepting and let associations in flight finish (up to `drain_timeout`)."""
        self.server.shutdown(drain_timeout)

    def __enter__(self) -> StorageSCP:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    # ------------------------------------------------------------ one association

    def _handle(self, sock: socket.socket, peer: tuple[str, int]) -> None:
        with self._lock:
            self.associations += 1
        association = Association("acceptor", self.policy, limits=self.limits)
        channel = Channel(sock, association, self.timeouts)
        stats = AssociationStats(peer=f"{peer[0]}:{peer[1]}")
        session = _Session(self, channel, stats)
        try:
            channel.send_bytes(association.connection_made())
            session.run()
        finally:
            if session.admitted:
                with self._lock:
                    self._associated -= 1
            session.cleanup()
            channel.close()
            seconds = time.monotonic() - stats.started
            log.info(
                "association %s %s -> %s: %s, %s; %d instances, %d bytes in %.2f s, statuses %s",
                stats.peer,
                stats.calling_ae_title or "?",
                stats.called_ae_title or "?",
                stats.outcome,
                stats.contexts(),
                stats.instances,
                stats.bytes,
                seconds,
                {f"0x{k:04X}": v for k, v in sorted(stats.statuses.items())} or "-",
            )


class _Session:
    """The DIMSE conversation of one accepted association."""

    def __init__(self, scp: StorageSCP, channel: Channel, stats: AssociationStats) -> None:
        self.scp = scp
        self.channel = channel
        self.stats = stats
        self.association = channel.association
        # the C-STORE whose dataset is arriving: (context, request, handle)
        self.pending: tuple[int, C_STORE_RQ | None, StoreHandle] | None = None
        # commitment reports sent on this association: Message ID -> Transaction UID
        self.reports: dict[int, str] = {}
        self.next_message_id = 1
        self.admitted = False  # counted against the SCP's max_associations
        # the sink's work done ahead of the next C-STORE, while the peer is busy
        # (StoreSink.prepare: e.g. the next file created)
        self._prepare = getattr(scp.sink, "prepare", None)
        self.prepared: Prepared | None = None

    def run(self) -> None:
        for event in self.channel.events():
            if isinstance(event, DataReceived):
                self._data(event)
            elif isinstance(event, DataPumped):
                self._pumped(event)
            elif isinstance(event, CommandReceived):
                self._command(event)
            elif isinstance(event, AssociateRequest):
                self._associate(event)
            elif isinstance(event, ReleaseRequest):
                self._discard_prepared()  # before the peer hears we are done
                try:
                    self.channel.send_bytes(self.association.send(ReleaseResponse()))
                    self.stats.outcome = "released"
                except OSError:
                    # the peer closed without waiting for our A-RELEASE-RP (seen with
                    # Orthanc after an unexpected N-EVENT-REPORT): the session is over
                    self.stats.outcome = "released (peer gone before A-RELEASE-RP)"
                    return
            elif isinstance(event, Abort):
                self.stats.outcome = f"aborted (source {event.source}, reason {event.reason})"
            elif isinstance(event, ConnectionClosed):
                return

    def cleanup(self) -> None:
        """The connection ended: a dataset still arriving is dropped, nothing kept."""
        self.channel.direct = None
        self._discard_prepared()
        service = self.scp.commitment
        if service is not None:
            for uid in self.reports.values():  # unanswered: deliver on a new association
                service.schedule(uid)
            self.reports.clear()
        if self.pending is not None:
            _, request, handle = self.pending
            self.pending = None
            log.warning(
                "association %s ended inside the dataset of %s: discarded",
                self.stats.peer,
                request.AffectedSOPInstanceUID if request else "a refused request",
            )
            try:
                handle.abort()
            except Exception:
                log.exception("the sink failed to discard a partial instance")

    def _associate(self, event: AssociateRequest) -> None:
        rq = event.pdu
        self.stats.calling_ae_title = rq.calling_ae_title
        self.stats.called_ae_title = rq.called_ae_title
        answer: A_ASSOCIATE_AC | A_ASSOCIATE_RJ = negotiate(rq, self.scp.policy)
        if isinstance(answer, A_ASSOCIATE_AC):
            services = self.scp.peer_services.get(rq.calling_ae_title)
            if services is not None:
                answer = _restrict(answer, rq, services)
            answer = self._admit(answer)
        if isinstance(answer, A_ASSOCIATE_AC):
            self.channel.send_bytes(self.association.send(AssociateAccept(answer)))
            self.stats.outcome = "accepted"
            self.stats.proposed = len(rq.presentation_contexts)
            self.stats.accepted = sum(1 for c in answer.presentation_contexts if c.result == 0)
        else:
            self.channel.send_bytes(self.association.send(AssociateReject(answer)))
            self.stats.outcome = f"rejected (result {answer.result}, reason {answer.reason})"
            log.info("association from %s rejected: %s", self.stats.peer, answer)

    def _admit(self, answer: A_ASSOCIATE_AC) -> A_ASSOCIATE_AC | A_ASSOCIATE_RJ:
        """`answer`, or the transient rejection when max_associations are in flight."""
        scp = self.scp
        with scp._lock:
            if scp.max_associations is not None and scp._associated >= scp.max_associations:
                log.warning(
                    "association %s from %s: %d associations in flight, the maximum: rejected "
                    "(transient, local-limit-exceeded)",
                    self.stats.peer,
                    self.stats.calling_ae_title,
                    scp._associated,
                )
                return A_ASSOCIATE_RJ(
                    RejectResult.REJECTED_TRANSIENT,
                    RejectSource.SERVICE_PROVIDER_PRESENTATION,
                    RejectReasonPresentation.LOCAL_LIMIT_EXCEEDED,
                )
            scp._associated += 1
            self.admitted = True
        return answer

    def _send(self, context_id: int, message: Message) -> None:
        self.channel.send_message(context_id, message)

    def _command(self, event: CommandReceived) -> None:
        try:
            message = decode_command(event.command, limits=self.scp.limits)
        except CommandSetError as exc:
            log.warning("association %s: bad command set: %s", self.stats.peer, exc)
            if not exc.can_respond:
                self.channel.abort()
                return
            self._send(event.context_id, exc.response())
            if event.has_dataset:
                self.pending = (event.context_id, None, RefusedHandle(StoreResult(0)))
            return
        except DatasetError as exc:
            log.warning("association %s: undecodable command set: %s", self.stats.peer, exc)
            self.channel.abort()
            return
        if isinstance(message, C_ECHO_RQ):
            self._send(event.context_id, C_ECHO_RSP(MessageIDBeingRespondedTo=message.MessageID))
        elif isinstance(message, C_STORE_RQ):
            handle = self._begin(event.context_id, message)
            self.pending = (event.context_id, message, handle)
            if event.has_dataset:
                self._go_direct(event.context_id, handle)
        elif isinstance(message, N_ACTION_RQ) and self.scp.commitment is not None:
            self._n_action(event, message)
        elif (
            isinstance(message, N_EVENT_REPORT_RQ)
            and self.scp.reports is not None
            and event.has_dataset
        ):
            self.pending = (event.context_id, None, _Report(self, event.context_id, message))
        elif isinstance(message, N_EVENT_REPORT_RSP) and self.scp.commitment is not None:
            uid = self.reports.pop(message.MessageIDBeingRespondedTo, None)
            if uid is not None:
                if message.Status == 0:
                    self.scp.commitment.delivered(uid)
                    log.info("commitment %s reported to %s", uid, self.stats.calling_ae_title)
                else:
                    log.warning(
                        "commitment %s: N-EVENT-REPORT-RSP 0x%04X; retrying on a new association",
                        uid,
                        message.Status,
                    )
                    self.scp.commitment.schedule(uid)
        else:
            # A request this SCP does not provide on this context: refused as an
            # unrecognized operation (PS3.7 C.5.21), whatever its type.
            log.warning("association %s: %s not provided", self.stats.peer, type(message).__name__)
            self.channel.abort()

    # ------------------------------------------------------------ storage commitment

    def _n_action(self, event: CommandReceived, message: N_ACTION_RQ) -> None:
        from storecore.commitment import STORAGE_COMMITMENT_INSTANCE, STORAGE_COMMITMENT_PUSH_MODEL

        abstract, _ = self.association.contexts[event.context_id]
        status = 0
        if (
            abstract != STORAGE_COMMITMENT_PUSH_MODEL
            or message.RequestedSOPClassUID != STORAGE_COMMITMENT_PUSH_MODEL
        ):
            status = _SOP_CLASS_NOT_SUPPORTED
        elif message.RequestedSOPInstanceUID != STORAGE_COMMITMENT_INSTANCE:
            status = _NO_SUCH_OBJECT_INSTANCE
        elif message.ActionTypeID != 1:
            status = _NO_SUCH_ACTION_TYPE
        if status or not event.has_dataset:
            self._send(
                event.context_id,
                N_ACTION_RSP(
                    MessageIDBeingRespondedTo=message.MessageID,
                    Status=status or 0x0120,  # no data set: Missing Attribute
                    ErrorComment=None if status else "the N-ACTION carries no data set",
                ),
            )
            if event.has_dataset:
                self.pending = (event.context_id, None, RefusedHandle(StoreResult(0)))
            return
        self.pending = (event.context_id, None, _CommitmentRequest(self, event.context_id, message))

    def commitment_request(self, context_id: int, message: N_ACTION_RQ, data: bytes) -> None:
        """The N-ACTION's data set arrived: accept, answer, verify, report."""
        from storecore.commitment import (
            STORAGE_COMMITMENT_INSTANCE,
            STORAGE_COMMITMENT_PUSH_MODEL,
            CommitmentError,
            encode_result,
        )

        service = self.scp.commitment
        assert service is not None
        _, ts = self.association.contexts[context_id]
        try:
            request = service.accept(self.stats.calling_ae_title, data, ts)
        except CommitmentError as exc:
            log.warning("association %s: N-ACTION refused: %s", self.stats.peer, exc)
            self._send(
                context_id,
                N_ACTION_RSP(
                    MessageIDBeingRespondedTo=message.MessageID,
                    Status=exc.status,
                    ErrorComment=_short(str(exc)),
                ),
            )
            return
        self._send(
            context_id,
            N_ACTION_RSP(
                MessageIDBeingRespondedTo=message.MessageID,
                Status=0,
                AffectedSOPClassUID=STORAGE_COMMITMENT_PUSH_MODEL,
                AffectedSOPInstanceUID=STORAGE_COMMITMENT_INSTANCE,
                ActionTypeID=1,
            ),
        )
        result = service.verify(request)
        log.info(
            "association %s: commitment %s: %d committed, %d failed",
            self.stats.peer,
            request.transaction_uid,
            len(result.committed),
            len(result.failed),
        )
        if self._peer_is_leaving():
            # PS3.4 J.3.3: the report goes on the same association only while it
            # is open; a requester already releasing gets it on a new one
            service.schedule(request.transaction_uid)
            return
        message_id = self.next_message_id
        self.next_message_id = (message_id % 0xFFFF) + 1
        self.reports[message_id] = request.transaction_uid
        try:
            self.channel.send_message(
                context_id,
                N_EVENT_REPORT_RQ(
                    MessageID=message_id,
                    AffectedSOPClassUID=STORAGE_COMMITMENT_PUSH_MODEL,
                    AffectedSOPInstanceUID=STORAGE_COMMITMENT_INSTANCE,
                    EventTypeID=result.event_type_id,
                ),
                encode_result(result, ts),
            )
        except (OSError, StorecoreError):
            self.reports.pop(message_id, None)
            service.schedule(request.transaction_uid)

    def _peer_is_leaving(self) -> bool:
        """More of the peer's bytes are already here (e.g. its A-RELEASE-RQ)."""
        channel = self.channel
        if channel.framer.buffered:
            return True
        sock = channel.sock
        pending = getattr(sock, "pending", None)  # TLS: decrypted bytes in hand
        if pending is not None and pending():
            return True
        try:
            ready, _, _ = select.select([sock], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(ready)

    def _begin(self, context_id: int, message: C_STORE_RQ) -> StoreHandle:
        abstract, transfer_syntax = self.association.contexts[context_id]
        if message.AffectedSOPClassUID != abstract:
            return RefusedHandle(
                StoreResult(
                    _SOP_CLASS_NOT_SUPPORTED,
                    "Affected SOP Class UID differs from the context's abstract syntax",
                )
            )
        request = StoreRequest(
            sop_class_uid=message.AffectedSOPClassUID,
            sop_instance_uid=message.AffectedSOPInstanceUID,
            transfer_syntax_uid=transfer_syntax,
            calling_ae_title=self.stats.calling_ae_title,
            called_ae_title=self.stats.called_ae_title,
            message_id=message.MessageID,
        )
        prepared, self.prepared = self.prepared, None
        try:
            if prepared is not None:
                return prepared.begin(request)
            return self.scp.sink.begin(request)
        except OSError as exc:
            log.error("sink refused %s: %s", message.AffectedSOPInstanceUID, exc)
            return RefusedHandle(
                StoreResult(_OUT_OF_RESOURCES, _short(f"cannot store: {exc.strerror}"))
            )
        except Exception as exc:
            log.exception("sink failed on %s", message.AffectedSOPInstanceUID)
            return RefusedHandle(StoreResult(_PROCESSING_FAILURE, _short(f"sink failed: {exc}")))

    def _go_direct(self, context_id: int, handle: StoreHandle) -> None:
        """Let the channel write the data set into the handle's file itself, if it offers one."""
        direct = getattr(handle, "direct", None)
        if direct is None or not self.channel.can_pump:
            return
        try:
            target = direct()
        except Exception:
            log.exception("the sink failed to offer its file")
            return
        if target is not None:
            fd, scanner = target
            self.channel.direct = DirectTarget(context_id, fd, scanner)

    def _pumped(self, event: DataPumped) -> None:
        pending = self.pending
        if pending is None:
            return
        context_id, request, handle = pending
        self.stats.bytes += event.nbytes
        if event.write_errno:
            failed = getattr(handle, "direct_failed", None)
            if failed is not None:
                failed(event.write_errno)
            else:  # a sink that offered its file but cannot be told: refuse here
                why = f"cannot write: {os.strerror(event.write_errno)}"
                handle = self._refuse_rest(context_id, request, handle, _OUT_OF_RESOURCES, why)
        if event.last:
            self._complete(context_id, request, handle)

    def _data(self, event: DataReceived) -> None:
        pending = self.pending
        if pending is None:  # the assembler guarantees a command came first
            return
        context_id, request, handle = pending
        self.stats.bytes += len(event.data)
        try:
            handle.write(event.data)
        except Exception as exc:
            log.exception("sink failed writing %s", request and request.AffectedSOPInstanceUID)
            status = _OUT_OF_RESOURCES if isinstance(exc, OSError) else _PROCESSING_FAILURE
            handle = self._refuse_rest(context_id, request, handle, status, f"sink failed: {exc}")
        if event.last:
            self._complete(context_id, request, handle)

    def _refuse_rest(
        self,
        context_id: int,
        request: C_STORE_RQ | None,
        handle: StoreHandle,
        status: int,
        comment: str,
    ) -> StoreHandle:
        """The sink failed mid-data set: drop its part, drain the rest, answer `status`.

        The rest goes through the assembler path into the refusal (never on the
        fast path into the file of the handle just aborted).
        """
        handle.abort()
        refused = RefusedHandle(StoreResult(status, _short(comment)))
        self.pending = (context_id, request, refused)
        self.channel.direct = None
        return refused

    def _complete(
        self, context_id: int, request: C_STORE_RQ | None, handle: StoreHandle
    ) -> None:
        """The data set's last fragment arrived: finish the instance and answer it."""
        self.pending = None
        self.channel.direct = None
        try:
            result = handle.finish()
        except Exception as exc:
            log.exception("sink failed finishing %s", request and request.AffectedSOPInstanceUID)
            handle.abort()
            status = _OUT_OF_RESOURCES if isinstance(exc, OSError) else _PROCESSING_FAILURE
            result = StoreResult(status, _short(f"sink failed: {exc}"))
        if request is None:  # a refused request whose dataset we drained: answered already
            return
        self.stats.instances += 1
        self.stats.statuses[result.status] = self.stats.statuses.get(result.status, 0) + 1
        key = self.association.contexts.get(context_id)
        if key is not None:
            self.stats.used[key] = self.stats.used.get(key, 0) + 1
        if result.status:
            log.warning(
                "association %s: %s stored with status 0x%04X%s",
                self.stats.peer,
                request.AffectedSOPInstanceUID,
                result.status,
                f" ({result.comment})" if result.comment else "",
            )
        comment = result.comment if result.status else None
        if comment is None:
            # the common answer, written without making the message (its
            # fields come from the decoded request and the sink's status)
            self.channel.send_command(context_id, encode_c_store_rsp(request, result.status))
        else:
            self._send(
                context_id,
                C_STORE_RSP(
                    MessageIDBeingRespondedTo=request.MessageID,
                    Status=result.status,
                    AffectedSOPClassUID=request.AffectedSOPClassUID,
                    AffectedSOPInstanceUID=request.AffectedSOPInstanceUID,
                    ErrorComment=comment,
                ),
            )
        self._get_ready()

    def _discard_prepared(self) -> None:
        prepared, self.prepared = self.prepared, None
        if prepared is not None:
            try:
                prepared.discard()
            except Exception:
                log.exception("the sink failed to discard its prepared work")

    def _get_ready(self) -> None:
        """Let the sink prepare the next instance while the peer reads our answer."""
        if self._prepare is None or self.prepared is not None:
            return
        try:
            self.prepared = self._prepare()
        except Exception as exc:  # begin() will meet the same trouble and answer it
            log.debug("the sink could not prepare the next instance: %s", exc)


class _Collected:
    """A handle that collects a (small) DIMSE-N data set in memory, up to a limit."""

    what = "data set"

    def __init__(self, session: _Session, context_id: int) -> None:
        self.session = session
        self.context_id = context_id
        self.data = bytearray()

    def write(self, chunk: memoryview) -> None:
        if len(self.data) + len(chunk) > _COMMITMENT_DATASET_LIMIT:
            raise StorecoreError(f"the {self.what} is over 16 MiB")
        self.data += chunk

    def abort(self) -> None:
        self.data = bytearray()


class _Report(_Collected):
    """Collects a commitment report's data set, hands it on, answers it."""

    what = "N-EVENT-REPORT data set"

    def __init__(self, session: _Session, context_id: int, message: N_EVENT_REPORT_RQ) -> None:
        super().__init__(session, context_id)
        self.message = message

    def finish(self) -> StoreResult:
        from storecore.commitment import CommitmentError, decode_result

        session = self.session
        _, ts = session.association.contexts[self.context_id]
        status = 0
        try:
            result = decode_result(bytes(self.data), ts)
        except CommitmentError as exc:
            log.warning("association %s: bad commitment report: %s", session.stats.peer, exc)
            status = exc.status
        else:
            assert session.scp.reports is not None
            try:
                session.scp.reports(result, session.stats.calling_ae_title)
            except Exception:
                log.exception("the commitment report handler failed")
                status = _PROCESSING_FAILURE
        session._send(
            self.context_id,
            N_EVENT_REPORT_RSP(
                MessageIDBeingRespondedTo=self.message.MessageID,
                Status=status,
                AffectedSOPClassUID=self.message.AffectedSOPClassUID,
                AffectedSOPInstanceUID=self.message.AffectedSOPInstanceUID,
                EventTypeID=self.message.EventTypeID if status == 0 else None,
            ),
        )
        return StoreResult(0)


class _CommitmentRequest(_Collected):
    """Collects an N-ACTION's data set, then hands it to the session."""

    what = "N-ACTION data set"

    def __init__(self, session: _Session, context_id: int, message: N_ACTION_RQ) -> None:
        super().__init__(session, context_id)
        self.message = message

    def finish(self) -> StoreResult:
        self.session.commitment_request(self.context_id, self.message, bytes(self.data))
        return StoreResult(0)


def _service(abstract_syntax: str) -> str:
    """The service (a key of :data:`SERVICES`) a presentation context's abstract syntax is for."""
    from storecore.commitment import STORAGE_COMMITMENT_PUSH_MODEL

    if abstract_syntax == VERIFICATION_SOP_CLASS:
        return "echo"
    if abstract_syntax == STORAGE_COMMITMENT_PUSH_MODEL:
        return "commit"
    return "store"


def _restrict(
    answer: A_ASSOCIATE_AC, rq: A_ASSOCIATE_RQ, services: frozenset[str]
) -> A_ASSOCIATE_AC:
    """`answer` with each accepted context of a service not in `services` turned into
    user-rejection (PS3.8 Table 9-18, result 1: the acceptor's user refuses it)."""
    proposed = {c.context_id: c.abstract_syntax for c in rq.presentation_contexts}
    contexts = []
    refused: dict[str, int] = {}
    for item in answer.presentation_contexts:
        service = _service(proposed[item.context_id])
        if item.result == ContextResult.ACCEPTANCE and service not in services:
            refused[service] = refused.get(service, 0) + 1
            item = replace(item, result=ContextResult.USER_REJECTION)
        contexts.append(item)
    if refused:
        log.info(
            "%s: presentation contexts refused (user-rejection), its roles lack %s",
            rq.calling_ae_title,
            ", ".join(f"{service} ({n})" for service, n in refused.items()),
        )
    return replace(answer, presentation_contexts=tuple(contexts))


#: the services a caller may be allowed (``peer_services``), by what they let it send
SERVICES = {
    "store": "C-STORE on the Storage SOP Classes (and any other abstract syntax)",
    "echo": "C-ECHO on Verification",
    "commit": "N-ACTION on Storage Commitment Push Model",
}


def _short(text: str) -> str:
    return text if len(text) <= 64 else text[:61] + "..."

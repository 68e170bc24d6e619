"""The Storage SCU facade: send Part 10 files to a peer (PS3.4 Annex B, SCU role).

For a batch of files, one association proposes a presentation context for each
SOP Class in the files' own transfer syntaxes plus Explicit and Implicit VR
Little Endian (PS3.2 N.5.2.5.1 asks an SCU to say how it groups instances:
one association per batch, or `associations` in parallel, each with its share).

For each instance, in this order:

1. a context accepted in the file's own syntax: the dataset is streamed from
   the mapped file, never decoded;
2. else, for a native file, a context in another native syntax: the native
   transcoder rewrites it (a :class:`~storecore.transcode.TranscodeRecord`,
   path SUPPORTED, is reported);
3. else the instance fails with a reason naming the syntaxes. Compressed to
   native and back arrives with the transcoding matrix; until then such an
   instance is an explicit failure, never sent changed silently.
"""

from __future__ import annotations

import logging
import mmap
import os
import socket
import ssl
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from storecore.commitment import (
    STORAGE_COMMITMENT_INSTANCE,
    STORAGE_COMMITMENT_PUSH_MODEL,
    CommitmentRequest,
    CommitmentResult,
    Reference,
    decode_result,
    encode_request,
    encode_result,
)
from storecore.dataset import read_file_meta, summarize_file
from storecore.dimse import (
    C_ECHO_RQ,
    C_ECHO_RSP,
    C_STORE_RQ,
    C_STORE_RSP,
    N_ACTION_RQ,
    N_ACTION_RSP,
    N_EVENT_REPORT_RQ,
    N_EVENT_REPORT_RSP,
    decode_command,
    encode_command,
)
from storecore.errors import StorecoreError
from storecore.limits import DEFAULT_LIMITS, Limits
from storecore.net.channel import (
    Channel,
    CommandReceived,
    DataReceived,
    Timeouts,
    TransportClosed,
)
from storecore.transcode import TranscodePath, TranscodeRecord, transcode_dataset
from storecore.transcode.native import NATIVE_CODEC
from storecore.uid import transfer_syntax
from storecore.ul import (
    A_ASSOCIATE_AC,
    AssociateAccept,
    AssociateReject,
    AssociateRequest,
    Association,
    ConnectionClosed,
    Policy,
    ReleaseRequest,
    ReleaseResponse,
    build_request,
)
from storecore.ul.negotiation import VERIFICATION_SOP_CLASS, operations_window

__all__ = ["StorageSCU", "StoreOutcome", "AssociationRejected"]

log = logging.getLogger(__name__)

EXPLICIT_LE = "1.2.840.10008.1.2.1"
IMPLICIT_LE = "1.2.840.10008.1.2"
_MAX_CONTEXTS = 128  # presentation context IDs are odd numbers 1-255 (PS3.8 9.3.2.2)


class AssociationRejected(StorecoreError):
    """The peer rejected the association (A-ASSOCIATE-RJ) or could not be reached."""


@dataclass(frozen=True, slots=True)
class StoreOutcome:
    """What happened to one file.

    Attributes
    ----------
    path : Path
    sop_instance_uid : str or None
    status : int or None
        The peer's C-STORE-RSP status; None if the instance was not sent.
    comment : str or None
        The peer's Error Comment, or why the instance was not sent.
    transfer_syntax_uid : str or None
        The syntax it was sent in.
    transcode : TranscodeRecord or None
        Set when the dataset was rewritten into another syntax.
    """

    path: Path
    sop_instance_uid: str | None
    status: int | None
    comment: str | None = None
    transfer_syntax_uid: str | None = None
    transcode: TranscodeRecord | None = None
    sop_class_uid: str | None = None

    @property
    def ok(self) -> bool:
        """Success or a warning (PS3.4 B.2.3: 0x0000, 0xB000, 0xB006, 0xB007)."""
        return self.status is not None and (self.status == 0 or self.status >> 12 == 0xB)


@dataclass
class _File:
    path: Path
    sop_class: str
    sop_instance: str
    ts: str
    dataset_offset: int


@dataclass(frozen=True, slots=True)
class CommitmentOutcome:
    """What a Storage Commitment request came to.

    Attributes
    ----------
    transaction_uid : str
    state : {"committed", "failed", "pending", "refused"}
        committed: every instance; failed: the report lists failures;
        pending: no report on our association within the time-out (the SCP
        may report later on one of its own); refused: the N-ACTION failed.
    status : int
        The N-ACTION-RSP status.
    comment : str or None
    result : CommitmentResult or None
        The report, when it came.
    """

    transaction_uid: str
    state: str
    status: int
    comment: str | None
    result: CommitmentResult | None = None

    @property
    def ok(self) -> bool:
        return self.state == "committed"


_COMMITMENT_CONTEXTS: list[tuple[str, tuple[str, ...]]] = [
    (STORAGE_COMMITMENT_PUSH_MODEL, (EXPLICIT_LE, IMPLICIT_LE))
]


def _new_uid() -> str:
    import uuid

    # PS3.5 B.2: a UUID as an integer under 2.25
    return f"2.25.{uuid.uuid4().int}"


class StorageSCU:
    """Send files to a Storage SCP.

    Parameters
    ----------
    ae_title : str
        Our (calling) AE title.
    max_pdu_length : int
        The Maximum Length we advertise for what we receive (responses).
    limits : Limits
    timeouts : Timeouts
    ssl_context : ssl.SSLContext, optional
        TLS (PS3.15 Annex B.1, the Basic TLS Secure Transport Connection Profile);
        its hostname check uses the host given to :meth:`send`.
    allow_lossy : bool
        When the peer accepts none of a file's own syntax, lossy output
        (NEW_UID: a new SOP Instance UID and the lossy attributes) may be sent.
    uid_root : str, optional
        The root of the UIDs minted for lossy output (default ``2.25.<UUID>``).
    transfer_syntaxes : sequence of str
        Syntaxes to send in by preference (e.g. a forwarding rule's JPEG-LS
        Lossless): proposed for every SOP Class and, when accepted and
        reachable, used before the file's own.
    async_operations : int
        How many C-STOREs to keep outstanding on one association: proposed
        as the Asynchronous Operations Window (PS3.7 D.3.3.3; we perform one
        at a time), and used up to what the peer accepts. A peer that does not
        answer the proposal (dcmtk's storescp) gets one at a time, each sent
        after the previous response. 1: not proposed. Outcomes are reported
        in the files' order whatever the order of the responses.

    References
    ----------
    PS3.4 Annex B; PS3.2 Annex N.5.2.5.1; PS3.7 Annex D.3.3.3.
    """

    def __init__(
        self,
        ae_title: str = "STORECORE_SCU",
        *,
        max_pdu_length: int = 128 * 1024,
        limits: Limits = DEFAULT_LIMITS,
        timeouts: Timeouts | None = None,
        ssl_context: ssl.SSLContext | None = None,
        allow_lossy: bool = False,
        uid_root: str | None = None,
        transfer_syntaxes: Sequence[str] = (),
        async_operations: int = 16,
    ) -> None:
        operations_window(async_operations)  # refuses a count outside 1-65535
        self.async_operations = async_operations
        self.ssl_context = ssl_context
        self.transfer_syntaxes = tuple(transfer_syntaxes)
        self.allow_lossy = allow_lossy
        self.uid_root = uid_root
        self.ae_title = ae_title
        self.max_pdu_length = max_pdu_length
        self.limits = limits
        self.timeouts = timeouts or Timeouts()

    # ------------------------------------------------------------------ public

    def echo(self, host: str, port: int, called_ae_title: str = "ANY-SCP") -> int:
        """C-ECHO: returns the peer's status (0 = success)."""
        contexts: list[tuple[str, tuple[str, ...]]] = [
            (VERIFICATION_SOP_CLASS, (EXPLICIT_LE, IMPLICIT_LE))
        ]
        with self._associate(host, port, called_ae_title, contexts) as session:
            context_id = session.context_for(VERIFICATION_SOP_CLASS)
            if context_id is None:
                raise AssociationRejected("the peer did not accept Verification")
            session.channel.send_message(context_id, C_ECHO_RQ(MessageID=1))
            response = session.response()
            assert isinstance(response, C_ECHO_RSP)
            return response.Status

    def send(
        self,
        paths: Iterable[str | os.PathLike[str]],
        host: str,
        port: int,
        called_ae_title: str = "ANY-SCP",
        *,
        associations: int = 1,
        progress: Callable[[StoreOutcome], None] | None = None,
    ) -> list[StoreOutcome]:
        """Send files; one outcome per file, in the order given.

        Parameters
        ----------
        paths : iterable of path
            Part 10 files.
        associations : int
            How many associations to run in parallel (files are dealt out
            round-robin).
        progress : callable, optional
            Called with each outcome as it is known (from the sending threads).

        Raises
        ------
        AssociationRejected
            The peer rejected the association or could not be reached (then
            no instance was sent).
        """
        files: list[_File | StoreOutcome] = [self._inspect(Path(p)) for p in paths]
        if progress is not None:
            for f in files:
                if isinstance(f, StoreOutcome):
                    progress(f)
        order = {id(f): i for i, f in enumerate(files)}
        todo = [f for f in files if isinstance(f, _File)]
        outcomes: dict[int, StoreOutcome] = {
            order[id(f)]: f for f in files if isinstance(f, StoreOutcome)
        }
        shares = [todo[i :: max(associations, 1)] for i in range(max(associations, 1))]
        shares = [s for s in shares if s]
        errors: list[BaseException] = []

        def run(share: list[_File]) -> None:
            try:
                for f, outcome in zip(
                    share,
                    self._send_batch(share, host, port, called_ae_title, progress),
                    strict=True,
                ):
                    outcomes[order[id(f)]] = outcome
            except BaseException as exc:
                errors.append(exc)

        if len(shares) == 1:
            run(shares[0])
        else:
            threads = [threading.Thread(target=run, args=(s,)) for s in shares]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        if errors:
            raise errors[0]
        return [outcomes[i] for i in range(len(files))]

    def commit(
        self,
        references: Iterable[Reference | StoreOutcome],
        host: str,
        port: int,
        called_ae_title: str = "ANY-SCP",
        *,
        transaction_uid: str | None = None,
        timeout: float = 60.0,
        report_address: tuple[str, int] | None = None,
        journal: str | os.PathLike[str] | None = None,
    ) -> CommitmentOutcome:
        """Request Storage Commitment (N-ACTION) and wait for its report on this association.

        Parameters
        ----------
        references : iterable of Reference or StoreOutcome
            The instances (typically the successful outcomes of :meth:`send`).
        transaction_uid : str, optional
            Default: a new UID.
        timeout : float
            Seconds to wait for the N-EVENT-REPORT once the N-ACTION was
            accepted; then the outcome says ``pending``.
        report_address : (str, int), optional
            Also listen here (as our AE title, the address the SCP knows us
            by) for a report on an association of the SCP's own: the N-ACTION's
            association is then released as soon as it is answered, and the
            report awaited on the listener (PS3.4 J.3.3). Without it, the
            report is awaited on the N-ACTION's association only.
        journal : path, optional
            An SQLite file where the request is recorded before it is sent and
            its result once known (state ``delivered`` with the result: the
            report arrived), so that a restart still knows what was committed.

        References
        ----------
        PS3.4 J.3.2 (N-ACTION) and J.3.3 (N-EVENT-REPORT).
        """
        refs = tuple(
            r
            if isinstance(r, Reference)
            else Reference(r.sop_class_uid or "", r.sop_instance_uid or "")
            for r in references
        )
        uid = transaction_uid or _new_uid()
        request = CommitmentRequest(uid, refs)
        if journal is None:
            return self._commit(request, host, port, called_ae_title, timeout, report_address)
        from storecore.commitment.service import TransactionStore

        store = TransactionStore(journal)
        try:
            store.add(called_ae_title, request)
            outcome = self._commit(request, host, port, called_ae_title, timeout, report_address)
            if outcome.result is not None:
                store.set_result(outcome.result)
                store.delivered(uid)
            elif outcome.state == "refused":
                store.attempt_failed(uid, f"refused: 0x{outcome.status:04X}", None)
            return outcome
        finally:
            store.close()

    def _commit(
        self,
        request: CommitmentRequest,
        host: str,
        port: int,
        called_ae_title: str,
        timeout: float,
        report_address: tuple[str, int] | None,
    ) -> CommitmentOutcome:
        uid = request.transaction_uid
        if report_address is not None:
            return self._commit_with_listener(
                request, host, port, called_ae_title, timeout, report_address
            )
        with self._associate(host, port, called_ae_title, _COMMITMENT_CONTEXTS) as session:
            refused = self._n_action(session, request)
            if refused is not None:
                return refused
            previous = session.channel.timeouts
            try:
                session.channel.timeouts = Timeouts(
                    acse=previous.acse, dimse=timeout, network=previous.network
                )
                report = session.request_with_dataset()
            except TransportClosed:
                return CommitmentOutcome(uid, "pending", 0, "no report on this association")
            finally:
                session.channel.timeouts = previous
            command, data, report_context = report
            if not isinstance(command, N_EVENT_REPORT_RQ):
                raise TransportClosed(f"unexpected request {command!r} while awaiting the report")
            result = decode_result(data, session.association.contexts[report_context][1])
            session.channel.send_message(
                report_context,
                N_EVENT_REPORT_RSP(
                    MessageIDBeingRespondedTo=command.MessageID,
                    Status=0,
                    AffectedSOPClassUID=STORAGE_COMMITMENT_PUSH_MODEL,
                    AffectedSOPInstanceUID=STORAGE_COMMITMENT_INSTANCE,
                    EventTypeID=command.EventTypeID,
                ),
            )
            state = "committed" if not result.failed else "failed"
            return CommitmentOutcome(uid, state, 0, None, result)

    @staticmethod
    def _n_action(session: _Session, request: CommitmentRequest) -> CommitmentOutcome | None:
        """Send the commitment request; None once accepted, else the refusal."""
        accepted = session.accepted_for(STORAGE_COMMITMENT_PUSH_MODEL)
        if not accepted:
            raise AssociationRejected("the peer did not accept Storage Commitment Push Model")
        context_id, ts = accepted[0]
        session.channel.send_message(
            context_id,
            N_ACTION_RQ(
                MessageID=1,
                RequestedSOPClassUID=STORAGE_COMMITMENT_PUSH_MODEL,
                RequestedSOPInstanceUID=STORAGE_COMMITMENT_INSTANCE,
                ActionTypeID=1,
            ),
            encode_request(request, ts),
        )
        response = session.response()
        if not isinstance(response, N_ACTION_RSP):
            raise TransportClosed(f"unexpected response {response!r} to N-ACTION")
        if response.Status != 0:
            return CommitmentOutcome(
                request.transaction_uid, "refused", response.Status, response.ErrorComment
            )
        return None

    def _commit_with_listener(
        self,
        request: CommitmentRequest,
        host: str,
        port: int,
        called_ae_title: str,
        timeout: float,
        report_address: tuple[str, int],
    ) -> CommitmentOutcome:
        from storecore.scp import StorageSCP
        from storecore.storage.sink import RefusedHandle, StoreRequest, StoreResult

        class _NoStorage:
            def begin(self, request: StoreRequest) -> RefusedHandle:
                return RefusedHandle(StoreResult(0x0122, "this listener only takes reports"))

        arrived = threading.Event()
        results: list[CommitmentResult] = []

        def on_report(result: CommitmentResult, calling_ae_title: str) -> None:
            if result.transaction_uid == request.transaction_uid:
                results.append(result)
                arrived.set()

        listener = StorageSCP(
            _NoStorage(),
            ae_title=self.ae_title,
            host=report_address[0],
            port=report_address[1],
            sop_classes=(),
            reports=on_report,
        ).start()
        try:
            with self._associate(host, port, called_ae_title, _COMMITMENT_CONTEXTS) as session:
                refused = self._n_action(session, request)
                if refused is not None:
                    return refused
            # released: the SCP reports on an association of its own
            if not arrived.wait(timeout):
                return CommitmentOutcome(
                    request.transaction_uid, "pending", 0, f"no report within {timeout:g} s"
                )
            result = results[0]
            state = "committed" if not result.failed else "failed"
            return CommitmentOutcome(request.transaction_uid, state, 0, None, result)
        finally:
            listener.shutdown(5)

    def report_commitment(
        self, result: CommitmentResult, host: str, port: int, called_ae_title: str
    ) -> int:
        """Deliver a commitment result (N-EVENT-REPORT) on an association of our own.

        Used by an SCP whose requester's association has ended (PS3.4 J.3.3): we
        propose the Storage Commitment Push Model in the SCP role (SCP/SCU Role
        Selection, PS3.7 D.3.3.4). Returns the requester's N-EVENT-REPORT-RSP status.
        """
        roles = {STORAGE_COMMITMENT_PUSH_MODEL: (False, True)}
        with self._associate(host, port, called_ae_title, _COMMITMENT_CONTEXTS, roles) as session:
            accepted = session.accepted_for(STORAGE_COMMITMENT_PUSH_MODEL)
            if not accepted:
                raise AssociationRejected(
                    "the requester did not accept Storage Commitment Push Model (SCP role)"
                )
            context_id, ts = accepted[0]
            session.channel.send_message(
                context_id,
                N_EVENT_REPORT_RQ(
                    MessageID=1,
                    AffectedSOPClassUID=STORAGE_COMMITMENT_PUSH_MODEL,
                    AffectedSOPInstanceUID=STORAGE_COMMITMENT_INSTANCE,
                    EventTypeID=result.event_type_id,
                ),
                encode_result(result, ts),
            )
            response = session.response()
            if not isinstance(response, N_EVENT_REPORT_RSP):
                raise TransportClosed(f"unexpected response {response!r} to N-EVENT-REPORT")
            return response.Status

    # --------------------------------------------------------------- internals

    def _inspect(self, path: Path) -> _File | StoreOutcome:
        # The UIDs sent in the command are the dataset's own (as dcmtk's storescu
        # does), so that the SCP's cross-check sees what it will store.
        try:
            summary = summarize_file(path, limits=self.limits)
        except (OSError, StorecoreError) as exc:
            return StoreOutcome(path, None, None, f"not sent: {exc}")
        if not summary.sop_class_uid or not summary.sop_instance_uid:
            return StoreOutcome(
                path, summary.sop_instance_uid, None, "not sent: no SOP Class/Instance UID"
            )
        return _File(
            path,
            summary.sop_class_uid,
            summary.sop_instance_uid,
            summary.transfer_syntax_uid,
            summary.dataset_offset,
        )

    def _contexts(self, files: Sequence[_File]) -> list[tuple[str, tuple[str, ...]]]:
        # Per SOP Class: one context per distinct syntax of its files, so that a
        # peer accepting it gets the file unchanged; then one in Explicit and
        # Implicit VR LE, the fallback the native transcoder can reach.
        contexts: list[tuple[str, tuple[str, ...]]] = []
        exact = dict.fromkeys((f.sop_class, f.ts) for f in files)
        for sop_class, ts in exact:
            contexts.append((sop_class, (ts,)))
        for sop_class in dict.fromkeys(f.sop_class for f in files):
            for ts in self.transfer_syntaxes:  # the caller's preferred targets
                if (sop_class, ts) not in exact:
                    contexts.append((sop_class, (ts,)))
            contexts.append((sop_class, (EXPLICIT_LE, IMPLICIT_LE)))
        if len(contexts) > _MAX_CONTEXTS:
            raise StorecoreError(
                f"{len(contexts)} presentation contexts are needed, one association carries "
                f"at most {_MAX_CONTEXTS}: split the batch"
            )
        return contexts

    def _associate(
        self,
        host: str,
        port: int,
        called_ae_title: str,
        contexts: list[tuple[str, tuple[str, ...]]],
        roles: dict[str, tuple[bool, bool]] | None = None,
    ) -> _Session:
        window = self.async_operations
        policy = Policy(
            ae_title=self.ae_title,
            max_pdu_length=self.max_pdu_length,
            asynchronous_operations_window=operations_window(window),
        )
        try:
            sock = socket.create_connection((host, port), timeout=self.timeouts.network)
            if self.ssl_context is not None:
                sock = self.ssl_context.wrap_socket(sock, server_hostname=host)
        except OSError as exc:
            raise AssociationRejected(f"cannot connect to {host}:{port}: {exc}") from None
        association = Association("requestor", policy, limits=self.limits)
        channel = Channel(sock, association, self.timeouts)
        request = build_request(policy, called_ae_title, contexts, roles=roles)
        try:
            association.connection_made()
            channel.send_bytes(association.send(AssociateRequest(request)))
            for event in channel.events():
                if isinstance(event, AssociateAccept) and isinstance(event.pdu, A_ASSOCIATE_AC):
                    session = _Session(channel)
                    agreed = event.pdu.user_information.asynchronous_operations_window
                    if agreed is not None and window > 1:
                        # PS3.7 D.3.3.3: what the acceptor lets us invoke; 0: no limit
                        invoked = agreed.maximum_number_operations_invoked
                        session.window = min(window, invoked) if invoked else window
                    return session
                if isinstance(event, AssociateReject):
                    pdu = event.pdu
                    raise AssociationRejected(
                        f"association rejected: result {pdu.result}, source {pdu.source}, "
                        f"reason {pdu.reason}"
                    )
                if isinstance(event, ConnectionClosed):
                    break
            raise AssociationRejected("the peer closed the connection during association")
        except BaseException:
            channel.close()
            raise

    def _send_batch(
        self,
        files: Sequence[_File],
        host: str,
        port: int,
        called_ae_title: str,
        progress: Callable[[StoreOutcome], None] | None = None,
    ) -> list[StoreOutcome]:
        with self._associate(host, port, called_ae_title, self._contexts(files)) as session:
            return self._send_pipelined(session, files, host, port, progress)

    def _send_pipelined(
        self,
        session: _Session,
        files: Sequence[_File],
        host: str,
        port: int,
        progress: Callable[[StoreOutcome], None] | None = None,
    ) -> list[StoreOutcome]:
        """Send `files` keeping up to ``session.window`` C-STOREs outstanding (PS3.7 D.3.3.3).

        Each request goes as soon as the window has room and less than
        :data:`_PIPELINE_BYTES` are outstanding: what pipelining saves is the
        round trip, which only small instances notice; a large one is sent
        when the previous is answered (ahead of it, the receiver would also
        pay for the sender's TCP work, as the acknowledgements it sends
        release the sender's queue in its own context). Responses are
        matched to their requests by Message ID Being Responded To, in
        whatever order they come. With a window of 1 (a peer that does not
        answer the proposal) this is one C-STORE at a time, the next command
        encoded while the peer stores the current instance. If the association
        ends, the instances outstanding or being sent are "not acknowledged"
        (the peer may or may not have kept them) and the rest "not sent"; those
        answered keep the peer's status.
        """
        done: dict[int, StoreOutcome] = {}
        # Message ID -> (index, file, syntax sent, record, bytes sent)
        outstanding: dict[int, tuple[int, _File, str, TranscodeRecord | None, int]] = {}
        in_flight = 0  # bytes of the outstanding requests

        def record(index: int, outcome: StoreOutcome) -> None:
            done[index] = outcome
            if progress is not None:
                progress(outcome)

        def await_one() -> None:
            nonlocal in_flight
            response = session.response()
            mid = getattr(response, "MessageIDBeingRespondedTo", None)
            if not isinstance(response, C_STORE_RSP) or mid not in outstanding:
                raise TransportClosed(f"unexpected response {response!r}")
            index, f, sent_ts, transcoded, size = outstanding.pop(mid)
            in_flight -= size
            record(
                index,
                StoreOutcome(
                    f.path,
                    f.sop_instance,
                    response.Status,
                    response.ErrorComment,
                    sent_ts,
                    transcoded,
                    f.sop_class,
                ),
            )

        def must_wait(message_id: int) -> bool:
            return bool(outstanding) and (
                len(outstanding) >= session.window
                or in_flight >= _PIPELINE_BYTES
                or message_id in outstanding
            )

        sending: tuple[int, _File] | None = None  # partly sent when the association ends
        try:
            for index, f in enumerate(files):
                # Message IDs 1-65535, skipping those still outstanding after a wrap
                message_id = index % 0xFFFF + 1
                if must_wait(message_id):
                    # while the peer stores: off the path from its response to our next bytes
                    session.prepare_command(f, message_id)
                    while must_wait(message_id):
                        await_one()
                before = session.channel.bytes_sent
                sending = (index, f)
                sent = self._send_one(session, f, message_id)
                sending = None
                if isinstance(sent, StoreOutcome):
                    record(index, sent)
                else:
                    size = session.channel.bytes_sent - before
                    outstanding[message_id] = (index, f, *sent, size)
                    in_flight += size
            while outstanding:
                await_one()
        except StorecoreError as exc:  # TransportClosed, or an undecodable response
            log.warning("association to %s:%d ended: %s", host, port, exc)
            unanswered = [(i, f) for i, f, _, _, _ in outstanding.values()]
            for index, f in sorted(unanswered + ([sending] if sending is not None else [])):
                record(
                    index, StoreOutcome(f.path, f.sop_instance, None, f"not acknowledged: {exc}")
                )
            for index, f in enumerate(files):
                if index not in done:
                    record(
                        index,
                        StoreOutcome(
                            f.path, f.sop_instance, None, "not sent: the association ended"
                        ),
                    )
        return [done[i] for i in range(len(files))]

    def _choose(self, f: _File, accepted: list[tuple[int, str]]) -> tuple[int, str] | str:
        """The accepted context to send `f` in when its own syntax is not accepted.

        The preference (PS3.2 N.5.2.5.1.1 asks an SCU to state it): lossless
        first (SUPPORTED before NEW_UID), native before compressed, then the
        peer's order; lossy output only with ``allow_lossy``. Returns a
        NOT_SUPPORTED explanation when no accepted syntax can be reached.
        """
        from storecore.transcode.matrix import transcode_path

        preferred = {ts: n for n, ts in enumerate(self.transfer_syntaxes)}
        last = len(preferred)
        ranked: list[tuple[tuple[int, bool, bool, int], int, str]] = []
        reasons: list[str] = []
        for order, (context_id, ts) in enumerate(accepted):
            if not (_known(ts) and _known(f.ts)):
                reasons.append(f"{ts}: unknown transfer syntax")
                continue
            if transfer_syntax(ts).native and transfer_syntax(f.ts).native:
                ranked.append(((preferred.get(ts, last), False, False, order), context_id, ts))
                continue
            decision = transcode_path(f.ts, ts, allow_lossy=self.allow_lossy)
            if decision.path is TranscodePath.NOT_SUPPORTED:
                reasons.append(f"{ts}: {decision.reason}")
                continue
            rank = (
                preferred.get(ts, last),
                decision.path is TranscodePath.NEW_UID,
                not transfer_syntax(ts).native,
                order,
            )
            ranked.append((rank, context_id, ts))
        if not ranked:
            return f"NOT_SUPPORTED: the file is in {f.ts}; " + "; ".join(reasons)
        _, context_id, ts = min(ranked)
        return context_id, ts

    def _send_file(
        self,
        session: _Session,
        f: _File,
        m: mmap.mmap,
        message_id: int,
        context_id: int | None,
        accepted: list[tuple[int, str]],
    ) -> tuple[str, TranscodeRecord | None] | StoreOutcome:
        """Send one file's C-STORE-RQ: as is, rewritten natively, or through the matrix.

        Returns the syntax sent and the transcoding record, or the NOT_SUPPORTED outcome.
        """
        record = None
        with memoryview(m)[f.dataset_offset :] as dataset:
            request = C_STORE_RQ(
                MessageID=message_id,
                AffectedSOPClassUID=f.sop_class,
                AffectedSOPInstanceUID=f.sop_instance,
            )
            if context_id is not None:
                sent_ts = f.ts
                session.channel.send_message(context_id, request, dataset)
            else:
                choice = self._choose(f, accepted)
                if isinstance(choice, str):
                    return StoreOutcome(f.path, f.sop_instance, None, choice)
                context_id, sent_ts = choice
                if sent_ts == f.ts:
                    session.channel.send_message(context_id, request, dataset)
                elif transfer_syntax(f.ts).native and transfer_syntax(sent_ts).native:
                    out = bytearray()
                    transcode_dataset(dataset, f.ts, sent_ts, out.extend, limits=self.limits)
                    record = TranscodeRecord(
                        source_ts=f.ts,
                        target_ts=sent_ts,
                        path=TranscodePath.SUPPORTED,
                        codec=NATIVE_CODEC,
                        original_sop_instance_uid=f.sop_instance,
                        sop_instance_uid=f.sop_instance,
                        bytes_in=len(dataset),
                        bytes_out=len(out),
                    )
                    session.channel.send_message(context_id, request, out)
                else:
                    # compressed on one side: the transcoding matrix (codecs)
                    from storecore.transcode.matrix import transcode as matrix_transcode

                    part10, record = matrix_transcode(
                        m,
                        sent_ts,
                        allow_lossy=self.allow_lossy,
                        uid_root=self.uid_root,
                        limits=self.limits,
                    )
                    if record.sop_instance_uid != f.sop_instance:  # NEW_UID
                        request = C_STORE_RQ(
                            MessageID=message_id,
                            AffectedSOPClassUID=f.sop_class,
                            AffectedSOPInstanceUID=record.sop_instance_uid or f.sop_instance,
                        )
                    with memoryview(part10) as whole:
                        offset = read_file_meta(whole).dataset_offset
                        session.channel.send_message(context_id, request, whole[offset:])
        return sent_ts, record

    @staticmethod
    def _sendfile(
        session: _Session, f: _File, message_id: int, context_id: int
    ) -> tuple[tuple[str, None] | None, tuple[str, bool] | None]:
        """Send `f` unchanged with ``os.sendfile``: (the syntax sent, None), or the failure.

        Raises OSError only for opening the file (then nothing was sent); once
        the command is on its way any failure ends the association: the
        PDUs it announced cannot be completed. The data set's length is the
        file's when opened; the File Meta is not read again (the inspection
        found where the data set starts).
        """
        fd = os.open(f.path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            length = os.fstat(fd).st_size - f.dataset_offset
            if length < 0:
                return None, ("the file is shorter than when it was inspected", False)
            channel = session.channel
            try:
                command = session.take_command(f, message_id) or _store_command(f, message_id)
                channel.send_command(context_id, command, more=True)
                channel.send_file_dataset(context_id, fd, f.dataset_offset, length)
            except OSError as exc:  # the socket, or the file mid-message
                return None, (str(exc), True)
            except StorecoreError as exc:  # a UID the command cannot carry: nothing sent
                return None, (str(exc), isinstance(exc, TransportClosed) or channel.closed)
            return (f.ts, None), None
        finally:
            os.close(fd)

    def _send_one(
        self, session: _Session, f: _File, message_id: int
    ) -> tuple[str, TranscodeRecord | None] | StoreOutcome:
        """Send `f`'s C-STORE-RQ and data set: (the syntax sent, the record), or why not.

        Raises
        ------
        TransportClosed
            The association ended (what was sent of it cannot be completed).
        """
        accepted = session.accepted_for(f.sop_class)
        if not accepted:
            return StoreOutcome(f.path, f.sop_instance, None, "not sent: SOP Class not accepted")
        # prefer the context proposed for this exact syntax (the first of the class's),
        # unless the caller prefers syntaxes of its own and one of them was accepted
        context_id = next((c for c, ts in accepted if ts == f.ts), None)
        preferred = self.transfer_syntaxes
        if f.ts not in preferred and any(ts in preferred for _, ts in accepted):
            context_id = None
        # (message, the association is gone): decided inside the map's lifetime and kept
        # as plain values, so that no traceback holds views of the map when it closes
        failure: tuple[str, bool] | None = None
        sent: tuple[str, TranscodeRecord | None] | StoreOutcome | None = None
        try:
            if context_id is not None and session.channel.can_sendfile:
                # the file's own syntax over plain TCP: the data set leaves from the
                # page cache as it is (os.sendfile), the file is neither read nor mapped
                sent, failure = self._sendfile(session, f, message_id, context_id)
            else:
                # the dataset starts where the summary found it when the batch was inspected
                with (
                    open(f.path, "rb") as fh,
                    mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as m,
                ):
                    try:
                        sent = self._send_file(session, f, m, message_id, context_id, accepted)
                    except OSError as exc:  # the socket: the association is gone
                        failure = (str(exc), True)
                    except StorecoreError as exc:
                        gone = isinstance(exc, TransportClosed) or session.channel.closed
                        failure = (str(exc), gone)
        except OSError as exc:  # opening or mapping the file
            failure = (str(exc), False)
        if failure is not None:
            message, gone = failure
            if gone:
                raise TransportClosed(message)
            return StoreOutcome(f.path, f.sop_instance, None, f"not sent: {message}")
        assert sent is not None
        return sent


#: bytes of data sets outstanding beyond which the next request waits for a response
_PIPELINE_BYTES = 256 * 1024


def _store_command(f: _File, message_id: int) -> bytes:
    """The encoded C-STORE-RQ command set for `f` (PS3.7 9.3.1.1)."""
    return encode_command(
        C_STORE_RQ(
            MessageID=message_id,
            AffectedSOPClassUID=f.sop_class,
            AffectedSOPInstanceUID=f.sop_instance,
        )
    )


def _known(uid: str) -> bool:
    try:
        transfer_syntax(uid)
    except StorecoreError:
        return False
    return True


class _Session:
    """An established requestor association."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.association = channel.association
        #: C-STOREs that may be outstanding (the agreed asynchronous operations window)
        self.window = 1
        self._events = channel.events()
        self._accepted: dict[str, list[tuple[int, str]]] = {}
        self._command: tuple[_File, int, bytes] | None = None

    def context_for(self, abstract: str) -> int | None:
        return next((c for c, (a, _) in self.association.contexts.items() if a == abstract), None)

    def accepted_for(self, abstract: str) -> list[tuple[int, str]]:
        # the contexts are settled once associated
        accepted = self._accepted.get(abstract)
        if accepted is None:
            contexts = self.association.contexts.items()
            accepted = self._accepted[abstract] = [
                (c, ts) for c, (a, ts) in contexts if a == abstract
            ]
        return accepted

    def prepare_command(self, f: _File, message_id: int) -> None:
        """Encode `f`'s C-STORE-RQ ahead; one that cannot be encoded fails when sent."""
        try:
            self._command = (f, message_id, _store_command(f, message_id))
        except StorecoreError:
            self._command = None

    def take_command(self, f: _File, message_id: int) -> bytes | None:
        """The command :meth:`prepare_command` encoded for `f`, if it did."""
        prepared, self._command = self._command, None
        if prepared is not None and prepared[0] is f and prepared[1] == message_id:
            return prepared[2]
        return None

    def response(self) -> object:
        """The next DIMSE response (a decoded command); raises if the association ends."""
        for event in self._events:
            if isinstance(event, CommandReceived):
                return decode_command(event.command, limits=self.association.limits)
            if isinstance(event, ConnectionClosed):
                break
        raise TransportClosed("the association ended while a response was awaited")

    def request_with_dataset(self) -> tuple[object, bytes, int]:
        """The next request the peer sends, with its whole data set (small messages only)."""
        command: object = None
        context_id = 0
        data = bytearray()
        limit = self.association.limits.max_pdu_length * 64
        for event in self._events:
            if isinstance(event, CommandReceived):
                command = decode_command(event.command, limits=self.association.limits)
                context_id = event.context_id
                if not event.has_dataset:
                    return command, b"", context_id
            elif isinstance(event, DataReceived):
                data += event.data
                if len(data) > limit:
                    raise TransportClosed("the peer's data set is too large")
                if event.last:
                    return command, bytes(data), context_id
            elif isinstance(event, ConnectionClosed):
                break
        raise TransportClosed("the association ended while a request was awaited")

    def release(self) -> None:
        channel = self.channel
        if channel.closed:
            return
        channel.send_bytes(self.association.send(ReleaseRequest()))
        for event in self._events:
            if isinstance(event, ReleaseResponse | ConnectionClosed):
                break
        channel.close()

    def __enter__(self) -> _Session:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            try:
                self.release()
            except (OSError, StorecoreError):
                self.channel.close()  # the peer is gone: nothing left to release
        else:
            self.channel.abort()

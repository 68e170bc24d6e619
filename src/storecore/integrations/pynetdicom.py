"""storecore in an existing pynetdicom application: handlers, contexts, sending.

A site that already runs a ``pynetdicom.AE`` (a router, an AI gateway, a
research PACS) keeps its AE and gains storecore's archive: durable storage
with its index, the validators, the storage transcoding policy and the Storage
Commitment SCP role::

    from pynetdicom import AE
    from storecore.integrations.pynetdicom import add_storecore_contexts, storecore_handlers
    from storecore.storage import Archive

    with Archive("archive") as archive:
        ae = AE(ae_title="STORESCP")
        add_storecore_contexts(ae)
        ae.start_server(("0.0.0.0", 11112), evt_handlers=storecore_handlers(archive))

What each piece does:

- :func:`storecore_handlers`: ``evt.EVT_C_STORE`` streams the dataset bytes
  pynetdicom received (``event.request.DataSet``, or with pynetdicom's
  ``_config.STORE_RECV_CHUNKED_DATASET`` the file at ``event.dataset_path``)
  into the sink of ``storecore serve`` (``Archive.sink()``; pynetdicom's file
  is moved into the archive, not copied); it never touches
  ``event.dataset``, which would decode every element. The C-STORE-RSP carries
  the pipeline's status and Error Comment. ``evt.EVT_N_ACTION`` is the Storage
  Commitment SCP role on :class:`~storecore.commitment.service.CommitmentService`:
  accept (persisted), answer, verify, then report (N-EVENT-REPORT) on the
  requester's association while it is open, else on a new one.
  ``evt.EVT_C_ECHO`` answers Success.
- :func:`add_storecore_contexts` / :func:`supported_contexts`: the SOP classes
  and syntaxes ``storecore serve`` accepts, as pynetdicom supported contexts;
  :func:`requested_contexts`: the contexts to propose for a set of files, as
  :class:`~storecore.scu.StorageSCU` proposes them.
- :func:`send_file`: C-STORE of a Part 10 file on a pynetdicom association,
  sent as is when the peer accepted its syntax, rewritten by storecore's native
  transcoder when the peer accepted only another native syntax.

Tested with pynetdicom 3.0.4 (pydicom 3.0); it uses only pynetdicom's public,
documented API (events, ``Association.send_c_store`` and
``send_n_event_report``, ``_config`` switches documented as user settings,
``DULServiceProvider.peek_next_pdu``), no monkey-patching.

Two limits of pynetdicom 3.0.4, and what this module does about them:

- ``send_c_store`` takes a pydicom ``Dataset`` (which it encodes) or a file
  path; it sends a file without decoding it only when
  ``_config.STORE_SEND_CHUNKED_DATASET`` is True (then it streams the bytes
  after the File Meta and needs a context of exactly the file's syntax). There
  is no documented way to hand it bytes already encoded. :func:`send_file`
  therefore passes a path: with the switch on (recommended), nothing is
  decoded; with it off, pynetdicom reads the file with ``dcmread`` and
  re-encodes it, its own least-decoding route. A rewritten dataset goes to a
  temporary Part 10 file and takes the same path.
- With ``STORE_RECV_CHUNKED_DATASET`` pynetdicom writes the dataset, after a
  File Meta of its own, to a temporary file that it deletes after the
  handler. The handler gives that file to the archive
  (:meth:`~storecore.storage.ingest.ArchiveSink.adopt`): it is renamed into
  the spool, hashed and scanned in one pass over its map, and stored with
  pynetdicom's File Meta (the dataset bytes are the ones received; the File
  Meta's Implementation Class UID is pynetdicom's and it has no Source AE
  Title, the calling AE being in the index). A rename needs pynetdicom's
  temporary folder on the archive's filesystem; point it at the archive's
  spool, before the AE starts::

      import tempfile
      tempfile.tempdir = str(archive.root / "spool")  # pynetdicom's NamedTemporaryFile

  (``tempfile.tempdir`` is process-wide; any folder on the archive's
  filesystem will do, the spool has the archive remove what a crash left
  there when it next opens.) From another filesystem the file is copied in
  the kernel and a warning says where to point it. A sink other than the
  archive's gets the file's dataset streamed into it. pynetdicom leaves the
  partial file of a sender that died mid-dataset behind;
  :meth:`StorecoreHandlers.handle_conn_close` (``evt.EVT_CONN_CLOSE``)
  removes it.

References
----------
PS3.4 Annex B (Storage) and Annex J (Storage Commitment Push Model); PS3.7
Sections 9.1.1, 10.1.1 and 10.1.4; PS3.8 Annex D (128 presentation contexts).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import mmap
import os
import tempfile
import threading
from collections.abc import Iterable, Sequence
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, cast

from pydicom.dataset import Dataset
from pynetdicom import _config, evt
from pynetdicom.pdu_primitives import A_RELEASE
from pynetdicom.presentation import PresentationContext, build_context

from storecore.commitment import (
    STORAGE_COMMITMENT_INSTANCE,
    STORAGE_COMMITMENT_PUSH_MODEL,
    CommitmentError,
    CommitmentRequest,
    encode_result,
)
from storecore.dataset.part10 import read_file_meta
from storecore.errors import StorecoreError
from storecore.scp import default_storage_transfer_syntaxes
from storecore.storage.archive import Archive
from storecore.storage.ingest import ArchiveSink
from storecore.storage.sink import RefusedHandle, StoreHandle, StoreRequest, StoreResult, StoreSink
from storecore.transcode import TranscodePath, TranscodeRecord, transcode_file
from storecore.uid import STORAGE_SOP_CLASSES, transfer_syntax
from storecore.ul.negotiation import VERIFICATION_SOP_CLASS

if TYPE_CHECKING:
    from pynetdicom import AE
    from pynetdicom.association import Association
    from pynetdicom.dimse_primitives import C_STORE, N_ACTION
    from pynetdicom.events import Event, EventHandlerType

    from storecore.commitment.service import CommitmentService

__all__ = [
    "SendResult",
    "StorecoreHandlers",
    "add_storecore_contexts",
    "requested_contexts",
    "send_file",
    "storecore_handlers",
    "supported_contexts",
]

log = logging.getLogger(__name__)

IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_LE = "1.2.840.10008.1.2.1"

# statuses (PS3.4 B.2.3, PS3.7 C.4 and C.5)
_OUT_OF_RESOURCES = 0xA700
_PROCESSING_FAILURE = 0x0110
_SOP_CLASS_NOT_SUPPORTED = 0x0122
_NO_SUCH_OBJECT_INSTANCE = 0x0112
_NO_SUCH_ACTION_TYPE = 0x0123
_MISSING_ATTRIBUTE = 0x0120
_COMMITMENT_DATASET_LIMIT = 16 << 20  # as StorageSCP: a Referenced SOP Sequence of ~100,000 items

# pynetdicom (and PS3.8 D.3.3.2: context IDs are odd numbers 1-255) allow 128
# requested presentation contexts per association
_MAX_REQUESTED_CONTEXTS = 128

# what the sink is fed at a time: the spool's writeback and the scanner work
# per chunk, so a large dataset is never handed over as one write
_CHUNK = 1 << 20


def _short(text: str) -> str:
    # Error Comment is LO: at most 64 characters (PS3.7 C.4, PS3.5 Table 6.2-1)
    return text if len(text) <= 64 else text[:61] + "..."


def _status(status: int, comment: str | None) -> int | Dataset:
    """What a pynetdicom handler returns: the bare status, or a Dataset with the comment."""
    if not comment:
        return status
    ds = Dataset()
    ds.Status = status
    ds.ErrorComment = _short(comment)
    return ds


# ---------------------------------------------------------------- receiving


class StorecoreHandlers:
    """pynetdicom event handlers that store into a storecore sink.

    Usually made through :func:`storecore_handlers`; the methods are the
    handlers themselves, for applications that bind them one by one
    (``ae.start_server(..., evt_handlers=[(evt.EVT_C_STORE, h.handle_store)])``)
    or wrap them.

    Parameters
    ----------
    sink : Archive or StoreSink
        Where instances go: an :class:`~storecore.storage.Archive` (its
        :meth:`~storecore.storage.Archive.sink`, the pipeline of
        ``storecore serve``) or any :class:`~storecore.storage.StoreSink`.
    commitment : CommitmentService, optional
        The Storage Commitment SCP role (``evt.EVT_N_ACTION``).
    """

    def __init__(
        self, sink: Archive | StoreSink, commitment: CommitmentService | None = None
    ) -> None:
        self.sink: StoreSink = sink.sink() if isinstance(sink, Archive) else sink
        self.commitment = commitment
        self._message_ids = itertools.count(1)
        self._lock = threading.Lock()
        self._reporters: set[threading.Thread] = set()

    # ------------------------------------------------------------ C-ECHO

    def handle_echo(self, event: Event) -> int:
        """``evt.EVT_C_ECHO``: Success (PS3.7 9.1.5)."""
        return 0x0000

    # ------------------------------------------------------------ C-STORE

    def handle_store(self, event: Event) -> int | Dataset:
        """``evt.EVT_C_STORE``: stream the received dataset into the sink, answer its status.

        The dataset is never decoded: the bytes pynetdicom collected (in
        memory, or in its temporary file with ``STORE_RECV_CHUNKED_DATASET``)
        are written to the sink as they are, as :class:`~storecore.scp.StorageSCP`
        writes the PDVs it receives. A failure inside the sink is a status
        (0xA700 for an OS error, 0x0110 otherwise), never an exception into
        pynetdicom (which would answer 0xC211).

        References
        ----------
        PS3.4 B.2.3 (statuses); PS3.7 9.1.1.
        """
        request = cast("C_STORE", event.request)
        context = event.context
        sop_class = str(request.AffectedSOPClassUID)
        sop_instance = str(request.AffectedSOPInstanceUID)
        if sop_class != context.abstract_syntax:
            return _status(
                _SOP_CLASS_NOT_SUPPORTED,
                "Affected SOP Class UID differs from the context's abstract syntax",
            )
        assoc = event.assoc
        store_request = StoreRequest(
            sop_class_uid=sop_class,
            sop_instance_uid=sop_instance,
            transfer_syntax_uid=str(context.transfer_syntax),
            calling_ae_title=_ae_title(assoc.requestor.ae_title),
            called_ae_title=_called_ae_title(assoc),
            message_id=int(request.MessageID or 0),
        )
        path = _spooled_path(event)
        if path is not None and isinstance(self.sink, ArchiveSink):
            result = self._adopt(self.sink, path, store_request)
        else:
            result = self._stream(request, store_request, path)
        if result.status:
            log.warning(
                "%s from %s stored with status 0x%04X%s",
                sop_instance,
                store_request.calling_ae_title,
                result.status,
                f" ({result.comment})" if result.comment else "",
            )
            return _status(result.status, result.comment)
        return 0x0000

    def _adopt(self, sink: ArchiveSink, path: Path, request: StoreRequest) -> StoreResult:
        """pynetdicom's temporary file moves into the archive (:meth:`ArchiveSink.adopt`)."""
        try:
            return sink.adopt(path, request)
        except Exception as exc:
            log.exception("adopting %s failed", request.sop_instance_uid)
            with contextlib.suppress(OSError):
                os.unlink(path)
            status = _OUT_OF_RESOURCES if isinstance(exc, OSError) else _PROCESSING_FAILURE
            return StoreResult(status, _short(f"cannot store: {exc}"))

    def _stream(
        self, request: C_STORE, store_request: StoreRequest, path: Path | None
    ) -> StoreResult:
        """The dataset's bytes, in memory or in pynetdicom's file, written into a sink handle."""
        handle = self._begin(store_request)
        try:
            if path is not None:
                _feed_file(handle, path)
            else:
                data = request.DataSet
                if data is not None:
                    with data.getbuffer() as view:
                        _feed(handle, view)
        except Exception as exc:
            handle.abort()
            if not isinstance(exc, OSError | StorecoreError):
                log.exception("storing %s failed", store_request.sop_instance_uid)
            status = _OUT_OF_RESOURCES if isinstance(exc, OSError) else _PROCESSING_FAILURE
            return StoreResult(status, _short(f"cannot store: {exc}"))
        try:
            return handle.finish()
        except Exception as exc:
            log.exception("the sink failed finishing %s", store_request.sop_instance_uid)
            handle.abort()
            status = _OUT_OF_RESOURCES if isinstance(exc, OSError) else _PROCESSING_FAILURE
            return StoreResult(status, _short(f"sink failed: {exc}"))

    def handle_conn_close(self, event: Event) -> None:
        """``evt.EVT_CONN_CLOSE``: remove the temporary file of a dataset that never ended.

        With ``STORE_RECV_CHUNKED_DATASET``, pynetdicom 3.0.4 creates its
        temporary file when the C-STORE-RQ's command arrives and removes it
        only after the C-STORE handler ran: a sender that dies (or aborts) in
        the middle of the dataset leaves the partial file behind, in the
        archive's spool when pynetdicom's temporary folder is pointed there.
        Nothing was acknowledged, so nothing is lost by removing it. The file
        is found on the message pynetdicom was assembling
        (``assoc.dimse.message``), whose ``_data_set_file`` is the one
        attribute of pynetdicom's internals this module reads; a pynetdicom
        without it leaves the file behind (in the spool, the archive removes
        it when it next opens).
        """
        message = getattr(getattr(event.assoc, "dimse", None), "message", None)
        partial = getattr(message, "_data_set_file", None)
        if partial is None:
            return
        name = getattr(partial, "name", None)
        with contextlib.suppress(Exception):
            partial.close()
        if isinstance(name, str):
            try:
                os.unlink(name)
            except FileNotFoundError:
                pass
            except OSError as exc:
                log.warning("cannot remove pynetdicom's partial file %s: %s", name, exc)
            else:
                log.info("removed the partial dataset of an ended association: %s", name)

    def _begin(self, request: StoreRequest) -> StoreHandle:
        try:
            return self.sink.begin(request)
        except OSError as exc:
            log.error("sink refused %s: %s", request.sop_instance_uid, exc)
            return RefusedHandle(StoreResult(_OUT_OF_RESOURCES, _short(f"cannot store: {exc}")))
        except Exception as exc:
            log.exception("sink failed on %s", request.sop_instance_uid)
            return RefusedHandle(StoreResult(_PROCESSING_FAILURE, _short(f"sink failed: {exc}")))

    # ------------------------------------------------------------ N-ACTION

    def handle_n_action(self, event: Event) -> tuple[int | Dataset, Dataset | None]:
        """``evt.EVT_N_ACTION``: a Storage Commitment request (PS3.4 J.3.2).

        The request is decoded and persisted by
        :meth:`CommitmentService.accept` before the N-ACTION-RSP says Success
        (a refused one answers the service's status: 0x0131 for a Transaction
        UID used already, 0x0120/0x0106 for a bad data set). Verification and
        the N-EVENT-REPORT run on a thread of their own once pynetdicom has sent
        the N-ACTION-RSP: the report goes on this association if the requester
        is still on it (and not releasing), otherwise
        :meth:`CommitmentService.schedule` delivers it on a new one.
        """
        service = self.commitment
        request = cast("N_ACTION", event.request)
        if service is None:
            return _status(_SOP_CLASS_NOT_SUPPORTED, "Storage Commitment is not provided"), None
        status = 0
        if (
            event.context.abstract_syntax != STORAGE_COMMITMENT_PUSH_MODEL
            or request.RequestedSOPClassUID != STORAGE_COMMITMENT_PUSH_MODEL
        ):
            status = _SOP_CLASS_NOT_SUPPORTED
        elif request.RequestedSOPInstanceUID != STORAGE_COMMITMENT_INSTANCE:
            status = _NO_SUCH_OBJECT_INSTANCE
        elif request.ActionTypeID != 1:
            status = _NO_SUCH_ACTION_TYPE
        if status:
            return status, None
        info = request.ActionInformation
        if info is None:
            return _status(_MISSING_ATTRIBUTE, "the N-ACTION carries no data set"), None
        if info.getbuffer().nbytes > _COMMITMENT_DATASET_LIMIT:
            return _status(_PROCESSING_FAILURE, "the N-ACTION data set is over 16 MiB"), None
        assoc = event.assoc
        calling = _ae_title(assoc.requestor.ae_title)
        ts = str(event.context.transfer_syntax)
        try:
            accepted = service.accept(calling, info.getvalue(), ts)
        except CommitmentError as exc:
            log.warning("N-ACTION from %s refused: %s", calling, exc)
            return _status(exc.status, str(exc)), None
        reporter = threading.Thread(
            target=self._report,
            args=(assoc, accepted, ts),
            name=f"storecore-commitment-report-{accepted.transaction_uid[-8:]}",
            daemon=True,
        )
        with self._lock:
            self._reporters.add(reporter)
        reporter.start()
        return 0x0000, None

    def _report(self, assoc: Association, request: CommitmentRequest, ts: str) -> None:
        service = self.commitment
        assert service is not None
        uid = request.transaction_uid
        try:
            try:
                result = service.verify(request)
            except Exception:
                # the transaction is persisted without a result: the delivery
                # thread verifies again before it reports
                log.exception("commitment %s: verification failed", uid)
                service.schedule(uid)
                return
            if not assoc.is_established or _release_pending(assoc):
                # PS3.4 J.3.3: on the same association only while it is open
                service.schedule(uid)
                return
            with self._lock:
                message_id = next(self._message_ids) % 0xFFFF + 1
            try:
                rsp, _ = assoc.send_n_event_report(
                    _report_dataset(encode_result(result, ts), ts),
                    result.event_type_id,
                    STORAGE_COMMITMENT_PUSH_MODEL,
                    STORAGE_COMMITMENT_INSTANCE,
                    msg_id=message_id,
                )
            except (RuntimeError, ValueError) as exc:  # released meanwhile, context gone
                log.info("commitment %s: not reported on this association (%s)", uid, exc)
                service.schedule(uid)
                return
            status = rsp.get("Status")
            if status == 0:
                service.delivered(uid)
                log.info(
                    "commitment %s reported to %s (event type %d)",
                    uid,
                    _ae_title(assoc.requestor.ae_title),
                    result.event_type_id,
                )
            else:
                log.warning(
                    "commitment %s: N-EVENT-REPORT-RSP %s; retrying on a new association",
                    uid,
                    "missing" if status is None else f"0x{status:04X}",
                )
                service.schedule(uid)
        finally:
            with self._lock:
                self._reporters.discard(threading.current_thread())

    def join(self, timeout: float | None = None) -> None:
        """Wait for the commitment reports in flight (for tests and orderly shutdown)."""
        with self._lock:
            reporters = list(self._reporters)
        for thread in reporters:
            thread.join(timeout)

    # ------------------------------------------------------------ wiring

    def handlers(self, *, echo: bool = True) -> list[EventHandlerType]:
        """The ``(event, handler)`` pairs for ``AE.start_server(..., evt_handlers=...)``."""
        out: list[EventHandlerType] = [
            (evt.EVT_C_STORE, self.handle_store),
            (evt.EVT_CONN_CLOSE, self.handle_conn_close),
        ]
        if self.commitment is not None:
            out.append((evt.EVT_N_ACTION, self.handle_n_action))
        if echo:
            out.append((evt.EVT_C_ECHO, self.handle_echo))
        return out


def storecore_handlers(
    archive: Archive | StoreSink,
    commitment: CommitmentService | None = None,
    *,
    echo: bool = True,
) -> list[EventHandlerType]:
    """Event handlers that make a pynetdicom AE store into a storecore archive.

    Parameters
    ----------
    archive : Archive or StoreSink
        The archive (its ingest pipeline, as ``storecore serve``) or another sink.
    commitment : CommitmentService, optional
        Also handle Storage Commitment requests (``evt.EVT_N_ACTION``); add the
        Storage Commitment Push Model context (:func:`add_storecore_contexts`
        with ``commitment=True``).
    echo : bool
        Also answer C-ECHO (``evt.EVT_C_ECHO``); pynetdicom's default answers
        Success too.

    Returns
    -------
    list of (event, handler)
        For ``ae.start_server(address, evt_handlers=...)`` or
        ``ae.associate(..., evt_handlers=...)``.

    Examples
    --------
    >>> ae.start_server(("", 11112), evt_handlers=storecore_handlers(archive))  # doctest: +SKIP

    References
    ----------
    PS3.4 Annex B and Annex J.
    """
    return StorecoreHandlers(archive, commitment).handlers(echo=echo)


def _ae_title(value: object) -> str:
    # pynetdicom 2+ keeps AE titles as str; 1.x used bytes
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    return str(value or "").strip()


def _called_ae_title(assoc: Association) -> str:
    # the Called AE Title of the A-ASSOCIATE-RQ (the AE may not require it to be its own)
    primitive = assoc.requestor.primitive
    called = getattr(primitive, "called_ae_title", None)
    return _ae_title(called if called else assoc.acceptor.ae_title)


def _spooled_path(event: Event) -> Path | None:
    """pynetdicom's temporary Part 10 file (``STORE_RECV_CHUNKED_DATASET``), if any."""
    try:
        path = event.dataset_path
    except AttributeError:
        return None
    return Path(path) if isinstance(path, str | os.PathLike) else None


def _feed(handle: StoreHandle, data: memoryview) -> None:
    for start in range(0, len(data), _CHUNK):
        with data[start : start + _CHUNK] as chunk:
            handle.write(chunk)


def _feed_file(handle: StoreHandle, path: Path) -> None:
    """Stream the dataset of a Part 10 file (after its File Meta) into `handle`."""
    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size == 0:
            raise StorecoreError(f"{path}: pynetdicom's dataset file is empty")
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m, memoryview(m) as view:
            meta = read_file_meta(view)
            with view[meta.dataset_offset :] as dataset:
                _feed(handle, dataset)


def _release_pending(assoc: Association) -> bool:
    """The requester's A-RELEASE-RQ is already queued: it is leaving (PS3.4 J.3.3)."""
    try:
        return isinstance(assoc.dul.peek_next_pdu(), A_RELEASE)
    except Exception:  # the DUL is gone
        return True


def _report_dataset(data: bytes, ts: str) -> Dataset:
    """storecore's encoded report, as the pydicom Dataset ``send_n_event_report`` wants."""
    from pydicom.filereader import read_dataset

    return read_dataset(BytesIO(data), is_implicit_VR=ts == IMPLICIT_LE, is_little_endian=True)


# ---------------------------------------------------------------- contexts


def supported_contexts(
    *,
    sop_classes: Iterable[str] | None = None,
    transfer_syntaxes: Sequence[str] | None = None,
    verification: bool = True,
    commitment: bool = False,
) -> list[PresentationContext]:
    """What ``storecore serve`` accepts, as pynetdicom supported presentation contexts.

    Parameters
    ----------
    sop_classes : iterable of str, optional
        Default every Storage SOP Class (:data:`storecore.uid.STORAGE_SOP_CLASSES`).
    transfer_syntaxes : sequence of str, optional
        Default :func:`storecore.scp.default_storage_transfer_syntaxes`: every
        syntax whose dataset the archive keeps as received.
    verification : bool
        Add Verification (Explicit and Implicit VR Little Endian).
    commitment : bool
        Add Storage Commitment Push Model (Explicit and Implicit VR Little
        Endian), for :class:`~storecore.commitment.service.CommitmentService`.

    Notes
    -----
    An acceptor has no limit on its supported contexts (the 128 of PS3.8 and
    pynetdicom bound the contexts one association *requests*). pynetdicom
    accepts, for each proposed context, the first proposed syntax it
    supports: the requester's preference, as ``StorageSCP`` does, which spares
    the sender a transcode.
    """
    syntaxes = list(transfer_syntaxes or default_storage_transfer_syntaxes())
    classes = list(sop_classes) if sop_classes is not None else [c.uid for c in STORAGE_SOP_CLASSES]
    out = [build_context(uid, syntaxes) for uid in dict.fromkeys(classes)]
    if verification:
        out.append(build_context(VERIFICATION_SOP_CLASS, [EXPLICIT_LE, IMPLICIT_LE]))
    if commitment:
        out.append(build_context(STORAGE_COMMITMENT_PUSH_MODEL, [EXPLICIT_LE, IMPLICIT_LE]))
    return out


def add_storecore_contexts(
    ae: AE,
    *,
    sop_classes: Iterable[str] | None = None,
    transfer_syntaxes: Sequence[str] | None = None,
    verification: bool = True,
    commitment: bool = False,
) -> None:
    """Add :func:`supported_contexts` to `ae`'s supported contexts (merged with its own)."""
    for cx in supported_contexts(
        sop_classes=sop_classes,
        transfer_syntaxes=transfer_syntaxes,
        verification=verification,
        commitment=commitment,
    ):
        assert cx.abstract_syntax is not None  # build_context sets it
        ae.add_supported_context(cx.abstract_syntax, cx.transfer_syntax)


def requested_contexts(paths: Iterable[str | os.PathLike[str]]) -> list[PresentationContext]:
    """The presentation contexts to request for sending `paths` with :func:`send_file`.

    As :class:`~storecore.scu.StorageSCU`: per SOP Class, one context per
    distinct syntax of its files (a peer accepting it gets each file
    unchanged), then one in Explicit and Implicit VR Little Endian (what the
    native transcoder can reach). Only the File Meta of each file is read.

    Raises
    ------
    ValueError
        More than 128 contexts are needed (PS3.8 Annex D.3.3.2, pynetdicom's
        limit per association): split the files into batches.
    StorecoreError
        A file is not a Part 10 file.
    """
    exact: dict[tuple[str, str], None] = {}
    for path in paths:
        sop_class, _, ts, _ = _file_meta(path)
        exact[(sop_class, ts)] = None
    contexts = [build_context(sop_class, [ts]) for sop_class, ts in exact]
    contexts += [
        build_context(sop_class, [EXPLICIT_LE, IMPLICIT_LE])
        for sop_class in dict.fromkeys(c for c, _ in exact)
    ]
    if len(contexts) > _MAX_REQUESTED_CONTEXTS:
        raise ValueError(
            f"{len(contexts)} presentation contexts are needed, one association carries "
            f"at most {_MAX_REQUESTED_CONTEXTS}: split the files into batches"
        )
    return contexts


# ---------------------------------------------------------------- sending


class SendResult(NamedTuple):
    """What :func:`send_file` did.

    Attributes
    ----------
    status : pydicom.Dataset
        pynetdicom's C-STORE-RSP status data set (``status.Status``,
        ``status.get("ErrorComment")``); empty if nothing was sent or no
        response came (pynetdicom then aborted the association).
    transcode : TranscodeRecord or None
        None when the file was sent in its own syntax; path SUPPORTED when it
        was rewritten into another native syntax; path NOT_SUPPORTED (and
        nothing sent) when only a compressed/native conversion would do.
    transfer_syntax_uid : str or None
        The syntax the dataset was sent in.
    """

    status: Dataset
    transcode: TranscodeRecord | None
    transfer_syntax_uid: str | None


def send_file(
    assoc: Association,
    path: str | os.PathLike[str],
    *,
    msg_id: int = 1,
    priority: int = 2,
    spool_dir: str | os.PathLike[str] | None = None,
) -> SendResult:
    """C-STORE a Part 10 file on an established pynetdicom association.

    The context is chosen among ``assoc.accepted_contexts`` for the file's SOP
    Class: its own syntax if accepted (the file is sent as is), else a native
    syntax when the file is native (storecore's native transcoder rewrites it,
    every value kept: path SUPPORTED), else nothing is sent and the record's
    path is NOT_SUPPORTED (compressed to native and back waits for the
    transcoding matrix).

    Parameters
    ----------
    assoc : pynetdicom.association.Association
        Established, as requestor (or with the SCU role for the SOP Class).
    path : path
        A Part 10 file.
    msg_id, priority : int
        As ``send_c_store``.
    spool_dir : path, optional
        Where a rewritten file is written before sending (default the system's
        temporary folder); removed once sent.

    Notes
    -----
    pynetdicom 3.0.4 sends a file without decoding it only when
    ``pynetdicom._config.STORE_SEND_CHUNKED_DATASET`` is True (it then streams
    the bytes after the File Meta in PDU-sized chunks). Set it for bulk
    sending; with it off, pynetdicom decodes the file (``dcmread``) and
    re-encodes it. The switch is process-wide and is never changed here.

    Raises
    ------
    RuntimeError
        The association is not established (from pynetdicom).
    StorecoreError
        The file is not a Part 10 file, or cannot be rewritten.

    References
    ----------
    PS3.4 Annex B; PS3.2 Annex N.5.2.5.1 (transcoding paths); PS3.7 9.1.1.
    """
    path = Path(path)
    sop_class, sop_instance, ts, _ = _file_meta(path)
    accepted = [
        str(cx.transfer_syntax[0])
        for cx in assoc.accepted_contexts
        if cx.abstract_syntax == sop_class and cx.as_scu
    ]
    if not accepted:
        log.warning("%s: no accepted context for SOP Class %s", path, sop_class)
        return SendResult(Dataset(), None, None)
    if ts in accepted:
        return SendResult(_send(assoc, path, msg_id, priority), None, ts)
    target = _native_target(ts, accepted)
    if target is None:
        record = TranscodeRecord(
            source_ts=ts,
            target_ts=accepted[0],
            path=TranscodePath.NOT_SUPPORTED,
            codec="",
            original_sop_instance_uid=sop_instance,
            sop_instance_uid=None,
            bytes_in=0,
            bytes_out=0,
        )
        log.warning(
            "%s: NOT_SUPPORTED: the file is in %s, the peer accepted only %s",
            path,
            ts,
            ", ".join(accepted),
        )
        return SendResult(Dataset(), record, None)
    fd, tmp = tempfile.mkstemp(prefix="storecore-send-", suffix=".dcm", dir=spool_dir)
    os.close(fd)
    try:
        record = transcode_file(path, tmp, target)
        return SendResult(_send(assoc, Path(tmp), msg_id, priority), record, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _send(assoc: Association, path: Path, msg_id: int, priority: int) -> Dataset:
    # A path, not a Dataset: with STORE_SEND_CHUNKED_DATASET pynetdicom streams it
    # undecoded, without it it reads and re-encodes it (it picks the context of
    # the file's own syntax, which we checked is accepted)
    if not _config.STORE_SEND_CHUNKED_DATASET:
        log.debug("%s: pynetdicom decodes it (STORE_SEND_CHUNKED_DATASET is off)", path)
    status = assoc.send_c_store(path, msg_id=msg_id, priority=priority)
    return status


def _native_target(ts: str, accepted: Sequence[str]) -> str | None:
    """The accepted native syntax a native file is rewritten into, best first."""
    if not _is_native(ts):
        return None
    native = [t for t in accepted if _is_native(t)]
    for preferred in (EXPLICIT_LE, IMPLICIT_LE):
        if preferred in native:
            return preferred
    return native[0] if native else None


def _is_native(uid: str) -> bool:
    try:
        return bool(transfer_syntax(uid).native)
    except StorecoreError:
        return False


def _file_meta(path: str | os.PathLike[str]) -> tuple[str, str, str, int]:
    """(SOP Class UID, SOP Instance UID, Transfer Syntax UID, dataset offset) from the File Meta."""
    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size == 0:
            raise StorecoreError(f"{os.fspath(path)}: empty file")
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
            meta = read_file_meta(m)
    if not meta.media_storage_sop_class_uid or not meta.media_storage_sop_instance_uid:
        raise StorecoreError(
            f"{os.fspath(path)}: the File Meta lacks the Media Storage SOP Class/Instance UID"
        )
    return (
        meta.media_storage_sop_class_uid,
        meta.media_storage_sop_instance_uid,
        meta.transfer_syntax_uid,
        meta.dataset_offset,
    )

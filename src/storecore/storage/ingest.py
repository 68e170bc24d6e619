"""The ingest pipeline: spool, validate, transcode, commit, then answer.

:class:`ArchiveSink` is the :class:`~storecore.storage.StoreSink` the Storage
SCP streams into when it serves the archive. For every C-STORE, in this order
(docs/design-archive.md), with the dataset never decoded into pydicom objects:

1. **spool**: each PDV fragment is written to the spool file, hashed (BLAKE3)
   and fed to the scanner, which checks the structure and captures the index
   keys (:data:`INDEX_TAGS`), all on the same pass;
2. **validate**: the SOP Class/Instance UIDs of the data set must be the
   command's (else 0xA900), then the policy's validators run;
3. **transcode**: when the policy names another syntax to store in, through
   the transcoding matrix (:mod:`storecore.transcode.matrix`): SUPPORTED is
   stored under the same UID, NEW_UID (lossy, only with ``allow_lossy``) under
   a new one that the index maps the sender's UID to, answered 0xB000; a
   transcode that cannot be done refuses the instance (0xC000) or, if the
   policy says so, stores it as received with a NOT_SUPPORTED record
   (:class:`~storecore.storage.policy.TranscodeFailure`). The codecs release
   the GIL and this runs in the association's own thread, outside every lock:
   concurrent associations transcode on all cores;
4. **commit**: the group committer publishes, indexes and (``fsync``
   durability) syncs the batch, then answers.

Space is checked before the data is accepted: a free-space watermark, and a
reservation per instance in flight that grows as its bytes arrive; a store
that would cross the watermark, or a write that fails (ENOSPC), is answered
0xA700 and leaves nothing behind.

:meth:`ArchiveSink.adopt` is the same pipeline for a dataset that another
writer already put in a Part 10 file (pynetdicom's
``STORE_RECV_CHUNKED_DATASET`` file): the file is moved into the spool, not
copied, and step 1 runs over its map in one pass; steps 2-4 and the statuses
are the streamed ingest's.
"""

from __future__ import annotations

import logging
import mmap
import os
import threading
import time
import uuid
from collections.abc import Sequence
from typing import Any

import blake3

from storecore._typing import Buffer
from storecore.dataset import Scanner
from storecore.dataset.part10 import encode_file_meta, read_file_meta
from storecore.dataset.summary import _decode_text, _is, _str
from storecore.errors import DatasetError, StorecoreError
from storecore.storage.blobstore import BlobStore, Spool, is_out_of_space
from storecore.storage.commit import CommitItem, GroupCommitter
from storecore.storage.index import InstanceRecord
from storecore.storage.policy import Finding, IngestedInstance, StoragePolicy, TranscodeFailure
from storecore.storage.sink import (
    Prepared,
    RefusedHandle,
    StoreHandle,
    StoreRequest,
    StoreResult,
)
from storecore.uid import is_valid_uid, transfer_syntax

__all__ = ["INDEX_TAGS", "ArchiveSink", "record_from_file", "DIGEST_PREFIX"]

log = logging.getLogger(__name__)

_SUCCESS = 0x0000
_COERCION = 0xB000
_SOP_INSTANCE_UID = 0x00080018
_PROCESSING_FAILURE = 0x0110
_OUT_OF_RESOURCES = 0xA700
_DOES_NOT_MATCH = 0xA900
_CANNOT_UNDERSTAND = 0xC000

DIGEST_PREFIX = "blake3:"

#: The data set bytes kept for validators (IngestedInstance.head): an image's
#: attributes before its Pixel Data are a few KiB (a longer header is read from
#: the spool file); every byte kept is copied twice an instance
_HEAD_BYTES = 16 * 1024

#: The index keys, captured from the top level of every received data set
#: (ascending tag order, as they arrive).
INDEX_TAGS: tuple[int, ...] = (
    0x00080005,  # Specific Character Set
    0x00080016,  # SOP Class UID
    0x00080018,  # SOP Instance UID
    0x00080020,  # Study Date
    0x00080030,  # Study Time
    0x00080050,  # Accession Number
    0x00080060,  # Modality
    0x00081030,  # Study Description
    0x0008103E,  # Series Description
    0x00100010,  # Patient's Name
    0x00100020,  # Patient ID
    0x00100030,  # Patient's Birth Date
    0x00100040,  # Patient's Sex
    0x0020000D,  # Study Instance UID
    0x0020000E,  # Series Instance UID
    0x00200010,  # Study ID
    0x00200011,  # Series Number
    0x00200013,  # Instance Number
    0x00280008,  # Number of Frames
)


# the namespace of the UUIDs (RFC 4122 name-based, SHA-1) behind the new UIDs of
# instances stored lossy: the name is the received instance, so a sender that
# sends it again gets the same new UID (and the duplicate policy decides)
_LOSSY_UID_NAMESPACE = uuid.UUID("5d0b8f61-3c4e-4f8e-9a3b-2f6f7c1d9e42")


def lossy_uid(original: str, received_digest: str, target_ts: str, root: str | None) -> str:
    """The SOP Instance UID of `original` stored lossy in `target_ts` (PS3.5 B.2).

    ``2.25.<UUID>`` (or `root` + "." + the UUID's digits, cut to 64
    characters), the UUID a version 5 one named by the received instance
    (its UID and dataset digest) and the target syntax: the same received
    instance always maps to the same new one, a different one never does.
    """
    digits = uuid.uuid5(_LOSSY_UID_NAMESPACE, f"{original}|{received_digest}|{target_ts}").int
    prefix = "2.25" if root is None else root.rstrip(".")
    return f"{prefix}.{digits}"[:64].rstrip(".")


def _short(text: str) -> str:
    # Error Comment is LO: at most 64 characters (PS3.7 C.4, PS3.5 Table 6.2-1)
    return text if len(text) <= 64 else text[:61] + "..."


def _record(
    captures: Sequence[bytes | None],
    *,
    blob_key: str,
    size: int,
    digest: str,
    received_digest: str,
    received_ts: str,
    stored_ts: str,
    calling: str,
    called: str,
    received_at: float,
    transcode: dict[str, Any] | None,
    findings: list[dict[str, Any]],
    synced: bool,
    sop_instance_uid: str | None = None,
    original_sop_instance_uid: str | None = None,
) -> InstanceRecord:
    """The index record of a data set whose :data:`INDEX_TAGS` are `captures`.

    `sop_instance_uid` replaces the data set's own when the archive stores the
    instance under a new one (lossy, NEW_UID), whose sender's UID is then
    `original_sop_instance_uid`.
    """
    (
        charset,
        sop_class,
        sop_instance,
        study_date,
        study_time,
        accession,
        modality,
        study_description,
        series_description,
        name,
        pid,
        birth_date,
        sex,
        study,
        series,
        study_id,
        series_number,
        instance_number,
        frames,
    ) = captures
    charset_raw = _str(charset)
    charsets = tuple(v.strip() for v in charset_raw.split("\\")) if charset_raw else ()

    def text(raw: bytes | None) -> str:
        return _decode_text(raw, charsets) or ""

    return InstanceRecord(
        sop_instance_uid=sop_instance_uid or _str(sop_instance) or "",
        sop_class_uid=_str(sop_class) or "",
        blob_key=blob_key,
        size=size,
        digest=digest,
        received_digest=received_digest,
        received_transfer_syntax=received_ts,
        stored_transfer_syntax=stored_ts,
        calling_ae_title=calling,
        called_ae_title=called,
        received_at=received_at,
        transcode=transcode,
        findings=findings,
        synced=synced,
        patient_id=text(pid),
        patient_name=text(name),
        patient_birth_date=_str(birth_date) or "",
        patient_sex=_str(sex) or "",
        study_instance_uid=_str(study) or None,
        study_date=_str(study_date) or "",
        study_time=_str(study_time) or "",
        accession_number=text(accession),
        study_id=text(study_id),
        study_description=text(study_description),
        series_instance_uid=_str(series) or None,
        modality=_str(modality) or "",
        series_number=_is(series_number),
        series_description=text(series_description),
        instance_number=_is(instance_number),
        number_of_frames=_is(frames),
        original_sop_instance_uid=original_sop_instance_uid,
    )


def record_from_file(path: str | os.PathLike[str], blob_key: str, **extra: Any) -> InstanceRecord:
    """Rebuild an index record from a stored Part 10 file (recovery, ``verify --repair``).

    Everything but most of the transcoding record is in the file: the File
    Meta gives the Transfer Syntax and the Source AE Title (the calling AE),
    the mtime the reception time. A lossy copy that the ingest stored under a
    new UID (NEW_UID) names the received instance in its Source Image
    Sequence: the record maps that original UID to the new one again
    (:func:`lossy_original`), as the ingest's row would have.
    """
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m, memoryview(m) as view:
            meta = read_file_meta(view)
            scanner = Scanner(meta.transfer_syntax_uid, tokens=False, capture=INDEX_TAGS)
            with view[meta.dataset_offset :] as dataset:
                scanner.feed(dataset)
                scanner.close()
                digest = DIGEST_PREFIX + blake3.blake3(dataset, max_threads=1).hexdigest()
                original = lossy_original(dataset, meta.transfer_syntax_uid)
            del dataset
        mtime = os.fstat(f.fileno()).st_mtime
    fields: dict[str, Any] = {
        "blob_key": blob_key,
        "size": size,
        "digest": digest,
        "received_digest": digest,
        "received_ts": meta.transfer_syntax_uid,
        "stored_ts": meta.transfer_syntax_uid,
        "calling": meta.source_application_entity_title or "",
        "called": "",
        "received_at": mtime,
        "transcode": None,
        "findings": [],
        "synced": True,
    }
    captures = scanner.captures()
    if original is not None and original != _str(captures[2]):
        fields["transcode"] = {
            "path": "NEW_UID",
            "target_ts": meta.transfer_syntax_uid,
            "original_sop_instance_uid": original,
            "sop_instance_uid": _str(captures[2]),
            "recovered": "from the Source Image Sequence",
        }
    if original is not None and original != _str(captures[2]):
        fields["original_sop_instance_uid"] = original
    fields.update(extra)
    return _record(captures, **fields)


_DERIVATION_DESCRIPTION = 0x00082111
_SOURCE_IMAGE_SEQUENCE = 0x00082112
_REFERENCED_SOP_INSTANCE_UID = 0x00081155


def lossy_original(dataset: Buffer, transfer_syntax_uid: str) -> str | None:
    """The received SOP Instance UID of a lossy copy the ingest stored, or None.

    storecore's NEW_UID outputs (:mod:`storecore.transcode.matrix`) carry a
    Derivation Description (0008,2111) beginning with
    :data:`~storecore.transcode.records.LOSSY_DERIVATION` and a Source Image
    Sequence (0008,2112) whose one item's Referenced SOP Instance UID
    (0008,1155) is the instance as received (PS3.3 C.7.6.1.1.3). Both are
    required: a Source Image Sequence alone is any derived image's reference
    to its source, which is not the same instance. Only the elements before
    the Pixel Data are scanned (the scan stops at (0008,2113)).
    """
    from storecore.transcode.records import LOSSY_DERIVATION

    if not transfer_syntax(transfer_syntax_uid).encapsulated:
        return None  # the lossy outputs are compressed
    scanner = Scanner(transfer_syntax_uid, stop_tag=_SOURCE_IMAGE_SEQUENCE + 1)
    view = memoryview(dataset)
    tokens = scanner.feed(view)
    description = None
    referenced = None
    in_source = False
    for t in tokens:
        if t.depth == 0:
            in_source = t.tag == _SOURCE_IMAGE_SEQUENCE
            if t.tag == _DERIVATION_DESCRIPTION:
                description = _str(bytes(view[t.value_offset : t.value_offset + t.length]))
        elif in_source and t.depth == 2 and t.tag == _REFERENCED_SOP_INSTANCE_UID:
            if referenced is not None:
                return None  # more than one source: not the ingest's copy
            referenced = _str(bytes(view[t.value_offset : t.value_offset + t.length]))
    if not description or not description.startswith(LOSSY_DERIVATION):
        return None
    return referenced if referenced and is_valid_uid(referenced) else None


def file_digest(path: str | os.PathLike[str]) -> str:
    """The ``blake3:`` digest of a Part 10 file's dataset bytes."""
    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size == 0:
            raise DatasetError("empty file")
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m, memoryview(m) as view:
            meta = read_file_meta(view)
            with view[meta.dataset_offset :] as dataset:
                digest = DIGEST_PREFIX + blake3.blake3(dataset, max_threads=1).hexdigest()
            return digest


class ArchiveSink:
    """Stream each received instance through the ingest pipeline into an archive.

    Usually made by :meth:`storecore.storage.Archive.sink`.
    """

    def __init__(self, store: BlobStore, committer: GroupCommitter, policy: StoragePolicy) -> None:
        self.store = store
        self.committer = committer
        self.policy = policy
        self._reserved = 0
        self._lock = threading.Lock()
        #: the size of the last data set's spool file as received: what
        #: :meth:`prepare` pre-writes
        self.expect = 0

    # --------------------------------------------------------------- space

    def reserve(self, nbytes: int) -> str | None:
        """Reserve space for data about to arrive; None, or why it cannot be."""
        free = self.store.free_bytes()
        with self._lock:
            left = free - self._reserved - nbytes
            if left < self.policy.min_free_bytes:
                return (
                    f"out of space: {free >> 20} MiB free, {self._reserved >> 20} MiB reserved, "
                    f"watermark {self.policy.min_free_bytes >> 20} MiB"
                )
            self._reserved += nbytes
        return None

    def unreserve(self, nbytes: int) -> None:
        with self._lock:
            self._reserved -= nbytes

    # --------------------------------------------------------------- sink

    def begin(self, request: StoreRequest, spool: Spool | None = None) -> StoreHandle:
        """An instance's data set is about to arrive (`spool`: its prepared spool file)."""
        if not is_valid_uid(request.sop_instance_uid):
            if spool is not None:
                spool.discard()
            return RefusedHandle(StoreResult(_CANNOT_UNDERSTAND, "invalid SOP Instance UID"))
        why = self.reserve(self.policy.reservation_bytes)
        if why is not None:
            log.warning("refused %s: %s", request.sop_instance_uid, why)
            if spool is not None:
                spool.discard()
            return RefusedHandle(StoreResult(_OUT_OF_RESOURCES, _short(why)))
        try:
            return _IngestHandle(self, request, spool)
        except OSError as exc:
            self.unreserve(self.policy.reservation_bytes)
            what = "disk full" if is_out_of_space(exc) else exc.strerror
            return RefusedHandle(StoreResult(_OUT_OF_RESOURCES, _short(f"cannot spool: {what}")))

    def prepare(self) -> Prepared:
        """Create the next instance's spool file now, while the association is idle.

        The SCP calls this after each response (:class:`StoreSink`): the file
        exists before the request arrives, and its creation is no longer
        between the request and the response. It holds no reservation; that
        is taken when the request comes (:meth:`begin`). It is pre-written to
        the size of the last spool received (:func:`~storecore.storage.blobstore.prewrite`):
        the page cache's new pages are taken now, not while the data set arrives.
        """
        return _PreparedSpool(self, self.store.spool(self.expect))

    def adopt(self, path: str | os.PathLike[str], request: StoreRequest) -> StoreResult:
        """Ingest a Part 10 file another writer has completed, moving it into the archive.

        For a dataset that has already been written to disk with a File Meta
        (pynetdicom's ``STORE_RECV_CHUNKED_DATASET`` temporary file): the file
        is renamed into the spool (:meth:`BlobStore.adopt`; copied in the
        kernel when it is on another filesystem), the BLAKE3 digest and the
        scan run in one pass over its map, then the checks, validators,
        transcoding and group commit of a streamed ingest, with the same
        statuses. The file keeps the File Meta it came with (its dataset bytes
        are the ones received), which must name `request`'s SOP Class, SOP
        Instance and Transfer Syntax.

        `path` is consumed: once this returns it is in the store, or removed
        (a refused or failed instance leaves nothing in the spool either).

        Parameters
        ----------
        path : path
            The complete Part 10 file.
        request : StoreRequest
            The C-STORE-RQ it came with.

        Returns
        -------
        StoreResult
            The C-STORE-RSP status, as :meth:`StoreHandle.finish` answers it.

        References
        ----------
        PS3.4 B.2.3 (statuses); PS3.10 7.1 (File Meta Information).
        """
        if not is_valid_uid(request.sop_instance_uid):
            _remove(path)
            return StoreResult(_CANNOT_UNDERSTAND, "invalid SOP Instance UID")
        try:
            size = os.stat(path).st_size
        except OSError as exc:
            _remove(path)
            return StoreResult(_OUT_OF_RESOURCES, _short(f"cannot adopt: {exc.strerror}"))
        # what a streamed ingest reserves by the time `size` bytes have arrived
        reserved = max(size, self.policy.reservation_bytes)
        why = self.reserve(reserved)
        if why is not None:
            log.warning("refused %s: %s", request.sop_instance_uid, why)
            _remove(path)
            return StoreResult(_OUT_OF_RESOURCES, _short(why))
        try:
            spool = self.store.adopt(path)
        except OSError as exc:
            self.unreserve(reserved)
            what = "disk full" if is_out_of_space(exc) else exc.strerror
            return StoreResult(_OUT_OF_RESOURCES, _short(f"cannot spool: {what}"))
        return _AdoptedHandle(self, request, spool, reserved).run()


class _PreparedSpool:
    """A spool file created ahead of its instance (:meth:`ArchiveSink.prepare`)."""

    def __init__(self, sink: ArchiveSink, spool: Spool) -> None:
        self.sink = sink
        self.spool = spool

    def begin(self, request: StoreRequest) -> StoreHandle:
        return self.sink.begin(request, self.spool)

    def discard(self) -> None:
        self.spool.discard()


class _IngestHandle:
    def __init__(
        self, sink: ArchiveSink, request: StoreRequest, spool: Spool | None = None
    ) -> None:
        if spool is None:
            spool = sink.store.spool()
        self._start(sink, request, spool, sink.policy.reservation_bytes, 0)
        # and the data set's first bytes, where they read the values (not deflated:
        # the tokens' offsets are in the inflated stream)
        self.head: bytearray | None = None
        if self.tokens is not None and not self.scanner.transfer_syntax.deflated:
            self.head = bytearray()
        try:
            self.meta = encode_file_meta(
                request.sop_class_uid,
                request.sop_instance_uid,
                request.transfer_syntax_uid,
                source_ae_title=request.calling_ae_title or None,
            )
            spool.write(self.meta)
        except StorecoreError as exc:
            self._fail(StoreResult(_CANNOT_UNDERSTAND, _short(str(exc))))
        except OSError as exc:
            self._fail_os(exc)

    def _start(
        self, sink: ArchiveSink, request: StoreRequest, spool: Spool, reserved: int, received: int
    ) -> None:
        """The state the steps read, for a streamed and an adopted ingest alike."""
        self.sink = sink
        self.request = request
        self.policy = sink.policy
        self.reserved = reserved
        self.received = received
        self.failed: StoreResult | None = None
        self.spool: Spool | None = spool
        self.hasher = blake3.blake3(max_threads=1)
        # with validators, the tokens are kept for them (one scan serves both)
        self.tokens: list[Any] | None = [] if self.policy.validators else None
        self.scanner = Scanner(
            request.transfer_syntax_uid,
            tokens=self.tokens is not None,
            capture=INDEX_TAGS,
            limits=self.policy.limits,
            lenient_odd_length=self.policy.lenient_odd_length,
        )

    def _fail(self, result: StoreResult) -> None:
        # the answer is decided; free the space now, keep draining the peer's data
        self.failed = result
        if self.spool is not None:
            self.spool.discard()
            self.spool = None
        self._unreserve()

    def _fail_os(self, exc: OSError) -> None:
        what = "disk full" if is_out_of_space(exc) else exc.strerror or str(exc)
        log.warning("cannot store %s: %s", self.request.sop_instance_uid, what)
        self._fail(StoreResult(_OUT_OF_RESOURCES, _short(f"cannot store: {what}")))

    def _unreserve(self) -> None:
        if self.reserved:
            self.sink.unreserve(self.reserved)
            self.reserved = 0

    def write(self, chunk: memoryview) -> None:
        # once a PDV: attributes are read into locals once
        spool = self.spool
        if self.failed is not None or spool is None:
            return
        received = self.received = self.received + len(chunk)
        if received > self.reserved:
            grow = max(self.policy.reservation_bytes, received - self.reserved)
            why = self.sink.reserve(grow)
            if why is not None:
                self._fail(StoreResult(_OUT_OF_RESOURCES, _short(why)))
                return
            self.reserved += grow
        try:
            spool.write(chunk)
        except OSError as exc:
            self._fail_os(exc)
            return
        self.hasher.update(chunk)
        head = self.head
        if head is not None and len(head) < _HEAD_BYTES:
            head += chunk[: _HEAD_BYTES - len(head)]
        try:
            found = self.scanner.feed(chunk)
            tokens = self.tokens
            if tokens is not None:
                tokens += found
        except DatasetError as exc:
            self._fail(StoreResult(_CANNOT_UNDERSTAND, _short(str(exc))))

    def abort(self) -> None:
        if self.spool is not None:
            self.spool.discard()
            self.spool = None
        self._unreserve()

    def finish(self) -> StoreResult:
        try:
            if self.failed is not None:
                return self.failed
            spool = self.spool
            assert spool is not None
            try:
                result = self._finish(spool)
            except OSError as exc:
                self._fail_os(exc)
                assert self.failed is not None
                return self.failed
            except BaseException:
                self.abort()
                raise
            if result is not None:
                self._fail(result)
                return result
            return self._commit(spool)
        finally:
            self._unreserve()

    def _finish(self, spool: Spool) -> StoreResult | None:
        """Checks, validators and transcoding; None when the instance goes on to commit."""
        req = self.request
        spool.complete()  # a pre-written spool holds zeros past the data set until now
        self.sink.expect = spool.size  # as received: what the next spool is pre-written to
        try:
            # a dataset that ends inside an element or sequence raises
            found = self.scanner.close()
            if self.tokens is not None:
                self.tokens += found
        except DatasetError as exc:
            return StoreResult(_CANNOT_UNDERSTAND, _short(str(exc)))
        captures = self.scanner.captures()
        sop_class, sop_instance = _str(captures[1]), _str(captures[2])
        # PS3.4 B.2.3: the data set must be the instance the command names
        if sop_class != req.sop_class_uid:
            return StoreResult(
                _DOES_NOT_MATCH, _short(f"SOP Class UID in data set is {sop_class or 'absent'}")
            )
        if sop_instance != req.sop_instance_uid:
            return StoreResult(
                _DOES_NOT_MATCH,
                _short(f"SOP Instance UID in data set is {sop_instance or 'absent'}"),
            )
        for name, raw in (("Study", captures[13]), ("Series", captures[14])):
            uid = _str(raw)
            if uid and not is_valid_uid(uid):
                return StoreResult(
                    _CANNOT_UNDERSTAND, _short(f"{name} Instance UID {uid!r} is not a valid UID")
                )
        self.captures = captures
        self.status = _SUCCESS
        self.comment: str | None = None
        self.findings: list[Finding] = []
        if self.policy.validators:
            refused = self._validate(spool, captures)
            if refused is not None:
                return refused
        received_digest = DIGEST_PREFIX + self.hasher.hexdigest()
        self.received_digest = received_digest
        self.digest = received_digest
        self.stored_ts = req.transfer_syntax_uid
        self.transcode: dict[str, Any] | None = None
        self.new_uid: str | None = None
        target = self.policy.target_syntax(_str(captures[6]) or "")
        if target and target != req.transfer_syntax_uid:
            return self._transcode(target)
        return None

    def _validate(self, spool: Spool, captures: Sequence[bytes | None]) -> StoreResult | None:
        req = self.request
        instance = IngestedInstance(
            sop_class_uid=req.sop_class_uid,
            sop_instance_uid=req.sop_instance_uid,
            transfer_syntax_uid=req.transfer_syntax_uid,
            calling_ae_title=req.calling_ae_title,
            captures=dict(zip(INDEX_TAGS, captures, strict=True)),
            path=str(spool.path),
            dataset_offset=len(self.meta),
            tokens=self.tokens,
            head=None if self.head is None else bytes(self.head),
        )
        for validator in self.policy.validators:
            name = getattr(validator, "__name__", type(validator).__name__)
            try:
                found = list(validator(instance))
            except Exception as exc:
                log.exception("validator %s failed on %s", name, req.sop_instance_uid)
                return StoreResult(_PROCESSING_FAILURE, _short(f"validator {name} failed: {exc}"))
            for finding in found:
                if not finding.validator:
                    finding = Finding(finding.status, finding.comment, name)
                if finding.status >> 12 != 0xB:  # not a warning: refused
                    return StoreResult(finding.status, _short(finding.comment))
                self.findings.append(finding)
                if self.status == _SUCCESS:
                    self.status, self.comment = finding.status, _short(finding.comment)
        return None

    def _transcode(self, target: str) -> StoreResult | None:
        """Store in `target` through the matrix; a refusal, or None to go on to commit."""
        from storecore.transcode.matrix import transcode_path
        from storecore.transcode.records import TranscodePath

        assert self.spool is not None
        policy = self.policy
        src, dst = transfer_syntax(self.request.transfer_syntax_uid), transfer_syntax(target)
        decision = transcode_path(src, dst, allow_lossy=policy.allow_lossy)
        if decision.path is TranscodePath.NOT_SUPPORTED:
            return self._not_transcoded(dst.uid, decision.reason)
        self.spool.close()
        out: Spool | None
        try:
            if src.native and dst.native:
                out, record = self._transcode_native(dst.uid)
            else:
                out, record = self._transcode_pixels(dst.uid, decision.path)
        except StorecoreError as exc:  # TranscodeError, or data the codec path cannot read
            return self._not_transcoded(dst.uid, str(exc))
        except Exception as exc:  # a codec's bug is a status, never an aborted association
            log.exception("transcoding %s to %s failed", self.request.sop_instance_uid, dst.uid)
            return StoreResult(_PROCESSING_FAILURE, _short(f"transcode failed: {exc}"))
        if out is None:
            return None
        self.spool.discard()
        self.spool = out
        self.stored_ts = dst.uid
        self.transcode = {
            "path": record.path.value,
            "source_ts": record.source_ts,
            "target_ts": record.target_ts,
            "codec": record.codec,
            "original_sop_instance_uid": record.original_sop_instance_uid,
            "sop_instance_uid": record.sop_instance_uid,
            "bytes_in": record.bytes_in,
            "bytes_out": record.bytes_out,
        }
        if record.ratio is not None:
            self.transcode["ratio"] = round(record.ratio, 3)
        if record.path is TranscodePath.NEW_UID:
            assert record.sop_instance_uid is not None
            self.new_uid = record.sop_instance_uid
            # PS3.4 B.2.3: the SCP changed attribute values (the SOP Instance UID,
            # Lossy Image Compression and its Ratio/Method, the Source Image
            # Sequence): 0xB000 Coercion of Data Elements, over a validator's warning
            self.status = _COERCION
            self.comment = _short(f"lossy, new UID {record.sop_instance_uid}")
            self.findings.append(
                Finding(
                    _COERCION,
                    f"lossy compression to {dst.name}: stored as SOP Instance UID "
                    f"{record.sop_instance_uid} (sent as {record.original_sop_instance_uid})",
                    "storecore.ingest",
                )
            )
        return None

    def _not_transcoded(self, target: str, reason: str) -> StoreResult | None:
        """The policy's outcome for a transcode that cannot be done (:class:`TranscodeFailure`)."""
        req = self.request
        if self.policy.on_transcode_failure is TranscodeFailure.REFUSE:
            log.warning("refused %s: not stored as %s: %s", req.sop_instance_uid, target, reason)
            ts = transfer_syntax(target)
            # the comment has 64 characters (LO): the keyword, not the syntax's name twice
            why = reason[len(ts.name) :].lstrip(": ") if reason.startswith(ts.name) else reason
            return StoreResult(_CANNOT_UNDERSTAND, _short(f"not stored as {ts.keyword}: {why}"))
        log.warning(
            "%s stored as received (%s), not as %s: %s",
            req.sop_instance_uid,
            req.transfer_syntax_uid,
            target,
            reason,
        )
        self.transcode = {
            "path": "NOT_SUPPORTED",
            "source_ts": req.transfer_syntax_uid,
            "target_ts": target,
            "reason": reason,
            "outcome": "stored as received",
        }
        return None

    def _transcode_native(self, target: str) -> tuple[Spool, Any]:
        """Native -> native: streamed by :mod:`storecore.transcode.native`, no pixel decoding."""
        from storecore.transcode.native import transcode_part10

        assert self.spool is not None
        out = self.sink.store.spool()
        hasher = blake3.blake3(max_threads=1)
        header = True

        def write(chunk: Any) -> None:
            nonlocal header
            out.write(chunk)
            if header:  # the first write is the new File Meta
                header = False
            else:
                hasher.update(chunk)

        try:
            with (
                open(self.spool.path, "rb") as f,
                mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m,
            ):
                record = transcode_part10(
                    m,
                    transfer_syntax(target),
                    write,
                    limits=self.policy.limits,
                    lenient_odd_length=self.policy.lenient_odd_length,
                )
        except BaseException:
            out.discard()
            raise
        self.digest = DIGEST_PREFIX + hasher.hexdigest()
        return out, record

    def _transcode_pixels(self, target: str, path: Any) -> tuple[Spool | None, Any]:
        """Through the codecs; (None, record) when there is no Pixel Data to re-encode."""
        from storecore.transcode.matrix import transcode

        assert self.spool is not None
        req = self.request
        # bytes, not a map of the spool: a codec's exception must not pin a view
        # of a map that is then closed (BufferError), and the codecs copy anyway
        with open(self.spool.path, "rb") as f:
            data = f.read()
        encoded, record = transcode(
            data,
            target,
            allow_lossy=self.policy.allow_lossy,
            # a lossy output's UID, derived from the received instance: the
            # same instance sent again maps to the same new one
            new_sop_instance_uid=lossy_uid(
                req.sop_instance_uid, self.received_digest, target, self.policy.uid_root
            ),
            limits=self.policy.limits,
        )
        del data
        if transfer_syntax(target).encapsulated and record.ratio is None:
            # no Pixel Data was encoded: an SR, a KOS... is kept as it came
            return None, record
        out = self.sink.store.spool()
        try:
            out.write(encoded)
        except BaseException:
            out.discard()
            raise
        offset = read_file_meta(encoded).dataset_offset
        with memoryview(encoded) as view, view[offset:] as dataset:
            self.digest = DIGEST_PREFIX + blake3.blake3(dataset, max_threads=1).hexdigest()
        return out, record

    def _commit(self, spool: Spool) -> StoreResult:
        spool = self.spool if self.spool is not None else spool
        durable = self.sink.committer.durable
        try:
            # no fsync here: the committer syncs the whole batch at once
            spool.close()
        except OSError as exc:
            self._fail_os(exc)
            assert self.failed is not None
            return self.failed
        req = self.request
        record = _record(
            self.captures,
            blob_key="",
            size=spool.size,
            digest=self.digest,
            received_digest=self.received_digest,
            received_ts=req.transfer_syntax_uid,
            stored_ts=self.stored_ts,
            calling=req.calling_ae_title,
            called=req.called_ae_title,
            received_at=time.time(),
            transcode=self.transcode,
            findings=[f.as_json() for f in self.findings],
            synced=durable,
            # stored lossy under a new UID: the row maps the sender's UID to it
            sop_instance_uid=self.new_uid,
            original_sop_instance_uid=None if self.new_uid is None else req.sop_instance_uid,
        )
        self.spool = None
        return self.sink.committer.submit(
            CommitItem(spool, record, status=self.status, comment=self.comment)
        )


def _remove(path: str | os.PathLike[str]) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as exc:  # the answer does not depend on it; say so
        log.warning("cannot remove %s: %s", os.fspath(path), exc)


class _AdoptedHandle(_IngestHandle):
    """:meth:`ArchiveSink.adopt`: a streamed ingest whose spool file arrived complete."""

    def __init__(
        self, sink: ArchiveSink, request: StoreRequest, spool: Spool, reserved: int
    ) -> None:
        # the state _IngestHandle's steps 2-4 read; nothing is written here
        self._start(sink, request, spool, reserved, spool.size)
        self.head: bytearray | None = None
        self.meta = b""

    def run(self) -> StoreResult:
        """Step 1 over the file's map, then :meth:`finish` (steps 2-4)."""
        spool = self.spool
        assert spool is not None
        try:
            refused = self._scan(spool)
        except DatasetError as exc:
            refused = StoreResult(_CANNOT_UNDERSTAND, _short(str(exc)))
        except OSError as exc:
            self._fail_os(exc)
            return self.failed or StoreResult(_OUT_OF_RESOURCES)
        except BaseException:
            self.abort()
            raise
        if refused is not None:
            self._fail(refused)
            return refused
        return self.finish()

    def _scan(self, spool: Spool) -> StoreResult | None:
        req = self.request
        if spool.size == 0:
            raise DatasetError("the file to adopt is empty")
        with (
            open(spool.path, "rb") as f,
            mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m,
            memoryview(m) as view,
        ):
            meta = read_file_meta(view)
            for what, theirs, ours in (
                ("Transfer Syntax", meta.transfer_syntax_uid, req.transfer_syntax_uid),
                ("SOP Class", meta.media_storage_sop_class_uid, req.sop_class_uid),
                ("SOP Instance", meta.media_storage_sop_instance_uid, req.sop_instance_uid),
            ):
                if theirs != ours:
                    # not the dataset of this C-STORE: its bytes cannot be trusted
                    why = f"the file's {what} UID is {theirs or 'absent'}"
                    return StoreResult(_PROCESSING_FAILURE, _short(why))
            self.meta = bytes(view[: meta.dataset_offset])  # what _validate offsets by
            # the one pass of a streamed ingest, over the whole dataset at once:
            # no Python-level copy; blake3 releases the GIL on large inputs
            with view[meta.dataset_offset :] as dataset:
                self.hasher.update(dataset)
                found = self.scanner.feed(dataset)
                if self.tokens is not None and not self.scanner.transfer_syntax.deflated:
                    self.head = bytearray(dataset[:_HEAD_BYTES])
            if self.tokens is not None:
                self.tokens += found
        return None

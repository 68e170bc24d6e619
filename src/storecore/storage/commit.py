"""Group commit: instances are published, indexed and answered in batches.

Every association thread hands its complete spool file to
:meth:`GroupCommitter.submit` and waits. The first thread to submit while
nobody commits becomes the leader and, for everything pending:

1. decides each duplicate against the index (one leader at a time: two
   associations racing on one SOP Instance UID are serialized here);
2. publishes the files (rename in the spool to ``pub.<tag>.<digest>.<key>``,
   hard link into place);
3. applies the batch's index operations in one transaction (WAL,
   ``synchronous=NORMAL``: no fsync of its own);
4. with the ``fsync`` durability, one ``syncfs`` of the store's filesystem
   makes files, names and WAL durable together;
5. drops the spool names and answers every waiter; the next pending thread
   leads the next batch.

A failure at 3 unpublishes the batch and answers 0xA700: nothing is visible
that the index does not know. See docs/design-archive.md for the crash cases.

With the ``background`` durability a flusher thread does step 4 every
``flush_interval`` seconds and marks the rows synced. Threads that own storage
work live with the storage, not in ``net`` (STYLE.md keeps sockets and event
loops there).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from dataclasses import dataclass, field

from storecore.errors import StorageError
from storecore.storage.blobstore import (
    BlobStore,
    Layout,
    PendingDelete,
    Spool,
    blob_key,
    is_out_of_space,
)
from storecore.storage.index import (
    Index,
    IndexOp,
    Insert,
    InstanceRecord,
    MarkSynced,
    Replace,
    stored_as,
)
from storecore.storage.policy import DuplicatePolicy, Durability, StoragePolicy
from storecore.storage.sink import StoreResult

__all__ = ["CommitItem", "GroupCommitter"]

log = logging.getLogger(__name__)

_SUCCESS = 0x0000
_DUPLICATE_SOP_INSTANCE = 0x0111  # PS3.7 C.5.8
_OUT_OF_RESOURCES = 0xA700
_CANNOT_UNDERSTAND = 0xC000
_MAX_BATCH = 256


@dataclass(slots=True, eq=False)
class CommitItem:
    """One complete instance waiting for its commit."""

    spool: Spool
    record: InstanceRecord
    #: the status to answer on success (a validator's warning, else 0x0000)
    status: int = _SUCCESS
    comment: str | None = None
    result: StoreResult | None = None
    done: threading.Event = field(default_factory=threading.Event)


@dataclass(slots=True)
class _Decision:
    item: CommitItem
    key: str
    op: IndexOp
    replaced: PendingDelete | None = None


def _short(text: str) -> str:
    return text if len(text) <= 64 else text[:61] + "..."


class GroupCommitter:
    """The archive's one committing thread (and, for background durability, its flusher)."""

    def __init__(
        self,
        store: BlobStore,
        index: Index,
        policy: StoragePolicy,
        layout: Layout,
        *,
        sync_index: bool = True,
    ) -> None:
        self.store = store
        self.index = index
        self.policy = policy
        self.layout = layout
        self.durable = policy.durability is Durability.FSYNC
        #: the store's sync does not cover the index (another filesystem, or not files)
        self.sync_index = sync_index
        #: held for each batch; deletions take it too, so they never interleave
        self.lock = threading.Lock()
        self._closed = False
        self.batches = 0
        self.committed = 0
        # leader-based group commit: the first thread to submit while nobody
        # commits becomes the leader and commits everything pending; the others
        # wait, and the next one pending takes over when the leader is done.
        # No committing thread of its own: one association pays no thread
        # switch per instance, several share each batch's fsyncs.
        self._mutex = threading.Lock()
        self._pending: list[CommitItem] = []
        self._leading = False
        self._idle = threading.Condition(self._mutex)
        self._unsynced: list[tuple[str, int]] = []
        self._unsynced_lock = threading.Lock()
        self._stop_flusher = threading.Event()
        self._flusher: threading.Thread | None = None
        if not self.durable:
            self._flusher = threading.Thread(
                target=self._flush_loop, name="storecore-flush", daemon=True
            )
            self._flusher.start()

    # ------------------------------------------------------------------ API

    def submit(self, item: CommitItem) -> StoreResult:
        """Commit `item` with the next batch and return its C-STORE result."""
        with self._mutex:
            if self._closed:
                closed = True
            else:
                closed = False
                self._pending.append(item)
                lead = not self._leading
                self._leading = True
        if closed:
            item.spool.discard()
            return StoreResult(_OUT_OF_RESOURCES, "the archive is shutting down")
        if not lead:
            item.done.wait()
            if item.result is not None:
                return item.result
            # woken without a result: the leader handed over to us
        self._lead()
        assert item.result is not None
        return item.result

    def _lead(self) -> None:
        with self._mutex:
            batch, self._pending = self._pending[:_MAX_BATCH], self._pending[_MAX_BATCH:]
        while batch:
            batch = self._commit_some(batch)
        with self._mutex:
            if self._pending:
                self._pending[0].done.set()  # the next pending leads
            else:
                self._leading = False
                self._idle.notify_all()

    def close(self) -> None:
        """Wait for the batches in flight, refuse new ones, and (background) flush."""
        with self._mutex:
            if self._closed:
                return
            self._closed = True
            while self._leading:
                self._idle.wait()
        if self._flusher is not None:
            self._stop_flusher.set()
            self._flusher.join()
            self.flush()

    def _commit_some(self, batch: list[CommitItem]) -> list[CommitItem]:
        """Commit the batch up to any second item of one UID; return the rest."""
        seen: set[str] = set()
        now: list[CommitItem] = []
        later: list[CommitItem] = []
        for item in batch:
            uid = item.record.sop_instance_uid
            (later if uid in seen else now).append(item)
            seen.add(uid)
        try:
            with self.lock:
                self._commit(now)
        except BaseException as exc:  # never leave a waiter hanging
            log.exception("commit of %d instances failed", len(now))
            for item in now:
                if item.result is None:
                    item.spool.discard()
                    item.result = StoreResult(_OUT_OF_RESOURCES, _short(f"commit failed: {exc}"))
                    item.done.set()
        return later

    def _commit(self, batch: list[CommitItem]) -> None:
        decisions: list[_Decision] = []
        taken: set[str] = set()
        for item in batch:
            try:
                decision = self._decide(item, taken)
                if decision is None:
                    continue
                self.store.publish(item.spool, decision.key, _tag(decision.op), _hex(decision.op))
                decisions.append(decision)
                taken.add(decision.key)
            except (StorageError, OSError) as exc:
                self._answer_failure(item, exc)
        if not decisions:
            return
        try:
            keys = self.index.apply([d.op for d in decisions])
        except Exception as exc:
            log.error("index transaction of %d instances failed: %s", len(decisions), exc)
            for d in decisions:
                self.store.unpublish(d.key)
                if d.replaced is not None:
                    self.store.finish_delete(d.replaced, keep=True)
                self._answer_failure(d.item, exc)
            return
        if self.durable:
            # One sync for the batch: the files, their names and the index's WAL
            # reach the disk together (syncfs: one journal commit, one cache
            # flush), so concurrent associations share it. Nobody is answered
            # before it returns; what a power loss cuts short before then,
            # recover() finds by the digest in the spool name.
            try:
                self.store.sync_all()
                if self.sync_index:
                    self.index.sync()
            except OSError as exc:
                # files and rows agree, but are not known to be on disk: not
                # acknowledged; the spool names stay for recover() to re-check
                log.error("sync of %d instances failed: %s", len(decisions), exc)
                for d in decisions:
                    d.item.result = StoreResult(
                        _OUT_OF_RESOURCES, _short(f"cannot sync: {exc.strerror}")
                    )
                    d.item.done.set()
                return
        self.batches += 1
        self.committed += len(decisions)
        # the rows are committed: the spool names and replaced files go before
        # the answers, so an answered instance leaves nothing in the spool
        for d in decisions:
            try:
                if d.replaced is not None:
                    self.store.finish_delete(d.replaced)
                self.store.release(d.item.spool)
            except OSError as exc:  # recover() finishes it on the next start
                log.warning("cannot clean the spool after commit: %s", exc)
        for d, pk in zip(decisions, keys, strict=True):
            item = d.item
            if not self.durable:
                with self._unsynced_lock:
                    self._unsynced.append((d.key, pk if pk is not None else _pk_of(d.op)))
            item.result = StoreResult(item.status, item.comment)
            item.done.set()

    def _decide(self, item: CommitItem, taken: set[str]) -> _Decision | None:
        rec = item.record
        existing = self.index.instance(rec.sop_instance_uid)
        policy = self.policy.duplicates
        if existing is None:
            key = self._free_key(rec, taken)
            return _Decision(item, key, Insert(stored_as(rec, key), self._route(rec)))
        if existing.received_digest == rec.received_digest:
            # the same content again: a no-op success under every policy
            self._answer(item, StoreResult(item.status, item.comment))
            return None
        if policy is DuplicatePolicy.KEEP:
            self._answer(item, StoreResult(item.status, item.comment))
            return None
        if policy is DuplicatePolicy.REJECT:
            self._answer(
                item,
                StoreResult(
                    _DUPLICATE_SOP_INSTANCE,
                    "a different instance with this SOP Instance UID is stored",
                ),
            )
            return None
        key = self._free_key(rec, taken)
        if policy is DuplicatePolicy.OVERWRITE:
            assert existing.pk is not None
            replaced = self.store.mark_delete(existing.blob_key, f"replaced-{existing.pk}")
            op: IndexOp = Replace(
                existing.pk,
                stored_as(rec, key, existing.version),
                self._route(rec),
            )
            return _Decision(item, key, op, replaced)
        newest = max(v.version for v in self.index.versions(rec.sop_instance_uid))
        return _Decision(
            item,
            key,
            Insert(stored_as(rec, key, newest + 1), self._route(rec)),
        )

    def _route(self, record: InstanceRecord) -> tuple[str, ...]:
        route = self.policy.route
        if route is None:
            return ()
        try:
            return tuple(route(record))
        except Exception:  # a broken rule must not lose the instance
            log.exception("forwarding rules failed on %s", record.sop_instance_uid)
            return ()

    def _free_key(self, rec: InstanceRecord, taken: set[str]) -> str:
        generation = 1
        while True:
            key = blob_key(
                self.layout,
                rec.sop_instance_uid,
                rec.study_instance_uid,
                rec.series_instance_uid,
                generation,
            )
            if key not in taken and not self.store.exists(key):
                return key
            generation += 1

    def _answer(self, item: CommitItem, result: StoreResult) -> None:
        item.spool.discard()
        item.result = result
        item.done.set()

    def _answer_failure(self, item: CommitItem, exc: BaseException) -> None:
        if isinstance(exc, OSError):
            what = "disk full" if is_out_of_space(exc) else exc.strerror or str(exc)
            result = StoreResult(_OUT_OF_RESOURCES, _short(f"cannot store: {what}"))
        elif isinstance(exc, StorageError):
            result = StoreResult(_CANNOT_UNDERSTAND, _short(str(exc)))
        else:
            result = StoreResult(_OUT_OF_RESOURCES, _short(f"cannot index: {exc}"))
        log.warning("%s not stored: %s", item.record.sop_instance_uid, result.comment)
        self._answer(item, result)

    # ------------------------------------------------------------------ flushing

    def _flush_loop(self) -> None:
        while not self._stop_flusher.wait(self.policy.flush_interval):
            try:
                self.flush()
            except Exception:
                log.exception(
                    "background flush failed; retrying in %s s", self.policy.flush_interval
                )

    def flush(self) -> int:
        """Sync what was committed without it, then mark those rows synced.

        One :meth:`BlobStore.sync_all` (syncfs) covers every file, name and
        the WAL written since the last flush, as the fsync durability's
        per-batch sync does.
        """
        with self._unsynced_lock:
            pending, self._unsynced = self._unsynced, []
        if not pending:
            return 0
        self.store.sync_all()
        if self.sync_index:
            self.index.sync()
        pks = tuple(pk for _, pk in pending)
        with contextlib.suppress(StorageError):
            self.index.apply([MarkSynced(pks)])
        return len(pks)


def _hex(op: IndexOp) -> str:
    record = op.record if isinstance(op, Insert | Replace) else None
    assert record is not None
    return record.digest.partition(":")[2]


def _tag(op: IndexOp) -> str:
    return f"replace-{op.pk}" if isinstance(op, Replace) else "insert"


def _pk_of(op: IndexOp) -> int:
    return op.pk if isinstance(op, Replace) else 0

"""The Storage Commitment SCP role: verify against the archive, persist, report.

:class:`CommitmentService` is what the Storage SCP calls when an N-ACTION-RQ
of the Storage Commitment Push Model arrives:

1. :meth:`~CommitmentService.accept` decodes the request, refuses a duplicate
   Transaction UID (0x0131) and persists the transaction *before* the
   N-ACTION-RSP says Success;
2. :meth:`~CommitmentService.verify` checks each referenced instance against
   the archive: indexed (else Failure Reason 0x0112), the same SOP Class
   (0x0119), its data on disk (synced: the background durability is flushed
   first), its file present and matching its stored digest (0x0110), its pixel
   data in the file rather than referenced (JPIP syntaxes, 0x0110: PS3.4 J.1.1).
   An instance the archive stored under a new UID (lossy compression on
   ingest) is found by the UID its sender sent, through the index's map: it is
   committed under the UID requested, the one the requester knows;
3. the report goes on the requester's association while it is open (the SCP
   session sends it there), otherwise a delivery thread opens an association to
   the requester (an AE directory maps titles to host and port) and retries
   with back-off until delivered, or records it undeliverable.

Transactions live in the archive's SQLite file, in tables of their own, from
acceptance until delivery: a restart resumes every pending one.

This module runs a thread (the delivery); like the archive's committer, it is
storage-side machinery, not transport.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from storecore.commitment.messages import (
    CommitmentError,
    CommitmentRequest,
    CommitmentResult,
    Reference,
    decode_request,
)
from storecore.errors import StorecoreError
from storecore.storage.archive import Archive
from storecore.storage.ingest import file_digest

if TYPE_CHECKING:
    from storecore.net.channel import Timeouts

__all__ = ["CommitmentService", "Transaction", "TransactionStore"]

log = logging.getLogger(__name__)

_DUPLICATE_TRANSACTION = 0x0131
_PROCESSING_FAILURE = 0x0110
_NO_SUCH_OBJECT = 0x0112
_CLASS_INSTANCE_CONFLICT = 0x0119

# Referenced-pixel syntaxes (JPIP, PS3.5 A.6/A.7): the pixel data is a link,
# which PS3.4 J.1.1 does not accept as "stored"
_REFERENCED_PIXEL_SYNTAXES = frozenset({"1.2.840.10008.1.2.4.94", "1.2.840.10008.1.2.4.95"})


@dataclass(frozen=True, slots=True)
class Transaction:
    transaction_uid: str
    calling_ae_title: str
    state: str  # pending | delivered | undeliverable
    request: CommitmentRequest
    result: CommitmentResult | None
    attempts: int
    next_attempt: float
    last_error: str


def _refs_json(refs: tuple[Reference, ...]) -> list[list[object]]:
    return [[r.sop_class_uid, r.sop_instance_uid, r.failure_reason] for r in refs]


def _refs(data: list[list[object]]) -> tuple[Reference, ...]:
    return tuple(Reference(str(c), str(i), r if isinstance(r, int) else None) for c, i, r in data)


class TransactionStore:
    """Commitment transactions in an SQLite file (the archive's index file by default)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a few rows per transaction: fsync them
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS commitment_transactions ("
            " transaction_uid TEXT PRIMARY KEY,"
            " calling_ae_title TEXT NOT NULL,"
            " requested_at REAL NOT NULL,"
            " state TEXT NOT NULL,"
            " request TEXT NOT NULL,"
            " result TEXT,"
            " attempts INTEGER NOT NULL DEFAULT 0,"
            " next_attempt REAL NOT NULL DEFAULT 0,"
            " last_error TEXT NOT NULL DEFAULT '',"
            " delivered_at REAL)"
        )

    def add(self, calling_ae_title: str, request: CommitmentRequest) -> bool:
        """Persist a new transaction; False if its UID is known already."""
        with self._lock:
            try:
                self._db.execute(
                    "INSERT INTO commitment_transactions (transaction_uid, calling_ae_title, "
                    "requested_at, state, request) VALUES (?, ?, ?, 'pending', ?)",
                    (
                        request.transaction_uid,
                        calling_ae_title,
                        time.time(),
                        json.dumps(_refs_json(request.references)),
                    ),
                )
            except sqlite3.IntegrityError:
                return False
        return True

    def set_result(self, result: CommitmentResult) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE commitment_transactions SET result = ? WHERE transaction_uid = ?",
                (
                    json.dumps(
                        {
                            "committed": _refs_json(result.committed),
                            "failed": _refs_json(result.failed),
                        }
                    ),
                    result.transaction_uid,
                ),
            )

    def delivered(self, transaction_uid: str) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE commitment_transactions SET state = 'delivered', delivered_at = ? "
                "WHERE transaction_uid = ?",
                (time.time(), transaction_uid),
            )

    def attempt_failed(self, transaction_uid: str, error: str, retry_at: float | None) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE commitment_transactions SET attempts = attempts + 1, last_error = ?, "
                "next_attempt = ?, state = ? WHERE transaction_uid = ?",
                (
                    error[:500],
                    retry_at or 0.0,
                    "pending" if retry_at is not None else "undeliverable",
                    transaction_uid,
                ),
            )

    def get(self, transaction_uid: str) -> Transaction | None:
        rows = self._select("WHERE transaction_uid = ?", (transaction_uid,))
        return rows[0] if rows else None

    def pending(self) -> list[Transaction]:
        return self._select("WHERE state = 'pending' ORDER BY next_attempt", ())

    def all(self) -> list[Transaction]:
        return self._select("ORDER BY requested_at", ())

    def _select(self, where: str, args: tuple[object, ...]) -> list[Transaction]:
        with self._lock:
            rows = self._db.execute(
                "SELECT transaction_uid, calling_ae_title, state, request, result, attempts, "
                f"next_attempt, last_error FROM commitment_transactions {where}",
                args,
            ).fetchall()
        out = []
        for uid, ae, state, request, result, attempts, next_attempt, error in rows:
            res = None
            if result:
                data = json.loads(result)
                res = CommitmentResult(uid, _refs(data["committed"]), _refs(data["failed"]))
            out.append(
                Transaction(
                    uid,
                    ae,
                    state,
                    CommitmentRequest(uid, _refs(json.loads(request))),
                    res,
                    attempts,
                    next_attempt,
                    error,
                )
            )
        return out

    def close(self) -> None:
        with self._lock:
            self._db.close()


#: Delivers a result on an association of our own: (result, host, port, AE title) -> status
Deliver = Callable[[CommitmentResult, str, int, str], int]


class CommitmentService:
    """The Storage Commitment SCP role of an archive.

    Parameters
    ----------
    archive : Archive
        What is verified.
    directory : mapping of str to (host, port)
        Where each requesting AE listens, for reports on a new association.
    ae_title : str
        Our AE title when we open that association.
    retry_delays : sequence of float
        Seconds before each new delivery attempt; after the last the
        transaction is recorded undeliverable.
    deliver : callable, optional
        How to deliver on a new association (default: :class:`StorageSCU`'s
        :meth:`~storecore.scu.StorageSCU.report_commitment`).
    """

    def __init__(
        self,
        archive: Archive,
        *,
        directory: Mapping[str, tuple[str, int]] | None = None,
        ae_title: str = "STORECORE",
        retry_delays: tuple[float, ...] = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0),
        deliver: Deliver | None = None,
        store: TransactionStore | None = None,
        timeouts: Timeouts | None = None,
    ) -> None:
        self.archive = archive
        self.directory = dict(directory or {})
        self.ae_title = ae_title
        self.retry_delays = retry_delays
        self.store = store or TransactionStore(Path(archive.root) / "index.sqlite")
        if deliver is None:
            from storecore.scu import StorageSCU

            scu = StorageSCU(ae_title, timeouts=timeouts)
            deliver = scu.report_commitment
        self._deliver = deliver
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="storecore-commitment", daemon=True)
        self._thread.start()
        pending = self.store.pending()
        if pending:
            log.info("resuming %d pending storage commitment transactions", len(pending))
            self._wake.set()

    # ------------------------------------------------------------------ SCP role

    def accept(self, calling_ae_title: str, data: bytes, transfer_syntax: str) -> CommitmentRequest:
        """Decode and persist an N-ACTION request; :class:`CommitmentError` carries the status."""
        request = decode_request(data, transfer_syntax)
        if not self.store.add(calling_ae_title, request):
            raise CommitmentError(
                f"Transaction UID {request.transaction_uid} was used already",
                _DUPLICATE_TRANSACTION,
            )
        return request

    def verify(self, request: CommitmentRequest) -> CommitmentResult:
        """Check every referenced instance; the result is persisted with the transaction."""
        # Archive.instance resolves a UID the archive replaced (NEW_UID) through its
        # map: PS3.4 J.1.1 commits to keep "the SOP Instance" the requester sent,
        # and the archive keeps it, lossy compressed under a UID the requester
        # was told in the C-STORE-RSP's 0xB000 (the conformance statement says so)
        lookup = self.archive.instance
        rows = {r.sop_instance_uid: lookup(r.sop_instance_uid) for r in request.references}
        if any(row is not None and not row.synced for row in rows.values()):
            # background durability: flush now rather than promise unsynced data
            self.archive.committer.flush()
            rows = {uid: lookup(uid) for uid in rows}
        committed: list[Reference] = []
        failed: list[Reference] = []
        for ref in request.references:
            reason = self._check(ref, rows[ref.sop_instance_uid])
            if reason is None:
                committed.append(ref)
            else:
                failed.append(Reference(ref.sop_class_uid, ref.sop_instance_uid, reason))
        result = CommitmentResult(request.transaction_uid, tuple(committed), tuple(failed))
        self.store.set_result(result)
        return result

    def _check(self, ref: Reference, row: object) -> int | None:
        from storecore.storage.index import InstanceRecord

        if not isinstance(row, InstanceRecord):
            return _NO_SUCH_OBJECT
        if row.sop_class_uid != ref.sop_class_uid:
            return _CLASS_INSTANCE_CONFLICT
        if not row.synced or row.stored_transfer_syntax in _REFERENCED_PIXEL_SYNTAXES:
            return _PROCESSING_FAILURE
        try:
            if file_digest(self.archive.store.path(row.blob_key)) != row.digest:
                log.error("commitment: %s does not match its digest", ref.sop_instance_uid)
                return _PROCESSING_FAILURE
        except (OSError, StorecoreError, ValueError):
            return _PROCESSING_FAILURE
        return None

    def delivered(self, transaction_uid: str) -> None:
        """The report was answered on the requester's association."""
        self.store.delivered(transaction_uid)

    def schedule(self, transaction_uid: str) -> None:
        """Deliver on a new association (the requester's one ended, or did not answer)."""
        self._wake.set()

    # ------------------------------------------------------------------ delivery

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(timeout=1.0)
            self._wake.clear()
            if self._stop.is_set():
                return
            now = time.time()
            for t in self.store.pending():
                if t.next_attempt > now:
                    continue
                if self._stop.is_set():
                    return
                self._attempt(t)

    def _attempt(self, t: Transaction) -> None:
        result = t.result
        if result is None:  # persisted before verification finished (a crash): verify now
            result = self.verify(t.request)
        address = self.directory.get(t.calling_ae_title)
        error = ""
        if address is None:
            error = f"no address for AE title {t.calling_ae_title!r} in the AE directory"
        else:
            try:
                status = self._deliver(result, address[0], address[1], t.calling_ae_title)
                if status == 0:
                    self.store.delivered(t.transaction_uid)
                    log.info(
                        "commitment %s reported to %s on a new association (event type %d)",
                        t.transaction_uid,
                        t.calling_ae_title,
                        result.event_type_id,
                    )
                    return
                error = f"N-EVENT-REPORT-RSP status 0x{status:04X}"
            except (OSError, StorecoreError) as exc:
                error = str(exc)
        delay = self.retry_delays[t.attempts] if t.attempts < len(self.retry_delays) else None
        self.store.attempt_failed(
            t.transaction_uid, error, None if delay is None else time.time() + delay
        )
        log.warning(
            "commitment %s to %s: %s; %s",
            t.transaction_uid,
            t.calling_ae_title,
            error,
            f"retrying in {delay:g} s" if delay is not None else "undeliverable",
        )

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join()
        self.store.close()

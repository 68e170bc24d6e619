"""The archive's index: the protocol, and its SQLite implementation.

The index knows the Patient/Study/Series/Instance hierarchy and, for every
stored instance, where its bytes are (the blob key), what they are (size,
digest, transfer syntaxes) and how they came (calling AE, time, transcoding
record, validation findings). The pipeline changes it only through
:meth:`Index.apply`, one batch of operations in one transaction, so a
PostgreSQL index is another implementation of the same two methods' worth of
contract, with no change to the pipeline.

:class:`SQLiteIndex` uses WAL (readers never block the committer) with
``synchronous=FULL`` for the ``fsync`` durability (the commit returns once the
WAL is on disk) and ``NORMAL`` for ``background`` (docs/design-archive.md).
The schema carries its version; :data:`MIGRATIONS` brings an older file up to
date on open.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import operator
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from storecore.errors import StorageError

log = logging.getLogger(__name__)

__all__ = [
    "InstanceRecord",
    "PatientRow",
    "StudyRow",
    "SeriesRow",
    "Insert",
    "Replace",
    "Delete",
    "MarkSynced",
    "IndexOp",
    "Index",
    "SQLiteIndex",
    "SCHEMA_VERSION",
]


@dataclass(frozen=True, slots=True)
class InstanceRecord:
    """One stored instance, as the index keeps it.

    Attributes
    ----------
    sop_instance_uid, sop_class_uid : str
        From the dataset (checked equal to the C-STORE-RQ's).
    version : int
        1, or higher when the duplicate policy keeps versions.
    blob_key : str
        Where the blob store keeps the Part 10 file.
    size : int
        Bytes of the stored file.
    digest, received_digest : str
        ``blake3:<hex>`` of the stored dataset bytes (what ``verify`` checks) and
        of the dataset bytes as received (what duplicate detection compares);
        equal unless the instance was transcoded on ingest.
    received_transfer_syntax, stored_transfer_syntax : str
        Transfer Syntax UIDs.
    calling_ae_title, called_ae_title : str
        The association's AE titles ("" when not received over the network).
    received_at : float
        POSIX time of the commit.
    transcode : dict or None
        The transcoding record (PS3.2 Table N.5-9 path, codec, UIDs), as JSON.
    findings : list of dict
        Validation findings (status, comment) that did not refuse the instance.
    synced : bool
        The data, its name and this row are known to be on disk (fsync).
    patient_id ... number_of_frames
        The index keys, read from the dataset as it arrived.
    original_sop_instance_uid : str or None
        The SOP Instance UID the sender sent, when the archive stored the
        instance under a new one (lossy compression on ingest, the NEW_UID path
        of PS3.2 Table N.5-9); None otherwise. The index's map original -> new
        UID: look-ups and Storage Commitment resolve the sender's UID through it.
    pk : int or None
        The row's key once indexed.
    """

    sop_instance_uid: str
    sop_class_uid: str
    blob_key: str
    size: int
    digest: str
    received_digest: str
    received_transfer_syntax: str
    stored_transfer_syntax: str
    version: int = 1
    calling_ae_title: str = ""
    called_ae_title: str = ""
    received_at: float = 0.0
    transcode: dict[str, Any] | None = None
    findings: list[dict[str, Any]] = field(default_factory=list)
    synced: bool = True
    patient_id: str = ""
    patient_name: str = ""
    patient_birth_date: str = ""
    patient_sex: str = ""
    study_instance_uid: str | None = None
    study_date: str = ""
    study_time: str = ""
    accession_number: str = ""
    study_id: str = ""
    study_description: str = ""
    series_instance_uid: str | None = None
    modality: str = ""
    series_number: int | None = None
    series_description: str = ""
    instance_number: int | None = None
    number_of_frames: int | None = None
    original_sop_instance_uid: str | None = None
    pk: int | None = None


_RECORD_FIELDS = tuple(f.name for f in dataclasses.fields(InstanceRecord))
_record_values = operator.attrgetter(*_RECORD_FIELDS)
_BLOB_KEY = _RECORD_FIELDS.index("blob_key")
_VERSION = _RECORD_FIELDS.index("version")


def stored_as(record: InstanceRecord, blob_key: str, version: int | None = None) -> InstanceRecord:
    """`record` with the key it is stored under (and its version, if given).

    What ``dataclasses.replace`` does, at a fraction of its cost (it looks the
    fields up and passes them by name every call): the group committer makes
    one such copy of every instance it indexes.
    """
    values = list(_record_values(record))
    values[_BLOB_KEY] = blob_key
    if version is not None:
        values[_VERSION] = version
    return InstanceRecord(*values)


@dataclass(frozen=True, slots=True)
class PatientRow:
    patient_id: str
    patient_name: str
    birth_date: str
    sex: str
    studies: int


@dataclass(frozen=True, slots=True)
class StudyRow:
    study_instance_uid: str
    patient_id: str
    study_date: str
    study_time: str
    accession_number: str
    study_id: str
    description: str
    series: int
    instances: int


@dataclass(frozen=True, slots=True)
class SeriesRow:
    series_instance_uid: str
    study_instance_uid: str
    modality: str
    series_number: int | None
    description: str
    instances: int


@dataclass(frozen=True, slots=True)
class Insert:
    """Index a new instance (or a new version of one).

    `forward`: the forwarding rules whose jobs are queued in the same transaction.
    """

    record: InstanceRecord
    forward: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Replace:
    """An overwrite: the row `pk` now describes `record` (same SOP Instance UID)."""

    pk: int
    record: InstanceRecord
    forward: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Delete:
    """Remove the row `pk`, and the series/study/patient rows it leaves empty."""

    pk: int


@dataclass(frozen=True, slots=True)
class ForwardJob:
    """A queued forwarding of one instance to one rule's destination."""

    pk: int
    rule: str
    instance_pk: int
    sop_instance_uid: str
    state: str  # pending | done | failed
    attempts: int
    next_attempt: float
    status: int | None
    error: str
    transcode: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class FinishJob:
    """A forwarding attempt's outcome: done, failed for good, or retry at `next_attempt`."""

    pk: int
    state: str
    status: int | None
    error: str
    next_attempt: float = 0.0
    transcode: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Enqueue:
    """Queue forwarding jobs of `rule` for instances already stored (a manual re-send)."""

    rule: str
    instance_pks: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Postpone:
    """Jobs not due before `until` (a study not yet stable), attempts unchanged."""

    pks: tuple[int, ...]
    until: float


@dataclass(frozen=True, slots=True)
class MarkSynced:
    """The rows are now on disk (the background flusher's report)."""

    pks: tuple[int, ...]


IndexOp = Insert | Replace | Delete | MarkSynced | FinishJob | Postpone | Enqueue


class Index(Protocol):
    """What the pipeline and the :class:`~storecore.storage.Archive` need of an index."""

    def apply(self, ops: Sequence[IndexOp]) -> list[int | None]:
        """Apply the operations in one transaction; the row keys of inserts (else None)."""

    def instance(self, sop_instance_uid: str) -> InstanceRecord | None:
        """The newest version of an instance, or None."""

    def versions(self, sop_instance_uid: str) -> list[InstanceRecord]:
        """Every version of an instance, oldest first."""

    def by_blob_key(self, blob_key: str) -> InstanceRecord | None:
        """The row whose data is at `blob_key`."""

    def by_original_uid(self, sop_instance_uid: str) -> list[InstanceRecord]:
        """The instances stored under a new UID in place of `sop_instance_uid`, oldest first."""

    def instance_by_pk(self, pk: int) -> InstanceRecord | None:
        """The row `pk`."""

    def instances(
        self,
        *,
        patient_id: str | None = None,
        study_instance_uid: str | None = None,
        series_instance_uid: str | None = None,
        synced: bool | None = None,
    ) -> Iterator[InstanceRecord]:
        """Instances matching every given key, in index order."""

    def patients(self) -> list[PatientRow]: ...

    def studies(self, patient_id: str | None = None) -> list[StudyRow]: ...

    def series(self, study_instance_uid: str) -> list[SeriesRow]: ...

    def sync(self) -> None:
        """Make every committed transaction durable (after writes made without fsync)."""

    def close(self) -> None: ...


SCHEMA_VERSION = 3

# Each entry upgrades the schema from version i to i + 1 (MIGRATIONS[0]: from
# an empty file). A file newer than this code is refused, never downgraded.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE patients (
        pk INTEGER PRIMARY KEY,
        patient_id TEXT NOT NULL UNIQUE,
        patient_name TEXT NOT NULL,
        birth_date TEXT NOT NULL,
        sex TEXT NOT NULL
    );
    CREATE TABLE studies (
        study_instance_uid TEXT PRIMARY KEY,
        patient_pk INTEGER NOT NULL REFERENCES patients(pk),
        study_date TEXT NOT NULL,
        study_time TEXT NOT NULL,
        accession_number TEXT NOT NULL,
        study_id TEXT NOT NULL,
        description TEXT NOT NULL
    );
    CREATE INDEX studies_patient ON studies(patient_pk);
    CREATE TABLE series (
        series_instance_uid TEXT PRIMARY KEY,
        study_instance_uid TEXT NOT NULL REFERENCES studies(study_instance_uid),
        modality TEXT NOT NULL,
        series_number INTEGER,
        description TEXT NOT NULL
    );
    CREATE INDEX series_study ON series(study_instance_uid);
    CREATE TABLE instances (
        pk INTEGER PRIMARY KEY,
        sop_instance_uid TEXT NOT NULL,
        version INTEGER NOT NULL,
        sop_class_uid TEXT NOT NULL,
        patient_pk INTEGER NOT NULL REFERENCES patients(pk),
        study_instance_uid TEXT REFERENCES studies(study_instance_uid),
        series_instance_uid TEXT REFERENCES series(series_instance_uid),
        instance_number INTEGER,
        number_of_frames INTEGER,
        blob_key TEXT NOT NULL UNIQUE,
        size INTEGER NOT NULL,
        digest TEXT NOT NULL,
        received_digest TEXT NOT NULL,
        received_transfer_syntax TEXT NOT NULL,
        stored_transfer_syntax TEXT NOT NULL,
        calling_ae_title TEXT NOT NULL,
        called_ae_title TEXT NOT NULL,
        received_at REAL NOT NULL,
        transcode TEXT,
        findings TEXT NOT NULL,
        synced INTEGER NOT NULL,
        UNIQUE (sop_instance_uid, version)
    );
    CREATE INDEX instances_series ON instances(series_instance_uid);
    CREATE INDEX instances_study ON instances(study_instance_uid);
    CREATE INDEX instances_unsynced ON instances(synced) WHERE synced = 0;
    """,
    # 2: the forwarding queue; a job is written in the transaction that indexes
    # its instance, so no acknowledged instance misses its forwarding
    """
    CREATE TABLE forward_jobs (
        pk INTEGER PRIMARY KEY,
        rule TEXT NOT NULL,
        instance_pk INTEGER NOT NULL,
        sop_instance_uid TEXT NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt REAL NOT NULL DEFAULT 0,
        status INTEGER,
        error TEXT NOT NULL DEFAULT '',
        transcode TEXT,
        created_at REAL NOT NULL,
        done_at REAL
    );
    CREATE INDEX forward_jobs_due ON forward_jobs(next_attempt) WHERE state = 'pending';
    """,
    # 3: the map original -> new SOP Instance UID of instances stored lossy
    # (NEW_UID); a row's own column, so the map entry goes with its row. Rows a
    # version 2 archive transcoded keep their record in the transcode JSON:
    # the map is filled from it (version 2 only wrote SUPPORTED records).
    """
    ALTER TABLE instances ADD COLUMN original_sop_instance_uid TEXT;
    UPDATE instances SET original_sop_instance_uid =
        json_extract(transcode, '$.original_sop_instance_uid')
        WHERE json_extract(transcode, '$.path') = 'NEW_UID';
    CREATE INDEX instances_original ON instances(original_sop_instance_uid)
        WHERE original_sop_instance_uid IS NOT NULL;
    """,
)

#: commits between two background checkpoints: ~6 pages each, about the
#: 1,000 pages at which SQLite's own automatic checkpoint would run
_CHECKPOINT_COMMITS = 160

_INSTANCE_COLUMNS = (
    "i.pk, i.sop_instance_uid, i.version, i.sop_class_uid, i.instance_number, "
    "i.number_of_frames, i.blob_key, i.size, i.digest, i.received_digest, "
    "i.received_transfer_syntax, i.stored_transfer_syntax, i.calling_ae_title, "
    "i.called_ae_title, i.received_at, i.transcode, i.findings, i.synced, "
    "p.patient_id, p.patient_name, p.birth_date, p.sex, "
    "i.study_instance_uid, st.study_date, st.study_time, st.accession_number, "
    "st.study_id, st.description, i.series_instance_uid, se.modality, "
    "se.series_number, se.description, i.original_sop_instance_uid"
)
_INSTANCE_FROM = (
    "instances i JOIN patients p ON p.pk = i.patient_pk "
    "LEFT JOIN studies st ON st.study_instance_uid = i.study_instance_uid "
    "LEFT JOIN series se ON se.series_instance_uid = i.series_instance_uid"
)


def _row_to_record(row: tuple[Any, ...]) -> InstanceRecord:
    (
        pk,
        sop_instance_uid,
        version,
        sop_class_uid,
        instance_number,
        number_of_frames,
        blob_key,
        size,
        digest,
        received_digest,
        received_ts,
        stored_ts,
        calling,
        called,
        received_at,
        transcode,
        findings,
        synced,
        patient_id,
        patient_name,
        birth_date,
        sex,
        study_uid,
        study_date,
        study_time,
        accession,
        study_id,
        study_description,
        series_uid,
        modality,
        series_number,
        series_description,
        original_uid,
    ) = row
    return InstanceRecord(
        sop_instance_uid=sop_instance_uid,
        sop_class_uid=sop_class_uid,
        blob_key=blob_key,
        size=size,
        digest=digest,
        received_digest=received_digest,
        received_transfer_syntax=received_ts,
        stored_transfer_syntax=stored_ts,
        version=version,
        calling_ae_title=calling,
        called_ae_title=called,
        received_at=received_at,
        transcode=json.loads(transcode) if transcode else None,
        findings=json.loads(findings),
        synced=bool(synced),
        patient_id=patient_id,
        patient_name=patient_name,
        patient_birth_date=birth_date,
        patient_sex=sex,
        study_instance_uid=study_uid,
        study_date=study_date or "",
        study_time=study_time or "",
        accession_number=accession or "",
        study_id=study_id or "",
        study_description=study_description or "",
        series_instance_uid=series_uid,
        modality=modality or "",
        series_number=series_number,
        series_description=series_description or "",
        instance_number=instance_number,
        number_of_frames=number_of_frames,
        original_sop_instance_uid=original_uid,
        pk=pk,
    )


class SQLiteIndex:
    """The index in one SQLite file (WAL), written by one connection.

    Parameters
    ----------
    path : path
        The database file (created with the current schema if missing).
    synchronous : {"FULL", "NORMAL"}
        FULL: every :meth:`apply` returns once the WAL is on disk. NORMAL: the
        WAL is synced only at checkpoints (the ``background`` durability).
    background_checkpoints : bool
        Checkpoint the WAL in a thread of the index's own, every ~160 commits,
        instead of inside the commit that fills it (SQLite's automatic
        checkpoint, which then takes 0.8-10 ms). The archive sets it.

    Notes
    -----
    :meth:`apply` may be called from any thread (a lock serializes writers; in
    the archive only the committer writes). Readers get a connection per
    thread, and with WAL never wait for the writer.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        synchronous: str = "FULL",
        background_checkpoints: bool = False,
    ) -> None:
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError(f"synchronous must be FULL or NORMAL, not {synchronous!r}")
        self.path = os.fspath(path)
        self.synchronous = synchronous
        self._lock = threading.Lock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._closed = False
        # The upper-level rows last written, by key: an instance whose patient,
        # study and series values are unchanged (the usual case: a series
        # arrives instance by instance) writes only its own row, so each commit
        # dirties fewer pages. Cleared when a transaction fails or deletes.
        self._written: dict[tuple[str, str], tuple[object, ...]] = {}
        # autocommit mode: transactions are explicit BEGIN/COMMIT below
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={synchronous}")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._migrate()
        # SQLite's automatic checkpoint runs inside the COMMIT that fills the
        # WAL past 1,000 pages: one commit in ~150 of the archive's then copies
        # the WAL into the database and fsyncs both (0.8-10 ms instead of ~20
        # us), 65% of all the commits' time, and that association waits. With
        # background checkpoints a thread of the index's own does it (PASSIVE:
        # it never blocks the writer; sqlite3 releases the GIL while it works).
        self._checkpointer: threading.Thread | None = None
        self._checkpoint_due = threading.Event()
        self._commits_since_checkpoint = 0
        self.checkpoints = 0
        if background_checkpoints:
            self._db.execute("PRAGMA wal_autocheckpoint=0")
            self._checkpointer = threading.Thread(
                target=self._checkpoint_loop, name="storecore-index-checkpoint", daemon=True
            )
            self._checkpointer.start()

    def _checkpoint_loop(self) -> None:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            while True:
                self._checkpoint_due.wait()
                self._checkpoint_due.clear()
                if self._closed:
                    return
                try:
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self.checkpoints += 1
                except sqlite3.Error as exc:  # the next one retries; the WAL only grows
                    log.warning("index checkpoint failed: %s", exc)
        finally:
            db.close()

    # ------------------------------------------------------------------ schema

    def _migrate(self) -> None:
        db = self._db
        with self._lock:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
                row = db.execute("SELECT version FROM schema_version").fetchone()
                version = row[0] if row else 0
                if version > SCHEMA_VERSION:
                    raise StorageError(
                        f"{self.path}: index schema version {version} is newer than this "
                        f"storecore's ({SCHEMA_VERSION}); refusing to open it"
                    )
                for step in MIGRATIONS[version:]:
                    for statement in step.split(";"):
                        if statement.strip():
                            db.execute(statement)
                if row is None:
                    db.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION,))
                else:
                    db.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    @property
    def schema_version(self) -> int:
        row = self._reader().execute("SELECT version FROM schema_version").fetchone()
        return int(row[0])

    # ------------------------------------------------------------------ writes

    def apply(self, ops: Sequence[IndexOp]) -> list[int | None]:
        """Apply `ops` in one transaction (all or nothing)."""
        if not ops:
            return []
        with self._lock:
            if self._closed:
                raise StorageError("the index is closed")
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                keys = [self._apply_one(db, op) for op in ops]
                db.execute("COMMIT")
            except BaseException:
                self._written.clear()
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            if self._checkpointer is not None:
                self._commits_since_checkpoint += 1
                if self._commits_since_checkpoint >= _CHECKPOINT_COMMITS:
                    self._commits_since_checkpoint = 0
                    self._checkpoint_due.set()
        return keys

    def _apply_one(self, db: sqlite3.Connection, op: IndexOp) -> int | None:
        if type(op) is Insert and not op.forward:  # the ingest's usual operation, first
            return self._insert(db, op.record)
        if isinstance(op, Insert | Replace) and op.forward:
            plain = Insert(op.record) if isinstance(op, Insert) else Replace(op.pk, op.record)
            key = self._apply_one(db, plain)
            assert key is not None
            db.executemany(
                "INSERT INTO forward_jobs (rule, instance_pk, sop_instance_uid, state, "
                "created_at) VALUES (?, ?, ?, 'pending', ?)",
                [(rule, key, op.record.sop_instance_uid, time.time()) for rule in op.forward],
            )
            return key
        if isinstance(op, Enqueue):
            db.executemany(
                "INSERT INTO forward_jobs (rule, instance_pk, sop_instance_uid, state, "
                "created_at) SELECT ?, pk, sop_instance_uid, 'pending', ? FROM instances "
                "WHERE pk = ?",
                [(op.rule, time.time(), pk) for pk in op.instance_pks],
            )
            return None
        if isinstance(op, Postpone):
            db.executemany(
                "UPDATE forward_jobs SET next_attempt = ? WHERE pk = ?",
                [(op.until, pk) for pk in op.pks],
            )
            return None
        if isinstance(op, FinishJob):
            db.execute(
                "UPDATE forward_jobs SET state = ?, status = ?, error = ?, next_attempt = ?, "
                "transcode = ?, attempts = attempts + 1, done_at = ? WHERE pk = ?",
                (
                    op.state,
                    op.status,
                    op.error[:500],
                    op.next_attempt,
                    json.dumps(op.transcode) if op.transcode is not None else None,
                    time.time() if op.state != "pending" else None,
                    op.pk,
                ),
            )
            return None
        if isinstance(op, Insert):
            return self._insert(db, op.record)
        if isinstance(op, Replace):
            old = db.execute(
                "SELECT patient_pk, study_instance_uid, series_instance_uid FROM instances "
                "WHERE pk = ?",
                (op.pk,),
            ).fetchone()
            db.execute("DELETE FROM instances WHERE pk = ?", (op.pk,))
            key = self._insert(db, op.record, pk=op.pk)
            if old is not None:
                self._prune(db, *old)
            return key
        if isinstance(op, Delete):
            old = db.execute(
                "SELECT patient_pk, study_instance_uid, series_instance_uid FROM instances "
                "WHERE pk = ?",
                (op.pk,),
            ).fetchone()
            db.execute("DELETE FROM instances WHERE pk = ?", (op.pk,))
            if old is not None:
                self._prune(db, *old)
            return None
        db.executemany("UPDATE instances SET synced = 1 WHERE pk = ?", ((pk,) for pk in op.pks))
        return None

    def _insert(self, db: sqlite3.Connection, r: InstanceRecord, pk: int | None = None) -> int:
        # Upper levels: the newest instance's values win (an operator's
        # correction of a patient name reaches the index with the next instance).
        written = self._written
        patient = (r.patient_name, r.patient_birth_date, r.patient_sex)
        known = written.get(("patient", r.patient_id))
        if known is not None and known[1:] == patient:
            patient_pk = known[0]
        else:
            db.execute(
                "INSERT INTO patients (patient_id, patient_name, birth_date, sex) "
                "VALUES (?, ?, ?, ?) "
                "ON CONFLICT (patient_id) DO UPDATE SET patient_name = excluded.patient_name, "
                "birth_date = excluded.birth_date, sex = excluded.sex",
                (r.patient_id, *patient),
            )
            patient_pk = db.execute(
                "SELECT pk FROM patients WHERE patient_id = ?", (r.patient_id,)
            ).fetchone()[0]
            written[("patient", r.patient_id)] = (patient_pk, *patient)
        study = r.study_instance_uid
        series = r.series_instance_uid if study is not None else None
        study_values = (
            patient_pk,
            r.study_date,
            r.study_time,
            r.accession_number,
            r.study_id,
            r.study_description,
        )
        if study is not None and written.get(("study", study)) != study_values:
            db.execute(
                "INSERT INTO studies (study_instance_uid, patient_pk, study_date, study_time, "
                "accession_number, study_id, description) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (study_instance_uid) DO UPDATE SET patient_pk = excluded.patient_pk, "
                "study_date = excluded.study_date, study_time = excluded.study_time, "
                "accession_number = excluded.accession_number, study_id = excluded.study_id, "
                "description = excluded.description",
                (study, *study_values),
            )
            written[("study", study)] = study_values
        series_values = (study, r.modality, r.series_number, r.series_description)
        if series is not None and written.get(("series", series)) != series_values:
            db.execute(
                "INSERT INTO series (series_instance_uid, study_instance_uid, modality, "
                "series_number, description) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (series_instance_uid) DO UPDATE SET "
                "study_instance_uid = excluded.study_instance_uid, modality = excluded.modality, "
                "series_number = excluded.series_number, description = excluded.description",
                (series, *series_values),
            )
            written[("series", series)] = series_values
        if len(written) > 4096:
            written.clear()
        cursor = db.execute(
            "INSERT INTO instances (pk, sop_instance_uid, version, sop_class_uid, patient_pk, "
            "study_instance_uid, series_instance_uid, instance_number, number_of_frames, "
            "blob_key, size, digest, received_digest, received_transfer_syntax, "
            "stored_transfer_syntax, calling_ae_title, called_ae_title, received_at, "
            "transcode, findings, synced, original_sop_instance_uid) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                pk,
                r.sop_instance_uid,
                r.version,
                r.sop_class_uid,
                patient_pk,
                study,
                series,
                r.instance_number,
                r.number_of_frames,
                r.blob_key,
                r.size,
                r.digest,
                r.received_digest,
                r.received_transfer_syntax,
                r.stored_transfer_syntax,
                r.calling_ae_title,
                r.called_ae_title,
                r.received_at,
                json.dumps(r.transcode, sort_keys=True) if r.transcode is not None else None,
                json.dumps(r.findings, sort_keys=True) if r.findings else "[]",
                int(r.synced),
                r.original_sop_instance_uid,
            ),
        )
        return int(cursor.lastrowid or 0)

    def _prune(
        self, db: sqlite3.Connection, patient_pk: int, study: str | None, series: str | None
    ) -> None:
        self._written.clear()
        # upper-level rows that no instance refers to any more
        if series is not None:
            db.execute(
                "DELETE FROM series WHERE series_instance_uid = ? AND NOT EXISTS "
                "(SELECT 1 FROM instances WHERE series_instance_uid = ?)",
                (series, series),
            )
        if study is not None:
            db.execute(
                "DELETE FROM studies WHERE study_instance_uid = ? AND NOT EXISTS "
                "(SELECT 1 FROM instances WHERE study_instance_uid = ?) AND NOT EXISTS "
                "(SELECT 1 FROM series WHERE study_instance_uid = ?)",
                (study, study, study),
            )
        db.execute(
            "DELETE FROM patients WHERE pk = ? AND NOT EXISTS "
            "(SELECT 1 FROM instances WHERE patient_pk = ?) AND NOT EXISTS "
            "(SELECT 1 FROM studies WHERE patient_pk = ?)",
            (patient_pk, patient_pk, patient_pk),
        )

    # ------------------------------------------------------------------- reads

    def _reader(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            if self._closed:
                raise StorageError("the index is closed")
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA query_only=ON")
            self._local.db = db
            with self._lock:
                self._readers.append(db)
        return db

    def _records(self, where: str, args: Sequence[Any]) -> list[InstanceRecord]:
        rows = self._reader().execute(
            f"SELECT {_INSTANCE_COLUMNS} FROM {_INSTANCE_FROM} {where}", args
        )
        return [_row_to_record(row) for row in rows]

    def instance(self, sop_instance_uid: str) -> InstanceRecord | None:
        # a UID not stored yet is the ingest's usual question (the duplicate
        # check of every commit): answered from the UID's index alone, without
        # the joins and the record
        probe = self._reader().execute(
            "SELECT 1 FROM instances WHERE sop_instance_uid = ? LIMIT 1", (sop_instance_uid,)
        )
        if probe.fetchone() is None:
            return None
        found = self._records(
            "WHERE i.sop_instance_uid = ? ORDER BY i.version DESC LIMIT 1", (sop_instance_uid,)
        )
        return found[0] if found else None

    def versions(self, sop_instance_uid: str) -> list[InstanceRecord]:
        return self._records("WHERE i.sop_instance_uid = ? ORDER BY i.version", (sop_instance_uid,))

    def by_blob_key(self, blob_key: str) -> InstanceRecord | None:
        found = self._records("WHERE i.blob_key = ?", (blob_key,))
        return found[0] if found else None

    def by_original_uid(self, sop_instance_uid: str) -> list[InstanceRecord]:
        return self._records(
            "WHERE i.original_sop_instance_uid = ? ORDER BY i.pk", (sop_instance_uid,)
        )

    def instances(
        self,
        *,
        patient_id: str | None = None,
        study_instance_uid: str | None = None,
        series_instance_uid: str | None = None,
        synced: bool | None = None,
    ) -> Iterator[InstanceRecord]:
        clauses: list[str] = []
        args: list[Any] = []
        for column, value in (
            ("p.patient_id", patient_id),
            ("i.study_instance_uid", study_instance_uid),
            ("i.series_instance_uid", series_instance_uid),
        ):
            if value is not None:
                clauses.append(f"{column} = ?")
                args.append(value)
        if synced is not None:
            clauses.append("i.synced = ?")
            args.append(int(synced))
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        return iter(self._records(f"{where} ORDER BY i.pk", args))

    def forward_jobs(
        self, *, state: str | None = None, due: float | None = None, limit: int = 1000
    ) -> list[ForwardJob]:
        """Forwarding jobs (those due at `due` when given), oldest first."""
        clauses: list[str] = []
        args: list[object] = []
        if state is not None:
            clauses.append("state = ?")
            args.append(state)
        if due is not None:
            clauses.append("state = 'pending' AND next_attempt <= ?")
            args.append(due)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        rows = self._reader().execute(
            "SELECT pk, rule, instance_pk, sop_instance_uid, state, attempts, next_attempt, "
            f"status, error, transcode FROM forward_jobs {where} ORDER BY pk LIMIT ?",
            (*args, limit),
        )
        return [
            ForwardJob(
                pk=row[0],
                rule=row[1],
                instance_pk=row[2],
                sop_instance_uid=row[3],
                state=row[4],
                attempts=row[5],
                next_attempt=row[6],
                status=row[7],
                error=row[8],
                transcode=json.loads(row[9]) if row[9] else None,
            )
            for row in rows
        ]

    def forward_counts(self) -> dict[tuple[str, str], int]:
        """Forwarding jobs by (rule, state): the queue's depth and outcomes."""
        rows = self._reader().execute(
            "SELECT rule, state, count(*) FROM forward_jobs GROUP BY rule, state"
        )
        return {(rule, state): int(n) for rule, state, n in rows}

    def instance_by_pk(self, pk: int) -> InstanceRecord | None:
        found = self._records("WHERE i.pk = ?", (pk,))
        return found[0] if found else None

    def count(self) -> int:
        return int(self._reader().execute("SELECT count(*) FROM instances").fetchone()[0])

    def patients(self) -> list[PatientRow]:
        rows = self._reader().execute(
            "SELECT p.patient_id, p.patient_name, p.birth_date, p.sex, "
            "(SELECT count(*) FROM studies s WHERE s.patient_pk = p.pk) "
            "FROM patients p ORDER BY p.patient_id"
        )
        return [PatientRow(*row) for row in rows]

    def studies(self, patient_id: str | None = None) -> list[StudyRow]:
        where, args = (
            ("WHERE p.patient_id = ?", (patient_id,)) if patient_id is not None else ("", ())
        )
        rows = self._reader().execute(
            "SELECT s.study_instance_uid, p.patient_id, s.study_date, s.study_time, "
            "s.accession_number, s.study_id, s.description, "
            "(SELECT count(*) FROM series x WHERE x.study_instance_uid = s.study_instance_uid), "
            "(SELECT count(*) FROM instances i WHERE i.study_instance_uid = s.study_instance_uid) "
            f"FROM studies s JOIN patients p ON p.pk = s.patient_pk {where} "
            "ORDER BY s.study_date, s.study_instance_uid",
            args,
        )
        return [StudyRow(*row) for row in rows]

    def series(self, study_instance_uid: str) -> list[SeriesRow]:
        rows = self._reader().execute(
            "SELECT s.series_instance_uid, s.study_instance_uid, s.modality, s.series_number, "
            "s.description, (SELECT count(*) FROM instances i "
            "WHERE i.series_instance_uid = s.series_instance_uid) "
            "FROM series s WHERE s.study_instance_uid = ? "
            "ORDER BY s.series_number, s.series_instance_uid",
            (study_instance_uid,),
        )
        return [SeriesRow(*row) for row in rows]

    def sync(self) -> None:
        """fsync the WAL: the rows committed with ``synchronous=NORMAL`` reach the disk."""
        for suffix in ("-wal", ""):
            try:
                fd = os.open(self.path + suffix, os.O_RDONLY)
            except FileNotFoundError:
                continue
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._checkpointer is not None:
                self._checkpoint_due.set()
                self._checkpointer.join()
            for db in self._readers:
                db.close()
            self._readers.clear()
            self._db.close()


def record_to_json(record: InstanceRecord) -> dict[str, Any]:
    """A record as plain JSON types (for ``storecore archive ls --json``)."""
    return asdict(record)

"""The archive: a blob store and an index behind one ingest pipeline, and the API to read them.

:class:`Archive` is what an application (or ``storecore serve``) opens: it
recovers from any crash on open, gives the Storage SCP its sink
(:meth:`Archive.sink`), and answers look-ups, opens instances as Part 10
streams, verifies and repairs, deletes and exports.

Example
-------
>>> from storecore.storage import Archive
>>> from storecore.scp import StorageSCP
>>> with Archive("./archive") as archive:                      # doctest: +SKIP
...     StorageSCP(archive.sink(), port=11112).serve_forever()
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from storecore.dataset.part10 import read_file_meta
from storecore.errors import DatasetError, StorageError, StorecoreError
from storecore.storage.blobstore import BlobStore, FilesystemStore, Layout
from storecore.storage.commit import GroupCommitter
from storecore.storage.index import (
    Delete,
    Index,
    IndexOp,
    Insert,
    InstanceRecord,
    PatientRow,
    Replace,
    SeriesRow,
    SQLiteIndex,
    StudyRow,
)
from storecore.storage.ingest import ArchiveSink, file_digest, record_from_file
from storecore.storage.policy import Durability, StoragePolicy
from storecore.storage.sink import StoreRequest, StoreResult

__all__ = ["Archive", "RecoveryReport", "VerifyReport"]

log = logging.getLogger(__name__)

_CHUNK = 1 << 20


@dataclass
class RecoveryReport:
    """What opening the archive found in its spool (a crash's leftovers)."""

    #: unpublished spool files deleted (instances whose sender was never answered)
    discarded: int = 0
    #: published files whose index rows were written from the file itself
    reindexed: list[str] = field(default_factory=list)
    #: deletions (or overwrites) in flight, finished
    deletions: int = 0

    def __bool__(self) -> bool:
        return bool(self.discarded or self.reindexed or self.deletions)


@dataclass
class VerifyReport:
    """What :meth:`Archive.verify` found (and, with ``repair``, fixed)."""

    checked: int = 0
    #: rows whose file is gone (repair: the row is deleted)
    missing: list[str] = field(default_factory=list)
    #: rows whose file's dataset digest or size differs (never repaired: reported)
    corrupt: list[str] = field(default_factory=list)
    #: files no row points at (repair: indexed from the file, or moved to quarantine/)
    orphans: list[str] = field(default_factory=list)
    repaired: int = 0

    @property
    def ok(self) -> bool:
        return not (self.missing or self.corrupt or self.orphans)


class Archive:
    """An archive folder: ``objects/`` (the files), ``spool/``, ``index.sqlite``.

    Parameters
    ----------
    root : path
        The archive's folder, created if missing.
    policy : StoragePolicy
        Duplicates, durability, transcoding on ingest, space limits, validators.
    layout : Layout
        How new files are named (existing ones keep their keys).
    store, index : optional
        Other backends (the defaults are a :class:`FilesystemStore` and a
        :class:`SQLiteIndex` in `root`).
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        policy: StoragePolicy | None = None,
        layout: Layout = Layout.STUDY,
        store: BlobStore | None = None,
        index: Index | None = None,
    ) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.policy = policy or StoragePolicy()
        self.layout = layout
        # early writeback only where an answer waits for the disk: with the
        # background durability it costs the association's thread a system
        # call per 256 KiB for a sync nobody waits for (benchmarks/README.md)
        self.store: BlobStore = store or FilesystemStore(
            self.root, writeback=self.policy.durability is Durability.FSYNC
        )
        # NORMAL: commits write the WAL without an fsync of their own; with the
        # fsync durability the committer's one sync per batch covers the WAL too
        # when it lives on the store's filesystem
        self.index: Index = index or SQLiteIndex(
            self.root / "index.sqlite", synchronous="NORMAL", background_checkpoints=True
        )
        self.recovery = self._recover()
        if self.recovery:
            log.warning(
                "recovered %s: %d unanswered spool files removed, %d instances re-indexed, "
                "%d deletions finished",
                self.root,
                self.recovery.discarded,
                len(self.recovery.reindexed),
                self.recovery.deletions,
            )
        sync_index = index is not None or not (
            store is None and os.stat(self.root).st_dev == os.stat(self.root / "objects").st_dev
        )
        self.committer = GroupCommitter(
            self.store, self.index, self.policy, layout, sync_index=sync_index
        )
        self._sink = ArchiveSink(self.store, self.committer, self.policy)

    # ------------------------------------------------------------------ life

    def sink(self) -> ArchiveSink:
        """The sink to hand the Storage SCP."""
        return self._sink

    def close(self) -> None:
        """Commit what is in flight, flush (background durability), close the index."""
        self.committer.close()
        self.index.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ recovery

    def _recover(self) -> RecoveryReport:
        """Reconcile the spool with the index after a crash (docs/design-archive.md).

        A published spool file whose dataset digest matches the one in its name
        is complete: it is indexed if its row did not make it. One that does
        not match was cut short by a power loss before anyone was answered: its
        file and row go, and an overwrite it was part of is undone.
        """
        report = RecoveryReport()
        published, deletes, report.discarded = self.store.recover()
        ops: list[IndexOp] = []
        undone_replacements: set[str] = set()
        for p in published:
            row = self.index.by_blob_key(p.key)
            digest = None
            if p.linked:
                try:
                    digest = file_digest(p.path)
                except (StorecoreError, OSError, ValueError):
                    digest = None
            complete = digest is not None and digest.partition(":")[2][:16] == p.digest
            if not complete:
                if p.linked:
                    self.store.unpublish(p.key)
                if row is not None and row.pk is not None:
                    ops.append(Delete(row.pk))
                if p.tag.startswith("replace-"):
                    undone_replacements.add(p.tag[len("replace-") :])
                report.discarded += 1
                continue
            if row is not None and row.digest == digest:
                continue  # committed; only the spool name was left
            record = record_from_file(p.path, p.key, findings=[{"recovered": True}])
            if row is not None:
                assert row.pk is not None
                ops.append(Replace(row.pk, record))
            elif p.tag.startswith("replace-") and self._row_exists(int(p.tag[8:])):
                old = self.index.instance(record.sop_instance_uid)
                version = old.version if old is not None else 1
                ops.append(Replace(int(p.tag[8:]), _with(record, version=version)))
            else:
                versions = self.index.versions(record.sop_instance_uid)
                version = max((v.version for v in versions), default=0) + 1
                ops.append(Insert(_with(record, version=version)))
            report.reindexed.append(p.key)
        if ops:
            self.index.apply(ops)
            ops = []
        for p in published:
            if p.path.exists():
                os.unlink(p.path)
        for d in deletes:
            keep = self.index.by_blob_key(d.key) is not None
            if (
                not keep
                and d.tag.startswith("replaced-")
                and d.tag[len("replaced-") :] in undone_replacements
            ):
                # the overwrite never completed: the copy it replaced comes back
                record = record_from_file(d.path, d.key, findings=[{"restored": True}])
                versions = self.index.versions(record.sop_instance_uid)
                version = max((v.version for v in versions), default=0) + 1
                self.index.apply([Insert(_with(record, version=version))])
                keep = True
            self.store.finish_delete(d, keep=keep)
            report.deletions += 1
        return report

    def _row_exists(self, pk: int) -> bool:
        return self.index.instance_by_pk(pk) is not None

    # ------------------------------------------------------------------ look-ups

    def patients(self) -> list[PatientRow]:
        return self.index.patients()

    def studies(self, patient_id: str | None = None) -> list[StudyRow]:
        return self.index.studies(patient_id)

    def series(self, study_instance_uid: str) -> list[SeriesRow]:
        return self.index.series(study_instance_uid)

    def instances(
        self,
        *,
        patient_id: str | None = None,
        study_instance_uid: str | None = None,
        series_instance_uid: str | None = None,
    ) -> Iterator[InstanceRecord]:
        return self.index.instances(
            patient_id=patient_id,
            study_instance_uid=study_instance_uid,
            series_instance_uid=series_instance_uid,
        )

    def instance(self, sop_instance_uid: str) -> InstanceRecord | None:
        """The newest version of an instance, by its own UID or the one its sender sent.

        An instance stored under a new UID (lossy compression on ingest, PS3.2
        Table N.5-9 NEW_UID) is also found by its original UID; the record
        carries both (``sop_instance_uid``, ``original_sop_instance_uid``).
        """
        row = self.index.instance(sop_instance_uid)
        if row is not None:
            return row
        mapped = self.index.by_original_uid(sop_instance_uid)
        return self.index.instance(mapped[-1].sop_instance_uid) if mapped else None

    def versions(self, sop_instance_uid: str) -> list[InstanceRecord]:
        """Every version of an instance (oldest first), by its own UID or its original one."""
        rows = self.index.versions(sop_instance_uid)
        if rows:
            return rows
        mapped = self.index.by_original_uid(sop_instance_uid)
        return self.index.versions(mapped[-1].sop_instance_uid) if mapped else []

    def open(self, sop_instance_uid: str, version: int | None = None) -> BinaryIO:
        """The instance's Part 10 file, open for reading (newest version by default)."""
        rows = self.versions(sop_instance_uid)
        if version is not None:
            rows = [r for r in rows if r.version == version]
        if not rows:
            raise StorageError(f"{sop_instance_uid}: not in the archive")
        return self.store.open(rows[-1].blob_key)

    def path(self, sop_instance_uid: str) -> Path:
        """The newest version's file (the UID may be the original of a mapped instance)."""
        row = self.instance(sop_instance_uid)
        if row is None:
            raise StorageError(f"{sop_instance_uid}: not in the archive")
        return self.store.path(row.blob_key)

    # ------------------------------------------------------------------ writes

    def store_file(
        self, path: str | os.PathLike[str], *, calling_ae_title: str = ""
    ) -> StoreResult:
        """Ingest a local Part 10 file through the same pipeline as a C-STORE."""
        with open(path, "rb") as f:
            head = f.read(64 * 1024)
            meta = read_file_meta(head)
            if meta.transfer_syntax_uid is None:
                raise DatasetError(f"{path}: no Transfer Syntax UID in its File Meta")
            f.seek(meta.dataset_offset)
            request = StoreRequest(
                sop_class_uid=meta.media_storage_sop_class_uid or "",
                sop_instance_uid=meta.media_storage_sop_instance_uid or "",
                transfer_syntax_uid=meta.transfer_syntax_uid,
                calling_ae_title=calling_ae_title,
                called_ae_title="",
                message_id=0,
            )
            handle = self._sink.begin(request)
            try:
                while chunk := f.read(_CHUNK):
                    handle.write(memoryview(chunk))
            except BaseException:
                handle.abort()
                raise
            return handle.finish()

    def delete(self, sop_instance_uid: str) -> int:
        """Delete every version of an instance; the number deleted."""
        with self.committer.lock:
            rows = self.index.versions(sop_instance_uid)
            pending = [self.store.mark_delete(r.blob_key) for r in rows]
            if not pending:
                return 0
            if self.committer.durable:
                self.store.sync_folders([str(pending[0].path.parent)])
            try:
                self.index.apply([Delete(r.pk) for r in rows if r.pk is not None])
            except BaseException:
                for p in pending:
                    self.store.finish_delete(p, keep=True)
                raise
            for p in pending:
                self.store.finish_delete(p)
            return len(rows)

    def export_study(self, study_instance_uid: str, folder: str | os.PathLike[str]) -> list[Path]:
        """Copy a study's files (newest versions) to `folder`, as ``<SOP Instance UID>.dcm``."""
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        written: list[Path] = []
        newest: dict[str, InstanceRecord] = {}
        for r in self.index.instances(study_instance_uid=study_instance_uid):
            if r.sop_instance_uid not in newest or r.version > newest[r.sop_instance_uid].version:
                newest[r.sop_instance_uid] = r
        if not newest:
            raise StorageError(f"study {study_instance_uid}: not in the archive")
        for uid, r in sorted(newest.items()):
            target = out / f"{uid}.dcm"
            shutil.copyfile(self.store.path(r.blob_key), target)
            written.append(target)
        return written

    # ------------------------------------------------------------------ fsck

    def verify(self, *, repair: bool = False) -> VerifyReport:
        """Compare files and index: missing files, digest mismatches, unindexed files.

        With `repair`: rows without files are deleted, unindexed files are
        indexed from their contents (or moved to ``quarantine/`` when they
        cannot be read). Corrupt files are reported, never changed.
        """
        report = VerifyReport()
        known: set[str] = set()
        with self.committer.lock:
            for row in list(self.index.instances()):
                report.checked += 1
                known.add(row.blob_key)
                path = self.store.path(row.blob_key)
                try:
                    size = path.stat().st_size
                    digest = file_digest(path)
                except FileNotFoundError:
                    report.missing.append(row.sop_instance_uid)
                    if repair and row.pk is not None:
                        self.index.apply([Delete(row.pk)])
                        report.repaired += 1
                    continue
                except (StorecoreError, OSError, ValueError):
                    report.corrupt.append(row.sop_instance_uid)
                    continue
                if digest != row.digest or size != row.size:
                    report.corrupt.append(row.sop_instance_uid)
            for key in self.store.iter_keys():
                if key in known:
                    continue
                report.orphans.append(key)
                if repair:
                    self._adopt(key)
                    report.repaired += 1
        return report

    def _adopt(self, key: str) -> None:
        path = self.store.path(key)
        try:
            record = record_from_file(path, key, findings=[{"adopted": True}])
            versions = self.index.versions(record.sop_instance_uid)
            version = max((v.version for v in versions), default=0) + 1
            self.index.apply([Insert(_with(record, version=version))])
        except (StorecoreError, OSError, ValueError) as exc:
            quarantine = self.root / "quarantine" / key
            quarantine.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, quarantine)
            log.warning("%s cannot be indexed (%s): moved to %s", key, exc, quarantine)


def _with(record: InstanceRecord, **changes: object) -> InstanceRecord:
    import dataclasses

    return dataclasses.replace(record, **changes)  # type: ignore[arg-type]

"""The blob store: where the archive keeps each instance's Part 10 file.

The pipeline uses a blob store through four steps (docs/design-archive.md):
``spool`` a new file and write into it, ``publish`` it under its key once
complete, ``release`` the spool name once the index row is committed, and
``recover`` after a crash. :class:`FilesystemStore` implements them with hard
links, so that a crash at any moment leaves either an unpublished spool file
(deleted on start) or a published file whose spool name says how to index it.

Keys are relative POSIX paths under ``objects/``, built by :func:`blob_key`
from UIDs that were validated first (PS3.5 9.1: digits and dots), so a key
never leaves the store's folder.
"""

from __future__ import annotations

import contextlib
import ctypes
import enum
import errno
import itertools
import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from storecore._typing import Buffer
from storecore.errors import StorageError
from storecore.uid import is_valid_uid

__all__ = [
    "Layout",
    "blob_key",
    "Spool",
    "PublishedSpool",
    "PendingDelete",
    "BlobStore",
    "FilesystemStore",
]

log = logging.getLogger(__name__)


class Layout(enum.Enum):
    """How keys are made from UIDs."""

    #: ``<Study Instance UID>/<Series Instance UID>/<SOP Instance UID>.dcm``: browsable.
    STUDY = "study"
    #: ``<2 hex>/<2 hex>/<SOP Instance UID>.dcm`` from a hash of the SOP Instance UID:
    #: even directory sizes whatever the studies look like.
    HASHED = "hashed"


def blob_key(
    layout: Layout,
    sop_instance_uid: str,
    study_instance_uid: str | None,
    series_instance_uid: str | None,
    generation: int = 1,
) -> str:
    """The key of an instance's file; `generation` > 1 for later copies of one UID.

    Raises
    ------
    StorageError
        A UID that is not a valid UID: it must not become a path component.
    """
    for name, uid in (
        ("SOP Instance UID", sop_instance_uid),
        ("Study Instance UID", study_instance_uid),
        ("Series Instance UID", series_instance_uid),
    ):
        if uid is not None and not is_valid_uid(uid):
            raise StorageError(f"{name} {uid!r} is not a valid UID (PS3.5 9.1)")
    name = f"{sop_instance_uid}.dcm" if generation == 1 else f"{sop_instance_uid}~{generation}.dcm"
    if layout is Layout.HASHED:
        import hashlib

        h = hashlib.blake2b(sop_instance_uid.encode("ascii"), digest_size=2).hexdigest()
        return f"{h[:2]}/{h[2:]}/{name}"
    if study_instance_uid is None or series_instance_uid is None:
        # Non-patient objects (PS3.4 Annex GG) have no study or series
        return f"_nostudy/{name}"
    return f"{study_instance_uid}/{series_instance_uid}/{name}"


#: the most a spare file is pre-written with (:func:`prewrite`)
PREWRITE_MAX = 4 << 20
_ZEROS = bytes(1 << 20)


def prewrite(fd: int, size: int) -> int:
    """Fill a new file with `size` zero bytes (at most :data:`PREWRITE_MAX`).

    Writing into a new file costs mostly the page cache's new pages (and the
    file system's block reservations), not the copy: ~130 us of CPU for 0.5
    MB here, against ~30 us to overwrite pages already there. A sink that
    prepares its next file while the association is idle (after a response,
    before the next request) therefore pre-writes it to the size it expects,
    and the data set that then arrives only overwrites: the page allocation
    leaves the time between a data set's last PDU and its response. The
    zeros are written at their offsets (``pwrite``): the file's position
    stays at 0, where the data set's own writes start. The caller cuts the
    file back to what it wrote (:func:`cut_back`).

    Returns the bytes written: fewer (even 0) when the file system refuses
    them, which is not an error here (the data set's own writes will say).
    """
    size = min(size, PREWRITE_MAX)
    done = 0
    with contextlib.suppress(OSError), memoryview(_ZEROS) as zeros:
        while done < size:
            done += os.pwrite(fd, zeros[: min(size - done, len(zeros))], done)
    return done


def cut_back(fd: int, prewritten: int) -> int:
    """Cut a pre-written file back to the bytes written since (its position), returned."""
    end = os.lseek(fd, 0, os.SEEK_CUR)
    if end < prewritten:
        os.ftruncate(fd, end)
    return end


class Spool:
    """A file being received: written with plain ``os.write``, no buffering layer.

    With `writeback` (the ``fsync`` durability's spools), every
    :data:`WRITEBACK_STEP` bytes, writeback of what was written is started
    (``sync_file_range(SYNC_FILE_RANGE_WRITE)``, which does not wait): the disk
    works while the rest of the dataset is still arriving, so the batch's sync
    at the end finds little left to write. Without it (``background``) nobody
    waits for the disk, and the kernel's own writeback or the flusher's sync
    does the same work later, outside the association's thread.

    With `expect`, the new file is pre-written to that many bytes
    (:func:`prewrite`: a spool made while the association is idle), and
    :meth:`close` cuts it back to what :meth:`write` wrote.

    `path` is a plain string: the ingest opens, renames and links it once per
    instance, and a :class:`~pathlib.Path` would be converted back each time.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, writeback: bool = True, expect: int = 0
    ) -> None:
        self.path: str | os.PathLike[str] = path
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        self.size = 0
        self.prewritten = prewrite(self.fd, expect) if expect else 0
        # bytes whose writeback was started; never starting it is "all started"
        self._started = 0 if writeback and _sync_file_range is not None else -1

    def write(self, data: Buffer) -> None:
        view = memoryview(data)
        n = os.write(self.fd, view)
        self.size += n
        if n < view.nbytes:  # a short write (a signal, the disk about to be full)
            view = view.cast("B")[n:]
            while view:
                n = os.write(self.fd, view)
                self.size += n
                view = view[n:]
        started = self._started
        if started >= 0 and self.size - started >= WRITEBACK_STEP:
            assert _sync_file_range is not None
            _sync_file_range(self.fd, started, self.size - started, _SFR_WRITE)
            self._started = self.size

    @classmethod
    def existing(cls, path: str | os.PathLike[str]) -> Spool:
        """A complete file already in the spool folder (:meth:`FilesystemStore.adopt`).

        Nothing more is written to it: it has no descriptor open, and
        :meth:`close` and :meth:`discard` work as for a written one.
        """
        spool = cls.__new__(cls)
        spool.path = path
        spool.fd = -1
        spool.size = os.stat(path).st_size
        spool.prewritten = 0
        spool._started = -1
        return spool

    def sync(self) -> None:
        os.fsync(self.fd)

    def complete(self) -> None:
        """Every byte is written: cut a pre-written file back to them (:func:`prewrite`).

        From here on the file is what was written (validators may read it).
        """
        if self.fd >= 0 and self.prewritten:
            cut_back(self.fd, self.prewritten)  # written with os.write: the position is the size
        self.prewritten = 0

    def close(self) -> None:
        """Close the complete file (cut back to what was written: :meth:`complete`)."""
        if self.fd >= 0:
            try:
                self.complete()
            finally:
                fd, self.fd = self.fd, -1
                os.close(fd)

    def discard(self) -> None:
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


@dataclass(frozen=True, slots=True)
class PublishedSpool:
    """A spool file found on start that had been published under `key`.

    `tag` is what the committer wrote into its name: ``insert`` or
    ``replace-<pk>``; `linked` is False when the crash came before the link
    (the file was never visible: it is discarded).
    """

    path: Path
    key: str
    tag: str
    digest: str
    linked: bool


@dataclass(frozen=True, slots=True)
class PendingDelete:
    """A deletion in flight: the object at `key` and a spool link to it.

    `tag` is ``user`` (a deletion) or ``replaced-<pk>`` (an overwrite's old copy).
    """

    path: Path
    key: str
    tag: str = "user"


class BlobStore(Protocol):
    """What the ingest pipeline and the archive need of a blob store."""

    def spool(self, expect: int = 0) -> Spool:
        """A new spool file (pre-written to `expect` bytes: see :class:`Spool`)."""

    def adopt(self, path: str | os.PathLike[str]) -> Spool:
        """Take a complete file written elsewhere as a spool file (it is moved, or copied)."""

    def publish(self, spool: Spool, key: str, tag: str, digest: str) -> list[str]:
        """Make the complete spool file visible under `key`; the folders touched."""

    def unpublish(self, key: str) -> None:
        """Undo a publish whose index transaction failed."""

    def sync_folders(self, folders: Iterable[str]) -> None: ...

    def sync_all(self) -> None:
        """Make every write to the store so far durable (data, names, and siblings)."""

    def release(self, spool: Spool) -> None:
        """The index row is committed: drop the spool name."""

    def mark_delete(self, key: str, tag: str = "user") -> PendingDelete: ...

    def finish_delete(self, pending: PendingDelete, *, keep: bool = False) -> None: ...

    def recover(self) -> tuple[list[PublishedSpool], list[PendingDelete], int]:
        """Spool state after a crash: published spools, deletions, discarded count."""

    def exists(self, key: str) -> bool: ...

    def open(self, key: str) -> BinaryIO: ...

    def path(self, key: str) -> Path: ...

    def iter_keys(self) -> Iterator[str]: ...

    def free_bytes(self) -> int: ...


_SEQUENCE = itertools.count()
_SEQUENCE_LOCK = threading.Lock()


def _load_syncfs() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.syncfs
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int]
    fn.restype = ctypes.c_int
    return fn


# ctypes releases the GIL around the call: other associations keep receiving
_syncfs = _load_syncfs()

#: how often a spool starts the writeback of what it received
WRITEBACK_STEP = 256 << 10
_SFR_WRITE = 2  # SYNC_FILE_RANGE_WRITE (linux/fs.h): start writeback, do not wait


def _load_sync_file_range() -> Callable[[int, int, int, int], int] | None:
    try:
        fn = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


_sync_file_range = _load_sync_file_range()


def _escape(key: str) -> str:
    # keys hold digits, dots, "~", "_", hex and "/" only: "!" is free
    return key.replace("/", "!")


def _unescape(name: str) -> str:
    return name.replace("!", "/")


class FilesystemStore:
    """Part 10 files under ``<root>/objects``, spooled in ``<root>/spool``.

    Parameters
    ----------
    root : path
        The store's folder (created if missing). ``objects`` and ``spool`` must
        be on one filesystem (hard links), which they are, being siblings.
    writeback : bool
        Spools start their data's writeback as it arrives (:class:`Spool`):
        for the ``fsync`` durability, whose answers wait for the disk.
    """

    def __init__(self, root: str | os.PathLike[str], *, writeback: bool = True) -> None:
        self.root = Path(root)
        self.objects = self.root / "objects"
        self.spool_dir = self.root / "spool"
        self.objects.mkdir(parents=True, exist_ok=True)
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        self.writeback = writeback
        # the same folders as strings ending in "/": the ingest joins paths
        # per instance, where pathlib costs more than the system calls
        self._objects = os.path.join(self.objects, "")
        self._spool = os.path.join(self.spool_dir, "")
        self._pid = os.getpid()
        self._warned_exdev = False

    # --------------------------------------------------------------- ingest

    def spool(self, expect: int = 0) -> Spool:
        with _SEQUENCE_LOCK:
            n = next(_SEQUENCE)
        return Spool(f"{self._spool}in-{self._pid}-{n}", writeback=self.writeback, expect=expect)

    def adopt(self, path: str | os.PathLike[str]) -> Spool:
        """Move a complete file written by someone else (pynetdicom) into the spool.

        A rename when `path` is on the store's filesystem: no byte is read or
        written again. From another filesystem (EXDEV) the file is copied in
        the kernel (``sendfile``, no copy through Python) and the original
        removed. Either way `path` is gone afterwards and the spool owns the
        data; a failure leaves neither `path` nor a spool file behind.

        Raises
        ------
        OSError
            The move or the copy failed (ENOSPC...); `path` was removed.
        """
        with _SEQUENCE_LOCK:
            n = next(_SEQUENCE)
        target = self.spool_dir / f"in-{self._pid}-{n}"
        try:
            os.rename(path, target)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
                raise
            if not self._warned_exdev:
                self._warned_exdev = True
                log.warning(
                    "%s is not on the store's filesystem (%s): adopted files are copied; "
                    "point the writer's temporary folder at %s to have them moved",
                    os.path.dirname(os.fspath(path)),
                    self.root,
                    self.spool_dir,
                )
            _copy_into(path, target)
        return Spool.existing(target)

    def publish(self, spool: Spool, key: str, tag: str, digest: str) -> list[str]:
        """Rename the spool to say where it goes, then hard-link it into place.

        The rename records (tag, the first 16 hex digits of the dataset's
        digest, key) for :meth:`recover`, which can then tell a complete file
        from one a power loss cut short; the link is the atomic publication.
        Returns the folders whose entries changed (for callers that fsync
        folder by folder).
        """
        target = self._objects + key
        named = f"{self._spool}pub.{tag}.{digest[:16]}.{_escape(key)}"
        os.rename(spool.path, named)
        spool.path = named
        touched = [self._spool[:-1]]
        parent = os.path.dirname(target)
        try:
            # the folder usually exists (a series arrives instance by
            # instance): link first, look for missing folders only if it fails
            os.link(named, target)
        except FileExistsError:
            raise StorageError(f"{key} exists already in the store") from None
        except FileNotFoundError:
            # new folders: each new entry's parent needs its own fsync
            missing: list[str] = []
            p = parent
            while not os.path.isdir(p):
                missing.append(p)
                p = os.path.dirname(p)
            os.makedirs(parent, exist_ok=True)
            touched += [os.path.dirname(m) for m in missing]
            try:
                os.link(named, target)
            except FileExistsError:
                raise StorageError(f"{key} exists already in the store") from None
        touched.append(parent)
        return touched

    def unpublish(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._objects + key)

    def sync_folders(self, folders: Iterable[str]) -> None:
        for folder in sorted(set(folders)):
            fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def sync_all(self) -> None:
        """syncfs(2) on the store's filesystem: one journal commit and one cache
        flush make every file, name and the index (when it lives here) durable.
        """
        fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            if _syncfs is None or _syncfs(fd) != 0:
                os.sync()  # no syncfs (not Linux, or it failed): every filesystem
        finally:
            os.close(fd)

    def release(self, spool: Spool) -> None:
        spool.discard()

    # --------------------------------------------------------------- deletes

    def mark_delete(self, key: str, tag: str = "user") -> PendingDelete:
        """Link the object into the spool as ``delete.<tag>.<n>.<key>``, before its row goes."""
        with _SEQUENCE_LOCK:
            n = next(_SEQUENCE)
        path = self.spool_dir / f"delete.{tag}.{self._pid}-{n}.{_escape(key)}"
        os.link(self.objects / key, path)
        return PendingDelete(path, key, tag)

    def finish_delete(self, pending: PendingDelete, *, keep: bool = False) -> None:
        """The row is gone (remove the object), or stays (`keep`: only the link goes)."""
        if not keep:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.objects / pending.key)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(pending.path)

    # --------------------------------------------------------------- recovery

    def recover(self) -> tuple[list[PublishedSpool], list[PendingDelete], int]:
        """Read the spool after a crash (call before any ingest starts).

        Files never published (``in-*``) are deleted: nobody was told they were
        kept. Published ones and deletions are returned for the archive to
        reconcile with its index.
        """
        published: list[PublishedSpool] = []
        deletes: list[PendingDelete] = []
        discarded = 0
        for entry in os.scandir(self.spool_dir):
            name = entry.name
            if name.startswith("pub."):
                _, tag, digest, escaped = name.split(".", 3)
                key = _unescape(escaped)
                target = self.objects / key
                try:
                    linked = os.path.samefile(entry.path, target)
                except FileNotFoundError:
                    linked = False
                published.append(PublishedSpool(Path(entry.path), key, tag, digest, linked))
            elif name.startswith("delete."):
                _, tag, _, escaped = name.split(".", 3)
                deletes.append(PendingDelete(Path(entry.path), _unescape(escaped), tag))
            else:
                # in-* (never published) and anything else a crash left
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
                discarded += 1
        return published, deletes, discarded

    # --------------------------------------------------------------- reads

    def path(self, key: str) -> Path:
        return self.objects / key

    def exists(self, key: str) -> bool:
        return os.path.lexists(self._objects + key)

    def open(self, key: str) -> BinaryIO:
        try:
            return open(self.objects / key, "rb")
        except FileNotFoundError:
            raise StorageError(f"{key}: not in the store") from None

    def iter_keys(self) -> Iterator[str]:
        """Every object's key (for ``verify``)."""
        base = len(str(self.objects)) + 1
        for folder, _, files in os.walk(self.objects):
            for name in files:
                yield os.path.join(folder, name)[base:].replace(os.sep, "/")

    def free_bytes(self) -> int:
        st = os.statvfs(self.root)
        return st.f_bavail * st.f_frsize


def _copy_into(source: str | os.PathLike[str], target: Path) -> None:
    """Copy `source` to the new file `target` in the kernel, then remove `source`.

    On any failure neither file is left.
    """
    try:
        with open(source, "rb") as src:
            size = os.fstat(src.fileno()).st_size
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
            try:
                offset = 0
                while offset < size:
                    sent = os.sendfile(fd, src.fileno(), offset, size - offset)
                    if sent == 0:
                        raise OSError(errno.EIO, f"{os.fspath(source)} shrank while copied")
                    offset += sent
            except BaseException:
                os.close(fd)
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(target)
                raise
            os.close(fd)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(source)


def is_out_of_space(exc: OSError) -> bool:
    return exc.errno in (errno.ENOSPC, errno.EDQUOT)

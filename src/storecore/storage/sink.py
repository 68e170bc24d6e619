"""Where a received instance goes: the sink protocol and a plain directory sink.

The Storage SCP streams each C-STORE dataset into a sink as its PDVs arrive
(STYLE.md: streams, not blobs). A sink answers with the C-STORE status; the
SCP sends Success only after :meth:`StoreHandle.finish` returned it, so a sink
that makes data durable before returning makes the acknowledgement mean it.

:class:`DirectorySink` is the plain sink of the network engine: one Part 10
file per instance, the dataset bytes as received (never re-encoded), written to
a temporary file and renamed into place when complete; a dataset that does
not end (peer gone, abort) leaves nothing behind. The archive's ingest
pipeline (storage backends, index) is another implementation of the same
protocol.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from storecore._ext._scanner import Scanner as CScanner
from storecore._typing import Buffer
from storecore.dataset import Scanner
from storecore.dataset.part10 import encode_file_meta
from storecore.errors import DatasetError, StorecoreError
from storecore.storage.blobstore import cut_back, prewrite
from storecore.uid import is_valid_uid

__all__ = [
    "StoreRequest",
    "StoreResult",
    "StoreHandle",
    "StoreSink",
    "Prepared",
    "DirectorySink",
    "RefusedHandle",
]

log = logging.getLogger(__name__)

# C-STORE statuses used here (PS3.4 B.2.3, PS3.7 C.4.1)
_SUCCESS = 0x0000
_OUT_OF_RESOURCES = 0xA700
_DOES_NOT_MATCH = 0xA900
_CANNOT_UNDERSTAND = 0xC000


@dataclass(frozen=True, slots=True)
class StoreRequest:
    """What a sink knows of an instance when its dataset starts arriving.

    Attributes
    ----------
    sop_class_uid, sop_instance_uid : str
        Affected SOP Class/Instance UID of the C-STORE-RQ.
    transfer_syntax_uid : str
        The presentation context's transfer syntax: the dataset's encoding.
    calling_ae_title, called_ae_title : str
        The association's AE titles.
    message_id : int
        The C-STORE-RQ's Message ID.
    """

    sop_class_uid: str
    sop_instance_uid: str
    transfer_syntax_uid: str
    calling_ae_title: str
    called_ae_title: str
    message_id: int


@dataclass(frozen=True, slots=True)
class StoreResult:
    """The C-STORE-RSP status a sink answers with, and an Error Comment (<= 64 chars)."""

    status: int
    comment: str | None = None


class StoreHandle(Protocol):
    """One instance being received.

    A handle that writes the data set as received into a file may also offer
    it to the SCP's fast path: ``direct() -> (fd, scanner core) | None``, the
    file (written at its position) and the C scanner checking the bytes (see
    :meth:`storecore.dataset.Scanner.core`), after which the SCP writes the
    data set there itself instead of calling :meth:`write`, and calls
    ``direct_failed(errno)`` if a write failed; :meth:`finish` follows as usual.
    """

    def write(self, chunk: memoryview) -> None:
        """The next dataset fragment, a view valid only during the call."""

    def finish(self) -> StoreResult:
        """The dataset is complete: keep it (or refuse it) and say so."""

    def abort(self) -> None:
        """The dataset will not complete (peer gone, abort): leave nothing behind."""


class StoreSink(Protocol):
    """Where received instances go.

    A sink may also have a ``prepare() -> Prepared`` method: the SCP calls it
    while an association waits for its next request (after each response),
    so that work every instance needs (creating its file) is done before the
    request arrives instead of between the request and the response.
    """

    def begin(self, request: StoreRequest) -> StoreHandle:
        """An instance's dataset is about to arrive."""


class Prepared(Protocol):
    """What a sink's ``prepare()`` did ahead of one instance."""

    def begin(self, request: StoreRequest) -> StoreHandle:
        """As :meth:`StoreSink.begin`, with the prepared work; called at most once."""

    def discard(self) -> None:
        """Not used (the association ended): undo it."""


def _comment(text: str) -> str:
    # Error Comment is LO: at most 64 characters (PS3.7 C.4, PS3.5 Table 6.2-1)
    return text if len(text) <= 64 else text[:61] + "..."


class _SpareFile:
    """A temporary file created ahead of its instance (:meth:`DirectorySink.prepare`).

    Pre-written to the size of the sink's last instance when made while the
    association is idle (:func:`~storecore.storage.blobstore.prewrite`).
    """

    def __init__(self, sink: DirectorySink, expect: int = 0) -> None:
        self.sink = sink
        # a name no other handle uses (process, counter), created exclusively;
        # plain os-level writes, no buffering layer in between
        self.tmp = f"{sink.folder}{os.sep}.incoming-{os.getpid()}-{next(_SEQUENCE)}"
        self.fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        self.prewritten = prewrite(self.fd, expect) if expect else 0

    def begin(self, request: StoreRequest) -> StoreHandle:
        if not is_valid_uid(request.sop_instance_uid):
            self.discard()
            return RefusedHandle(StoreResult(_CANNOT_UNDERSTAND, "invalid SOP Instance UID"))
        return _DirectoryHandle(self, request)

    def discard(self) -> None:
        try:
            os.close(self.fd)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.tmp)


class _DirectoryHandle:
    def __init__(self, spare: _SpareFile, request: StoreRequest) -> None:
        self.sink = sink = spare.sink
        self.request = request
        self.final = f"{sink.folder}{os.sep}{request.sop_instance_uid}.dcm"
        self.tmp, self.fd = spare.tmp, spare.fd
        self.prewritten = spare.prewritten
        self.failed: StoreResult | None = None
        # the structure is checked as it passes (no tokens kept, values skipped);
        # only the two UIDs are copied out
        self.scanner = Scanner(
            request.transfer_syntax_uid, tokens=False, capture=(0x00080016, 0x00080018)
        )
        # the File Meta leaves with the first fragment: one write fewer
        self.head = b""
        try:
            self.head = encode_file_meta(
                request.sop_class_uid,
                request.sop_instance_uid,
                request.transfer_syntax_uid,
                source_ae_title=request.calling_ae_title,
            )
        except StorecoreError as exc:
            self.failed = StoreResult(_CANNOT_UNDERSTAND, _comment(str(exc)))

    def _write(self, chunk: Buffer | None = None) -> bool:
        """Write the File Meta if it is still pending, then `chunk`; False once failed."""
        head, self.head = self.head, b""
        try:
            if head:
                _write_all(self.fd, head, chunk)
            elif chunk is not None:
                _write_all(self.fd, chunk)
        except OSError as exc:
            self.direct_failed(exc.errno or 0)
            return False
        return True

    def write(self, chunk: memoryview) -> None:
        if self.failed is not None or not self._write(chunk):
            return  # keep reading the peer's fragments; the answer is decided
        try:
            self.scanner.feed(chunk)
        except DatasetError as exc:
            self.failed = StoreResult(_CANNOT_UNDERSTAND, _comment(str(exc)))

    def direct(self) -> tuple[int, CScanner] | None:
        """The file and the scanner's C core for the SCP's fast path (see StoreHandle)."""
        core = self.scanner.core()
        if self.failed is not None or core is None or not self._write():
            return None
        return self.fd, core

    def direct_failed(self, error: int) -> None:
        """A write of the fast path failed with `error` (an errno)."""
        if self.failed is None:
            reason = os.strerror(error) if error else "write failed"
            self.failed = StoreResult(_OUT_OF_RESOURCES, _comment(f"cannot write: {reason}"))

    def finish(self) -> StoreResult:
        result = self.failed
        size = 0
        try:
            if result is None and not self._write():  # no fragment came: the File Meta alone
                result = self.failed
            if result is None:
                size = cut_back(self.fd, self.prewritten)
                if self.sink.fsync:
                    os.fsync(self.fd)
                result = self._check()
            self._close()
            if result.status == _SUCCESS or result.status >> 12 == 0xB:
                self.sink.expect = size  # what the next spare file is pre-written to
                os.replace(self.tmp, self.final)
                if self.sink.fsync:
                    _fsync_dir(self.sink.root)
                return result
        except OSError as exc:
            result = StoreResult(_OUT_OF_RESOURCES, _comment(f"cannot store: {exc.strerror}"))
        self._discard()
        return result

    def _close(self) -> None:
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            os.close(fd)

    def _check(self) -> StoreResult:
        req = self.request
        try:
            self.scanner.close()  # a dataset that ends inside an element or sequence
        except DatasetError as exc:
            return StoreResult(_CANNOT_UNDERSTAND, _comment(str(exc)))
        sop_class, sop_instance = (
            None if v is None else v.rstrip(b"\x00 ").decode("ascii", "replace")
            for v in self.scanner.captures()
        )
        # PS3.4 B.2.3: the data set must be the instance the command names
        if sop_class != req.sop_class_uid:
            return StoreResult(
                _DOES_NOT_MATCH, _comment(f"SOP Class UID in data set is {sop_class or 'absent'}")
            )
        if sop_instance != req.sop_instance_uid:
            return StoreResult(
                _DOES_NOT_MATCH,
                _comment(f"SOP Instance UID in data set is {sop_instance or 'absent'}"),
            )
        return StoreResult(_SUCCESS)

    def abort(self) -> None:
        try:
            self._close()
        finally:
            self._discard()

    def _discard(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.tmp)


_SEQUENCE = itertools.count()


def _write_all(fd: int, data: Buffer, more: Buffer | None = None) -> None:
    """Write `data` (then `more`, in the same system call) whole."""
    if more is not None:
        done = os.writev(fd, (data, more))
        if done == len(data) + memoryview(more).nbytes:
            return
        rest = memoryview(b"".join((data, more)))[done:]  # a short write: rare
    else:
        rest = memoryview(data)
    while rest:
        rest = rest[os.write(fd, rest) :]


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class DirectorySink:
    """Write each received instance as ``<root>/<SOP Instance UID>.dcm``.

    Parameters
    ----------
    root : path
        The folder (created if missing).
    fsync : bool
        fsync each file and the folder before answering Success. Off by
        default: this sink is the network engine's test and benchmark sink; the
        archive's pipeline owns durability.

    Notes
    -----
    An instance whose SOP Instance UID is not a valid UID (PS3.5 9.1: digits
    and dots only) is refused with 0xC000 before anything is written, so a UID
    never escapes the folder. An existing file of the same UID is replaced.
    """

    def __init__(self, root: str | os.PathLike[str], *, fsync: bool = False) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.folder = os.fspath(self.root)  # the hot path joins strings, not Paths
        self.fsync = fsync
        #: the size of the last file stored: what :meth:`prepare` pre-writes
        self.expect = 0

    def path_for(self, sop_instance_uid: str) -> Path:
        """The file an instance is stored in."""
        return self.root / f"{sop_instance_uid}.dcm"

    def begin(self, request: StoreRequest) -> StoreHandle:
        if not is_valid_uid(request.sop_instance_uid):
            return RefusedHandle(StoreResult(_CANNOT_UNDERSTAND, "invalid SOP Instance UID"))
        return _DirectoryHandle(_SpareFile(self), request)

    def prepare(self) -> Prepared:
        """Create the next instance's temporary file now, while the association is idle.

        It is pre-written to the size of the last file stored (see
        :func:`~storecore.storage.blobstore.prewrite`).
        """
        return _SpareFile(self, self.expect)


class RefusedHandle:
    """A handle that reads and drops the dataset, then answers with a fixed result."""

    def __init__(self, result: StoreResult) -> None:
        self.result = result

    def write(self, chunk: memoryview) -> None:
        pass

    def finish(self) -> StoreResult:
        return self.result

    def abort(self) -> None:
        pass

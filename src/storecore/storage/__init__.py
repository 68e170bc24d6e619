"""Where instances are kept: the sink protocol the SCP streams into, and the archive.

- :mod:`~storecore.storage.sink`: the sink protocol and the plain directory sink;
- :mod:`~storecore.storage.archive`: :class:`Archive`, the blob store and index
  behind one ingest pipeline (docs/design-archive.md);
- :mod:`~storecore.storage.blobstore`, :mod:`~storecore.storage.index`: the two
  backend protocols and their filesystem and SQLite implementations;
- :mod:`~storecore.storage.policy`: duplicates, durability, space, validators.
"""

from storecore.storage.archive import Archive, RecoveryReport, VerifyReport
from storecore.storage.blobstore import BlobStore, FilesystemStore, Layout
from storecore.storage.index import Index, InstanceRecord, SQLiteIndex
from storecore.storage.ingest import ArchiveSink
from storecore.storage.policy import (
    DuplicatePolicy,
    Durability,
    Finding,
    IngestedInstance,
    StoragePolicy,
    TranscodeFailure,
    Validator,
)
from storecore.storage.sink import (
    DirectorySink,
    RefusedHandle,
    StoreHandle,
    StoreRequest,
    StoreResult,
    StoreSink,
)

__all__ = [
    "Archive",
    "ArchiveSink",
    "BlobStore",
    "DirectorySink",
    "Durability",
    "DuplicatePolicy",
    "FilesystemStore",
    "Finding",
    "Index",
    "IngestedInstance",
    "InstanceRecord",
    "Layout",
    "RecoveryReport",
    "RefusedHandle",
    "SQLiteIndex",
    "StoragePolicy",
    "StoreHandle",
    "StoreRequest",
    "StoreResult",
    "StoreSink",
    "TranscodeFailure",
    "Validator",
    "VerifyReport",
]

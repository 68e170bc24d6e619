"""storecore: a Cython-accelerated DICOM transcoding storage engine."""

from storecore.errors import (
    DatasetError,
    LocalProtocolError,
    RemoteProtocolError,
    StorageError,
    StorecoreError,
    TranscodeError,
    UnknownUIDError,
    ValidationError,
)
from storecore.limits import DEFAULT_LIMITS, Limits

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_LIMITS",
    "DatasetError",
    "Limits",
    "LocalProtocolError",
    "RemoteProtocolError",
    "StorageError",
    "StorecoreError",
    "TranscodeError",
    "UnknownUIDError",
    "ValidationError",
    "__version__",
]

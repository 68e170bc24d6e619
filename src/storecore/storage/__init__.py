"""Where instances are kept: the sink protocol the SCP streams into, and its backends."""

from storecore.storage.sink import (
    DirectorySink,
    RefusedHandle,
    StoreHandle,
    StoreRequest,
    StoreResult,
    StoreSink,
)

__all__ = [
    "DirectorySink",
    "RefusedHandle",
    "StoreHandle",
    "StoreRequest",
    "StoreResult",
    "StoreSink",
]

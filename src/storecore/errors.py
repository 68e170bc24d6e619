"""The one exception tree of storecore.

Every error storecore raises on purpose is a :class:`StorecoreError`. Parsers of
bytes from the network or disk raise :class:`DatasetError` (or a protocol error)
and never leak ``IndexError``, ``struct.error`` or ``AssertionError``: the fuzz
harnesses in ``tests/fuzz`` hold them to that.
"""

from __future__ import annotations

__all__ = [
    "StorecoreError",
    "LocalProtocolError",
    "RemoteProtocolError",
    "DatasetError",
    "TranscodeError",
    "StorageError",
    "ValidationError",
    "UnknownUIDError",
]


class StorecoreError(Exception):
    """Base class of every error storecore raises on purpose."""


class LocalProtocolError(StorecoreError):
    """We were asked to do something the protocol does not allow."""


class RemoteProtocolError(StorecoreError):
    """The peer broke the protocol.

    Parameters
    ----------
    message : str
        What was wrong.
    abort_source, abort_reason : int
        The A-ABORT source and reason/diagnostic to send (PS3.8 Section 9.3.8).
    """

    def __init__(self, message: str, abort_source: int = 2, abort_reason: int = 0) -> None:
        super().__init__(message)
        self.abort_source = abort_source
        self.abort_reason = abort_reason


class DatasetError(StorecoreError):
    """A dataset's bytes are not valid for the encoding they claim.

    Parameters
    ----------
    message : str
        What was wrong.
    offset : int
        The byte offset (in the scanned stream) where the problem was seen.
    path : str
        The tag path, e.g. ``(0040,A730)[2].(0008,0100)``; empty at the top level
        before any element was read.
    """

    def __init__(self, message: str, offset: int = -1, path: str = "") -> None:
        self.reason = message
        self.offset = offset
        self.path = path
        where = []
        if offset >= 0:
            where.append(f"0x{offset:X}")
        if path:
            where.append(f"in {path}")
        super().__init__(f"{message} at {' '.join(where)}" if where else message)


class TranscodeError(StorecoreError):
    """A transfer syntax conversion could not be done; nothing was written as if it had."""


class StorageError(StorecoreError):
    """The store or the index could not keep an instance."""


class ValidationError(StorecoreError):
    """An instance does not match its SOP Class.

    Parameters
    ----------
    message : str
        The finding.
    status : int
        The DIMSE status to answer with (PS3.4 Annex B.2.3), e.g. 0xA900.
    """

    def __init__(self, message: str, status: int = 0xA900) -> None:
        super().__init__(message)
        self.status = status


class UnknownUIDError(StorecoreError, LookupError):
    """A UID or keyword is not in a registry (transfer syntaxes, SOP classes)."""

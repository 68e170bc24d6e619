"""The Storage Commitment Push Model data sets, encoded and decoded without pydicom.

The N-ACTION-RQ of a commitment request carries a Transaction UID and a
Referenced SOP Sequence; the N-EVENT-REPORT-RQ of its result carries the same
Transaction UID, the Referenced SOP Sequence of what was committed and a Failed
SOP Sequence with a Failure Reason per instance (PS3.4 J.3.2 and J.3.3, Tables
J.3-1 and J.3-2). Both travel in the transfer syntax negotiated for the
Storage Commitment context: Implicit or Explicit VR Little Endian.

Decoding reads storecore's scanner tokens and is strict: a missing Transaction
UID or Referenced SOP Sequence, an item without its two UIDs, or a UID that is
not a UID raises :class:`CommitmentError` with the N-ACTION status to answer.

References
----------
PS3.4 Annex J; PS3.7 Sections 10.1.4 (N-ACTION) and 10.1.1 (N-EVENT-REPORT).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from storecore._typing import Buffer
from storecore.dataset import TokenKind, scan
from storecore.errors import DatasetError, StorecoreError
from storecore.uid import is_valid_uid

__all__ = [
    "STORAGE_COMMITMENT_PUSH_MODEL",
    "STORAGE_COMMITMENT_INSTANCE",
    "Reference",
    "CommitmentRequest",
    "CommitmentResult",
    "CommitmentError",
    "encode_request",
    "decode_request",
    "encode_result",
    "decode_result",
    "FAILURE_REASONS",
]

#: Storage Commitment Push Model SOP Class and its well-known instance (PS3.4 J.3.1)
STORAGE_COMMITMENT_PUSH_MODEL = "1.2.840.10008.1.20.1"
STORAGE_COMMITMENT_INSTANCE = "1.2.840.10008.1.20.1.1"

_TRANSACTION_UID = 0x00081195
_REFERENCED_SOP_SEQUENCE = 0x00081199
_FAILED_SOP_SEQUENCE = 0x00081198
_REFERENCED_SOP_CLASS_UID = 0x00081150
_REFERENCED_SOP_INSTANCE_UID = 0x00081155
_FAILURE_REASON = 0x00081197

_IMPLICIT = "1.2.840.10008.1.2"

#: Failure Reasons of PS3.4 J.3.3.1.1 (the general statuses they reuse)
FAILURE_REASONS = {
    0x0110: "Processing failure",
    0x0112: "No such object instance",
    0x0119: "Class / Instance conflict",
    0x0122: "Referenced SOP Class not supported",
    0x0131: "Duplicate transaction UID",
    0x0213: "Resource limitation",
}

# N-ACTION failure statuses (PS3.7 C.5): Missing Attribute, Invalid Attribute Value
_MISSING_ATTRIBUTE = 0x0120
_INVALID_ATTRIBUTE_VALUE = 0x0106


class CommitmentError(StorecoreError):
    """A commitment data set that cannot be accepted, with the status to answer."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Reference:
    """One instance of a transaction; `failure_reason` set in a Failed SOP Sequence."""

    sop_class_uid: str
    sop_instance_uid: str
    failure_reason: int | None = None


@dataclass(frozen=True, slots=True)
class CommitmentRequest:
    transaction_uid: str
    references: tuple[Reference, ...]


@dataclass(frozen=True, slots=True)
class CommitmentResult:
    """What the SCP reports: Event Type 1 when nothing failed, else 2 (PS3.4 J.3.3)."""

    transaction_uid: str
    committed: tuple[Reference, ...]
    failed: tuple[Reference, ...]

    @property
    def event_type_id(self) -> int:
        return 2 if self.failed else 1


# ------------------------------------------------------------------ encoding


def _element(tag: int, vr: str, value: bytes, explicit: bool) -> bytes:
    group, elem = tag >> 16, tag & 0xFFFF
    if not explicit:
        return struct.pack("<HHI", group, elem, len(value)) + value
    return struct.pack("<HH2sH", group, elem, vr.encode("ascii"), len(value)) + value


def _uid(tag: int, uid: str, explicit: bool) -> bytes:
    raw = uid.encode("ascii")
    if len(raw) % 2:
        raw += b"\x00"  # UI pads with NUL (PS3.5 9.1)
    return _element(tag, "UI", raw, explicit)


def _sequence(tag: int, items: list[bytes], explicit: bool) -> bytes:
    # undefined lengths with delimiters (PS3.5 7.5.1): no lengths to compute
    group, elem = tag >> 16, tag & 0xFFFF
    head = (
        struct.pack("<HH2sHI", group, elem, b"SQ", 0, 0xFFFFFFFF)
        if explicit
        else struct.pack("<HHI", group, elem, 0xFFFFFFFF)
    )
    body = b"".join(
        struct.pack("<HHI", 0xFFFE, 0xE000, 0xFFFFFFFF)
        + item
        + struct.pack("<HHI", 0xFFFE, 0xE00D, 0)
        for item in items
    )
    return head + body + struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)


def _item(ref: Reference, explicit: bool, with_reason: bool) -> bytes:
    out = _uid(_REFERENCED_SOP_CLASS_UID, ref.sop_class_uid, explicit)
    out += _uid(_REFERENCED_SOP_INSTANCE_UID, ref.sop_instance_uid, explicit)
    if with_reason:
        out += _element(_FAILURE_REASON, "US", struct.pack("<H", ref.failure_reason or 0), explicit)
    return out


def _explicit(transfer_syntax: str) -> bool:
    if transfer_syntax not in (_IMPLICIT, "1.2.840.10008.1.2.1"):
        raise CommitmentError(
            "commitment data sets are Implicit or Explicit VR Little Endian, "
            f"not {transfer_syntax}",
            _INVALID_ATTRIBUTE_VALUE,
        )
    return transfer_syntax != _IMPLICIT


def encode_request(request: CommitmentRequest, transfer_syntax: str = _IMPLICIT) -> bytes:
    """The N-ACTION-RQ data set (PS3.4 Table J.3-1), elements in tag order."""
    explicit = _explicit(transfer_syntax)
    return _uid(_TRANSACTION_UID, request.transaction_uid, explicit) + _sequence(
        _REFERENCED_SOP_SEQUENCE,
        [_item(r, explicit, False) for r in request.references],
        explicit,
    )


def encode_result(result: CommitmentResult, transfer_syntax: str = _IMPLICIT) -> bytes:
    """The N-EVENT-REPORT-RQ data set (PS3.4 Table J.3-2), elements in tag order."""
    explicit = _explicit(transfer_syntax)
    out = _uid(_TRANSACTION_UID, result.transaction_uid, explicit)
    if result.failed:  # (0008,1198) sorts before (0008,1199)
        out += _sequence(
            _FAILED_SOP_SEQUENCE, [_item(r, explicit, True) for r in result.failed], explicit
        )
    if result.committed:
        out += _sequence(
            _REFERENCED_SOP_SEQUENCE,
            [_item(r, explicit, False) for r in result.committed],
            explicit,
        )
    return out


# ------------------------------------------------------------------ decoding


def _parse(
    data: Buffer, transfer_syntax: str
) -> tuple[dict[int, bytes], dict[int, list[dict[int, bytes]]]]:
    """Top-level values, and the items (tag -> value) of top-level sequences."""
    _explicit(transfer_syntax)
    view = memoryview(data)
    try:
        tokens = scan(view, transfer_syntax)
    except DatasetError as exc:
        raise CommitmentError(
            f"undecodable commitment data set: {exc}", _INVALID_ATTRIBUTE_VALUE
        ) from None
    top: dict[int, bytes] = {}
    sequences: dict[int, list[dict[int, bytes]]] = {}
    current: int | None = None
    item: dict[int, bytes] = {}
    for t in tokens:
        # depth 0: top-level elements and sequences; 1: their items; 2: the
        # items' elements. Anything deeper (a nested sequence) is not ours.
        if t.depth == 0:
            if t.kind == TokenKind.SEQUENCE_START:
                current = t.tag
                sequences.setdefault(t.tag, [])
            elif t.kind == TokenKind.SEQUENCE_END:
                current = None
            elif t.kind == TokenKind.ELEMENT:
                top[t.tag] = bytes(view[t.value_offset : t.value_offset + t.length])
        elif t.depth == 1 and current is not None:
            if t.kind == TokenKind.ITEM_START:
                item = {}
            elif t.kind == TokenKind.ITEM_END:
                sequences[current].append(item)
        elif t.depth == 2 and current is not None and t.kind == TokenKind.ELEMENT:
            item.setdefault(t.tag, bytes(view[t.value_offset : t.value_offset + t.length]))
    return top, sequences


def _text_uid(raw: bytes | None, what: str) -> str:
    if raw is None:
        raise CommitmentError(f"{what} is missing", _MISSING_ATTRIBUTE)
    uid = raw.rstrip(b"\x00 ").decode("ascii", "replace")
    if not is_valid_uid(uid):
        raise CommitmentError(f"{what} {uid!r} is not a valid UID", _INVALID_ATTRIBUTE_VALUE)
    return uid


def _references(items: list[dict[int, bytes]], with_reason: bool) -> tuple[Reference, ...]:
    refs = []
    for n, it in enumerate(items, start=1):
        reason = None
        if with_reason:
            raw = it.get(_FAILURE_REASON)
            reason = struct.unpack("<H", raw[:2])[0] if raw and len(raw) >= 2 else None
        refs.append(
            Reference(
                _text_uid(it.get(_REFERENCED_SOP_CLASS_UID), f"item {n}: Referenced SOP Class UID"),
                _text_uid(
                    it.get(_REFERENCED_SOP_INSTANCE_UID), f"item {n}: Referenced SOP Instance UID"
                ),
                reason,
            )
        )
    return tuple(refs)


def decode_request(data: Buffer, transfer_syntax: str = _IMPLICIT) -> CommitmentRequest:
    """Read an N-ACTION-RQ data set; raises :class:`CommitmentError` with the status to answer."""
    top, sequences = _parse(data, transfer_syntax)
    uid = _text_uid(top.get(_TRANSACTION_UID), "Transaction UID")
    if _REFERENCED_SOP_SEQUENCE not in sequences:
        raise CommitmentError("Referenced SOP Sequence is missing", _MISSING_ATTRIBUTE)
    refs = _references(sequences[_REFERENCED_SOP_SEQUENCE], False)
    if not refs:
        raise CommitmentError("Referenced SOP Sequence is empty", _INVALID_ATTRIBUTE_VALUE)
    return CommitmentRequest(uid, refs)


def decode_result(data: Buffer, transfer_syntax: str = _IMPLICIT) -> CommitmentResult:
    """Read an N-EVENT-REPORT-RQ data set of a commitment result."""
    top, sequences = _parse(data, transfer_syntax)
    return CommitmentResult(
        _text_uid(top.get(_TRANSACTION_UID), "Transaction UID"),
        _references(sequences.get(_REFERENCED_SOP_SEQUENCE, []), False),
        _references(sequences.get(_FAILED_SOP_SEQUENCE, []), True),
    )

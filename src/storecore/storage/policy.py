"""The archive's storage policy: duplicates, durability, transcoding on ingest, space.

Each choice is documented with the C-STORE status it leads to and what it risks;
``storecore serve`` reads them from the ``[storage]`` table of its TOML config.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from storecore.limits import DEFAULT_LIMITS, Limits

if TYPE_CHECKING:
    from storecore.storage.index import InstanceRecord

__all__ = [
    "Durability",
    "DuplicatePolicy",
    "Finding",
    "IngestedInstance",
    "Validator",
    "StoragePolicy",
    "TranscodeFailure",
]


class Durability(enum.Enum):
    """When an instance counts as kept."""

    #: fsync the file, its folder entries and the index (WAL) before answering
    #: Success: an acknowledged instance survives a power loss. The default.
    FSYNC = "fsync"
    #: answer once the data is in the page cache; a flusher thread fsyncs every
    #: ``flush_interval`` seconds and marks the rows synced. A process crash
    #: loses nothing; a power loss or OS crash loses what arrived since the last
    #: flush. For bulk migrations. Storage Commitment only commits synced rows.
    BACKGROUND = "background"


class DuplicatePolicy(enum.Enum):
    """What a C-STORE of a SOP Instance UID the archive already holds does.

    The statuses (PS3.4 B.2.3, PS3.7 C.5.8):

    ========= ============================================ ==========================
    policy    same content (equal digest)                  different content
    ========= ============================================ ==========================
    keep      0x0000, nothing changes                      0x0000, the stored copy kept
    overwrite 0x0000, nothing changes                      0x0000, replaced
    reject    0x0000, nothing changes                      0x0111 Duplicate SOP Instance
    version   0x0000, nothing changes                      0x0000, kept as a new version
    ========= ============================================ ==========================
    """

    KEEP = "keep"
    OVERWRITE = "overwrite"
    REJECT = "reject"
    VERSION = "version"


class TranscodeFailure(enum.Enum):
    """What an instance the storage policy's transcode cannot be applied to does.

    The transcode fails when the matrix has no path for the pair (PS3.2 Table
    N.5-9 NOT_SUPPORTED: no decoder for the received syntax, a video or
    referenced-pixel syntax) or the codec refuses the image (e.g. JPEG-LS of
    32-bit pixels) or its pixel data. Never a silent Success with the original:

    ================== =========================================================
    refuse (default)   0xC000 (Error: Cannot understand, PS3.4 B.2.3) with an
                       Error Comment naming the target and the reason; nothing
                       is stored. Not 0x0110 (Processing failure): the outcome
                       is decided by this data set and this policy, and a
                       sender retrying a 0x0110 would get it again.
    store-as-received  stored as received, answered 0x0000, the record says
                       NOT_SUPPORTED with the reason and a warning is logged.
                       No warning status fits: PS3.4 B.2.3 has 0xB000 for
                       coerced elements, 0xB006 for discarded ones, 0xB007 for a
                       data set not matching its SOP Class, and here nothing was
                       changed; the operator chose this outcome, and the
                       conformance statement says so.
    ================== =========================================================
    """

    REFUSE = "refuse"
    STORE_AS_RECEIVED = "store-as-received"


@dataclass(frozen=True, slots=True)
class Finding:
    """A validator's verdict: a C-STORE status (warning or failure) and why."""

    status: int
    comment: str
    validator: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"status": self.status, "comment": self.comment, "validator": self.validator}


@dataclass(frozen=True, slots=True)
class IngestedInstance:
    """What a validator sees of a received instance: its keys and where its bytes are.

    ``captures`` maps each tag of :data:`storecore.storage.ingest.INDEX_TAGS` to
    its raw value (None when absent); ``path`` is the complete spool file (a
    Part 10 file), ``dataset_offset`` where its dataset starts.
    """

    sop_class_uid: str
    sop_instance_uid: str
    transfer_syntax_uid: str
    calling_ae_title: str
    captures: dict[int, bytes | None]
    path: str
    dataset_offset: int
    #: the ingest scanner's tokens of the data set (offsets from its start; for a
    #: deflated data set, in the inflated stream): validators need not scan again
    tokens: Sequence[Any] | None = None
    #: the data set's first bytes as received (at most 16 KiB; None for a
    #: deflated data set): validators read the values there without reopening
    #: `path`, which costs more than the checks once the pixel data went
    #: through the caches (issue 7)
    head: bytes | None = None


#: A validator: findings for an instance (empty: nothing to say). A failure
#: status (0xA9xx, 0xCxxx, 0xA7xx) refuses the instance; a warning (0xB0xx) is
#: answered and recorded. An exception inside one is a 0x0110 Processing
#: failure, never an aborted association.
Validator = Callable[[IngestedInstance], Sequence[Finding]]


@dataclass(frozen=True, slots=True)
class StoragePolicy:
    """Everything the ingest pipeline decides by.

    Attributes
    ----------
    duplicates : DuplicatePolicy
        See :class:`DuplicatePolicy`; default ``keep`` (dcmtk/Orthanc keep the
        first copy too).
    durability : Durability
        See :class:`Durability`; default ``fsync``.
    store_transfer_syntax : str or None
        Store in this syntax (any the transcoding matrix reaches: native, or
        compressed such as JPEG-LS Lossless ``1.2.840.10008.1.2.4.80``); None
        (default): as received. Instances without Pixel Data are stored as
        received whatever the target.
    store_transfer_syntax_by_modality : mapping of str to str
        Modality (0008,0060) -> the syntax to store that modality's instances
        in, over `store_transfer_syntax` ("" : as received).
    allow_lossy : bool
        Allow a lossy target (default False). Lossy output is a new instance
        (PS3.3 C.7.6.1.1.5): it is stored under a new SOP Instance UID, the
        index maps the sender's UID to it, and the C-STORE is answered 0xB000
        (Coercion of Data Elements: the SOP Instance UID and the Lossy Image
        Compression attributes were changed).
    uid_root : str or None
        Root of the new UIDs of lossy instances (default ``2.25``, PS3.5 B.2).
    on_transcode_failure : TranscodeFailure
        See :class:`TranscodeFailure`; default ``refuse``.
    min_free_bytes : int
        Refuse a store (0xA700) before reading it when free space would fall
        below this. Default 1 GiB.
    reservation_bytes : int
        Space each instance in flight reserves, and by which its reservation
        grows as bytes arrive. Default 64 MiB.
    flush_interval : float
        Seconds between the background flusher's syncs.
    validators : sequence of Validator
        Run on every complete instance, in order, after the built-in UID checks.
    limits : Limits
        Element lengths, sequence depth, inflated size of a deflated dataset.
    lenient_odd_length : bool
        Accept odd value lengths (PS3.5 7.1.1 forbids them).
    route : callable, optional
        The forwarding rules (names) an instance goes to once stored: their
        jobs are queued in the transaction that indexes it (see
        :mod:`storecore.forward`).
    """

    duplicates: DuplicatePolicy = DuplicatePolicy.KEEP
    durability: Durability = Durability.FSYNC
    store_transfer_syntax: str | None = None
    store_transfer_syntax_by_modality: Mapping[str, str] = field(default_factory=dict)
    allow_lossy: bool = False
    uid_root: str | None = None
    on_transcode_failure: TranscodeFailure = TranscodeFailure.REFUSE
    min_free_bytes: int = 1 << 30
    reservation_bytes: int = 64 << 20
    flush_interval: float = 1.0
    validators: Sequence[Validator] = field(default_factory=tuple)
    limits: Limits = DEFAULT_LIMITS
    lenient_odd_length: bool = False
    route: Callable[[InstanceRecord], Sequence[str]] | None = None

    def target_syntax(self, modality: str) -> str | None:
        """The syntax an instance of `modality` is stored in (None: as received)."""
        target = self.store_transfer_syntax_by_modality.get(modality)
        if target is None:
            return self.store_transfer_syntax
        return target or None

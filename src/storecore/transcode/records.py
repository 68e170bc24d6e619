"""Per-instance transcoding records (PS3.2 Annex N.5.2.5.1.1, Table N.5-9)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["TranscodePath", "TranscodeRecord", "LOSSY_DERIVATION"]

#: How the Derivation Description (0008,2111) of storecore's lossy (NEW_UID)
#: outputs begins: with the Source Image Sequence (0008,2112), whose item
#: references the original, it tells the archive's recovery that a stored file
#: is the lossy copy of a received instance (PS3.3 C.7.6.1.1.3)
LOSSY_DERIVATION = "Lossy compression by storecore to "


class TranscodePath(enum.Enum):
    """The path a transcode took, in the words of PS3.2 Table N.5-9."""

    #: Transcoded keeping the SOP Instance UID (lossless, or native rewriting).
    SUPPORTED = "SUPPORTED"
    #: Transcoded only by creating a new SOP Instance (lossy output).
    NEW_UID = "NEW_UID"
    #: Not transcodable (no codec, or a policy forbids it).
    NOT_SUPPORTED = "NOT_SUPPORTED"


@dataclass(frozen=True, slots=True)
class TranscodeRecord:
    """What happened to one instance's transfer syntax.

    Attributes
    ----------
    source_ts, target_ts : str
        Transfer Syntax UIDs in and out.
    path : TranscodePath
        SUPPORTED, NEW_UID or NOT_SUPPORTED.
    codec : str
        What did the work, with its version (e.g. "storecore.native 0.1.0").
    original_sop_instance_uid, sop_instance_uid : str or None
        The UID before and after (equal unless the path is NEW_UID).
    bytes_in, bytes_out : int
        Dataset sizes (without File Meta Information).
    ratio : float or None
        The compression ratio of the pixel data written (uncompressed bytes /
        compressed bytes) when the output is compressed; None otherwise.
    """

    source_ts: str
    target_ts: str
    path: TranscodePath
    codec: str
    original_sop_instance_uid: str | None
    sop_instance_uid: str | None
    bytes_in: int
    bytes_out: int
    ratio: float | None = None

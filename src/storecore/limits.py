"""Explicit limits, one frozen value passed to every parser.

Each default cites the precedent it follows. A limit is a refusal point: the
parser raises a :class:`~storecore.errors.StorecoreError` when input exceeds it,
before allocating anything in proportion to the input.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Limits", "DEFAULT_LIMITS"]


@dataclass(frozen=True, slots=True)
class Limits:
    """Limits applied while reading bytes from the network or disk.

    Attributes
    ----------
    max_element_length : int
        Largest defined value length accepted for one element. Default
        0xFFFFFFFE, the largest length PS3.5 Section 7.1 can encode (0xFFFFFFFF
        means undefined): a dataset is streamed, never buffered whole, so a
        large element costs no memory; lower it to refuse huge objects early.
    max_sequence_depth : int
        Deepest nesting of sequences (and encapsulated pixel data) accepted.
        Default 64: dcmtk has no fixed limit but real IODs nest fewer than 10
        levels (the deepest standard templates, SR content trees, reach about 8);
        64 stops stack-exhaustion input with room to spare.
    max_pdu_length : int
        Largest PDU we accept when the peer proposes none (PS3.8 D.1: 0 means no
        limit). Default 4 MiB, dcmtk's own maximum receive PDU (ASC_MAXIMUMPDUSIZE
        is 131072 by default but up to 4194302 can be configured).
    max_captured_value : int
        Largest value the incremental scanner copies for the summary keys (UIDs,
        names, image attributes). Default 1024 bytes: the longest key kept is a
        PN of five 64-character components.
    max_inflated_length : int
        Largest Deflated Explicit VR Little Endian dataset (PS3.5 A.5) accepted
        once inflated. Default 4 GiB: deflate expands up to ~1000:1, so without
        a bound a 4 MB upload could claim 4 GB; real deflated datasets (SR,
        waveforms, presentation states) are megabytes.
    """

    max_element_length: int = 0xFFFFFFFE
    max_sequence_depth: int = 64
    max_pdu_length: int = 4 * 1024 * 1024
    max_captured_value: int = 1024
    max_inflated_length: int = 4 << 30

    def __post_init__(self) -> None:
        if not 0 <= self.max_element_length <= 0xFFFFFFFE:
            raise ValueError("max_element_length must be within 0..0xFFFFFFFE")
        if not 1 <= self.max_sequence_depth <= 4096:
            raise ValueError("max_sequence_depth must be within 1..4096")
        if self.max_pdu_length < 1024:
            raise ValueError("max_pdu_length must be at least 1024")
        if not 64 <= self.max_captured_value <= 1 << 20:
            raise ValueError("max_captured_value must be within 64..1 MiB")
        if self.max_inflated_length < 1024:
            raise ValueError("max_inflated_length must be at least 1024")


DEFAULT_LIMITS = Limits()

"""Storage Commitment Push Model (PS3.4 Annex J): data sets, transactions, both roles."""

from storecore.commitment.messages import (
    FAILURE_REASONS,
    STORAGE_COMMITMENT_INSTANCE,
    STORAGE_COMMITMENT_PUSH_MODEL,
    CommitmentError,
    CommitmentRequest,
    CommitmentResult,
    Reference,
    decode_request,
    decode_result,
    encode_request,
    encode_result,
)

__all__ = [
    "FAILURE_REASONS",
    "STORAGE_COMMITMENT_INSTANCE",
    "STORAGE_COMMITMENT_PUSH_MODEL",
    "CommitmentError",
    "CommitmentRequest",
    "CommitmentResult",
    "Reference",
    "decode_request",
    "decode_result",
    "encode_request",
    "encode_result",
]

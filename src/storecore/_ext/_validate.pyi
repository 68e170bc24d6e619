"""Type stubs of the built-in validators' quick tests (C extension)."""

from collections.abc import Sequence

from storecore._ext._scanner import Token
from storecore._typing import Buffer

def index_tokens(
    tokens: Sequence[Token], large_value: int, max_head: int
) -> tuple[dict[int, Token], int]: ...
def iod_clean(
    top: dict[int, Token],
    head: Buffer,
    big_endian: bool,
    required: tuple[int, ...],
    type_1: tuple[int, ...],
    allowed: tuple[tuple[int, int, frozenset[bytes], frozenset[str]], ...],
) -> bool: ...
def common_clean(
    top: dict[int, Token],
    head: Buffer,
    big_endian: bool,
    encapsulated: bool,
    sop_class_uid: bytes | None,
    sop_instance_uid: bytes | None,
    ie_tags: tuple[int, ...],
    ie_type_1: tuple[int, ...],
    character_sets: frozenset[bytes],
) -> bool: ...

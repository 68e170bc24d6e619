"""Type stubs of the incremental element scanner (C extension)."""

from collections.abc import Sequence
from enum import IntEnum
from typing import NamedTuple

from storecore._typing import Buffer

class TokenKind(IntEnum):
    ELEMENT = 1
    SEQUENCE_START = 2
    SEQUENCE_END = 3
    ITEM_START = 4
    ITEM_END = 5
    ENCAPSULATED_START = 6
    BASIC_OFFSET_TABLE = 7
    FRAGMENT = 8
    ENCAPSULATED_END = 9

class Token(NamedTuple):
    kind: TokenKind
    tag: int
    vr: str
    length: int
    offset: int
    value_offset: int
    depth: int
    implicit: bool
    delimited: bool

def vr_code(name: str) -> int: ...
def lookup_dictionary_vr(tag: int) -> str: ...

class Scanner:
    done: bool
    closed: bool
    def __new__(
        cls,
        implicit_vr: bool = False,
        big_endian: bool = False,
        *,
        max_element_length: int = 0xFFFFFFFE,
        max_sequence_depth: int = 64,
        lenient_odd_length: bool = False,
        tokens: bool = True,
        stop_tag: int = 0,
        capture: Sequence[int] = (),
        max_captured_value: int = 1024,
    ) -> Scanner: ...
    def feed(self, data: Buffer) -> list[Token]: ...
    def close(self) -> list[Token]: ...
    @property
    def offset(self) -> int: ...
    @property
    def stopped_at(self) -> Token | None: ...
    def capture(self, index: int) -> bytes | None: ...
    def captures(self) -> tuple[bytes | None, ...]: ...
    def capture_vr(self, index: int) -> str: ...

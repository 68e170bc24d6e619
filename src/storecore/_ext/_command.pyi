"""Type stubs of the DIMSE command set fast path (C extension)."""

from collections.abc import Iterable, Sequence

from storecore._typing import Buffer

class CommandCodec:
    def __new__(
        cls,
        specs: Iterable[tuple[type, int, str, Sequence[tuple[str, int, str, bool]]]],
    ) -> CommandCodec: ...
    def decode(self, data: Buffer, max_element_length: int = 0xFFFFFFFE) -> object | None: ...
    def encode(self, message: object) -> bytes | None: ...
    def encode_values(self, cls: type, values: tuple[object, ...]) -> bytes | None: ...

"""Type stubs of the native transfer syntax rewriter (C extension)."""

from collections.abc import Callable

from storecore._typing import Buffer

def transcode_native(
    source: Buffer,
    src_implicit: bool,
    src_big: bool,
    dst_implicit: bool,
    dst_big: bool,
    write: Callable[[memoryview], object],
    *,
    max_element_length: int = 0xFFFFFFFE,
    max_sequence_depth: int = 64,
    lenient_odd_length: bool = False,
) -> int: ...

"""Type stubs of the PDU framer and PDV assembler (C extension)."""

from collections.abc import Iterable

from storecore._ext._scanner import Scanner
from storecore._typing import Buffer

COMMAND: int
DATA: int

class PDUFramer:
    max_pdata_length: int
    max_pdu_length: int
    pdus: int
    bytes_received: int
    def __new__(
        cls, max_pdata_length: int = 0, *, max_pdu_length: int = ..., buffer_size: int = 0
    ) -> PDUFramer: ...
    def set_max_pdata_length(self, n: int) -> None: ...
    @property
    def buffered(self) -> int: ...
    def get_buffer(self, sizehint: int = -1) -> memoryview: ...
    def buffer_updated(self, nbytes: int) -> None: ...
    def feed(self, data: Buffer) -> list[tuple[int, bytes]]: ...
    def next_pdu(self) -> tuple[int, memoryview] | None: ...

class PDVAssembler:
    messages: int
    def __new__(cls, contexts: Iterable[int] = ()) -> PDVAssembler: ...
    def set_contexts(self, contexts: Iterable[int]) -> None: ...
    @property
    def in_message(self) -> bool: ...
    def feed(
        self, body: Buffer
    ) -> list[tuple[int, int, bytes, bool] | tuple[int, int, memoryview, bool]]: ...

PUMP_LAST: int
PUMP_YIELD: int
PUMP_CLOSED: int
PUMP_TIMEOUT: int
PUMP_RECV_ERROR: int

def pump_dataset(
    framer: PDUFramer,
    assembler: PDVAssembler,
    sock_fd: int,
    file_fd: int,
    scanner: Scanner | None = None,
) -> tuple[int, int, int, int]: ...

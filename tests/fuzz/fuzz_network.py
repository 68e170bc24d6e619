"""Atheris harness of the network byte parsers: the C PDU framer, the C PDV
assembler, the DIMSE command decoder, the PDU decoders and the sans-IO
Association (PS3.8, PS3.7).

Input: one byte that picks the chunking, then a byte stream as an acceptor
would receive it. Invariant: every parser returns or raises a StorecoreError
(RemoteProtocolError with the abort to send, DatasetError, CommandSetError),
never IndexError, struct.error, a crash or a hang; the framer gives the same
PDUs whatever the chunking.

Run::

    python3 tests/fuzz/fuzz_network.py -atheris_runs=100000 [corpus_dir ...]
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

_HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(_HERE))
from fuzz_runner import import_storecore_path, main  # noqa: E402

import_storecore_path()
import pydicom  # noqa: E402,F401 - imported before instrumentation: only storecore is instrumented

with atheris.instrument_imports(include=["storecore"]):
    from storecore._ext._pdu import COMMAND, PDUFramer, PDVAssembler
    from storecore.dimse import decode_command
    from storecore.errors import StorecoreError
    from storecore.ul import NEED_DATA, Association, Policy, decode_pdu


def _frame(stream: bytes, step: int) -> list[tuple[int, bytes]] | StorecoreError:
    framer = PDUFramer(16384, buffer_size=1024, max_pdu_length=1 << 16)
    out: list[tuple[int, bytes]] = []
    try:
        for i in range(0, len(stream), step):
            out += framer.feed(stream[i : i + step])
    except StorecoreError as exc:
        return exc
    return out


def TestOneInput(data: bytes) -> None:
    if not data:
        return
    step = data[0] % 64 + 1
    stream = data[1:]
    chunked = _frame(stream, step)
    whole = _frame(stream, len(stream) or 1)
    if isinstance(whole, list) and isinstance(chunked, list):
        assert chunked == whole, "chunking changed the PDUs"
    else:  # both refuse, with the same reason
        assert type(chunked) is type(whole) and str(chunked) == str(whole)
    if isinstance(whole, list):
        assembler = PDVAssembler([1, 3, 5])
        for pdu_type, body in whole:
            try:
                if pdu_type == 4:
                    for event in assembler.feed(body):
                        if event[0] == COMMAND:
                            decode_command(event[2])
                else:
                    decode_pdu(pdu_type, body)
            except StorecoreError:
                pass
    association = Association("acceptor", Policy(ae_title="STORECORE", max_pdu_length=16384))
    association.connection_made()
    try:
        for i in range(0, len(stream), step):
            association.receive_data(stream[i : i + step])
            while association.next_event() is not NEED_DATA:
                if association.close_requested:
                    return
    except StorecoreError:
        pass


if __name__ == "__main__":
    main(TestOneInput, "network")

"""Atheris harness of the SCP's data set fast path, ``_pdu.pump_dataset`` (PS3.8 9.3.5).

Input: a byte stream as an SCP receives it after a C-STORE-RQ's command set
(a data set expected on presentation context 1). Invariant
(``pump_check.pump_vs_feed``): the pump consumes whole PDUs, a prefix of the
framer's; writes exactly the data fragments the assembler gives for them;
stops at the last fragment, at a PDU the assembler path must take, or at the
end of the stream; and leaves the framer and the assembler as that path
would. Never a crash, a hang or another exception.

Run::

    python3 tests/fuzz/fuzz_pump.py -atheris_runs=100000 [corpus_dir ...]
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

_HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(_HERE))
from fuzz_runner import import_storecore_path, main  # noqa: E402

import_storecore_path()

with atheris.instrument_imports(include=["storecore"]):
    from pump_check import pump_vs_feed

#: the socket pair holds this much without a reader; the pump reads only once it runs
MAX_STREAM = 60_000


def TestOneInput(data: bytes) -> None:
    pump_vs_feed(data[:MAX_STREAM])


if __name__ == "__main__":
    main(TestOneInput, "pump")

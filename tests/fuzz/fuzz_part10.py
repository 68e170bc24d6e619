"""Atheris harness of the Part 10 readers: read_file_meta, summarize, summarize_file.

Input: a file's bytes. The File Meta Information is read strictly and with
every leniency, the file is summarized in memory and from disk, and the two
summaries must agree. The invariants are in fuzz_invariants.py: storecore
returns or raises a StorecoreError, and the cross-checks hold.

Run::

    python3 tests/fuzz/fuzz_part10.py -atheris_runs=100000 [corpus_dir ...]

The seed corpus (pydicom's test files, first 4 KiB) is generated into a
temporary directory and appended to the corpus directories given. See
fuzz_runner.py for ``STORECORE_FUZZ_COLLECT``.
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

with atheris.instrument_imports(include=["storecore", "fuzz_invariants"]):
    import fuzz_invariants

_hit = None


def TestOneInput(data: bytes) -> None:
    global _hit
    if _hit is None:  # built on first use: only the fuzzing process needs it
        _hit = fuzz_invariants.make_feature_map(atheris.instrument_func)
    fuzz_invariants.check_part10(data, _hit)


if __name__ == "__main__":
    main(TestOneInput, "part10")

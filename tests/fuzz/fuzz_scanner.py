"""Atheris harness of the incremental element scanner and the native rewriter.

Input: one byte that picks the chunking, then a dataset. The dataset is scanned
in each native encoding (Implicit VR LE, Explicit VR LE, Explicit VR BE), whole
and in chunks, and through a deflate stream; what the scanner accepts is also
summarized and rewritten into the other encodings. The invariants are in
fuzz_invariants.py: storecore returns or raises a StorecoreError, and the
cross-checks hold.

Run::

    python3 tests/fuzz/fuzz_scanner.py -atheris_runs=100000 [corpus_dir ...]

The seed corpus (pydicom's test files, first 4 KiB) is generated into a
temporary directory and appended to the corpus directories given (libFuzzer
writes new inputs into the first one). With ``STORECORE_FUZZ_COLLECT=dir`` a
finding is saved into ``dir`` (one file per distinct failure) and the run goes
on, for long campaigns; otherwise the first finding stops the run, as usual.
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
    fuzz_invariants.check_scanner(data, _hit)


if __name__ == "__main__":
    main(TestOneInput, "scanner")

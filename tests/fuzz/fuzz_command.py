"""Atheris harness of the DIMSE command set decoders: the C fast path
(storecore._ext._command, whose bounds checks are off) against the strict
Python decoder (PS3.7 Sections 6.3.1, 9.3, 10.3, Annex E).

Input: one byte that picks the element length limit, then a command set.
Invariants: both decoders return or raise a StorecoreError, never IndexError,
struct.error, a crash or a hang; the fast path accepts exactly what the strict
decoder accepts, as the same message (so decode_command raises the strict
decoder's very error); what is accepted encodes back, through the C encoder,
to the Python encoder's bytes and decodes again to itself.

Run::

    python3 tests/fuzz/fuzz_command.py -atheris_runs=100000 [corpus_dir ...]
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
    from storecore.dimse import decode_command
    from storecore.dimse.messages import _CODEC, _decode_strict, _encode_command_py
    from storecore.errors import StorecoreError
    from storecore.limits import Limits

# the element length limits the first byte picks from: the default, and small
# ones that cut through UIDs and the 4-byte Command Group Length
_LIMITS = [Limits(), *(Limits(max_element_length=n) for n in (0, 2, 3, 4, 8, 26, 64))]


def TestOneInput(data: bytes) -> None:
    if not data:
        return
    limits = _LIMITS[data[0] % len(_LIMITS)]
    command = data[1:]
    fast = _CODEC.decode(command, limits.max_element_length)
    try:
        strict = _decode_strict(command, limits=limits)
    except StorecoreError as exc:
        if fast is not None:
            raise AssertionError(
                f"the fast path accepted {fast!r}, the strict decoder: {exc}"
            ) from exc
        try:
            decode_command(command, limits=limits)
        except StorecoreError as got:
            if (type(got), str(got), vars(got)) != (type(exc), str(exc), vars(exc)):
                raise AssertionError(f"decode_command raised {got!r}, not {exc!r}") from None
        else:
            raise AssertionError("decode_command accepted what the strict decoder refuses")
        return
    if fast is None or type(fast) is not type(strict) or fast != strict:
        raise AssertionError(f"the fast path read {fast!r}, the strict decoder {strict!r}")
    encoded = _CODEC.encode(fast)
    if encoded is None or encoded != _encode_command_py(strict):
        raise AssertionError(f"the C encoder wrote {encoded!r} for {strict!r}")
    if _CODEC.decode(encoded) != strict:
        raise AssertionError(f"{strict!r} does not decode back from its encoding")


if __name__ == "__main__":
    main(TestOneInput, "command")

"""The command line shared by the atheris harnesses (seed corpus, collect mode).

``main(test_one_input, kind)`` builds the seed corpus of `kind` ("scanner" or
"part10") into a temporary directory, appends it to the corpus directories on
the command line and hands the rest of the arguments to libFuzzer.

``STORECORE_FUZZ_COLLECT=dir`` turns a finding into a saved file instead of the
end of the run: each distinct failure (exception type and the line that raised
it, or the invariant's first line) is written once to ``dir`` as
``<kind>-<signature>-<sha1>`` with a ``.txt`` traceback beside it. A long
campaign thus reports every bug it meets, not only the first. Each input is
also written to ``dir/last-input`` before it runs: a crash that corrupts the
heap can hang libFuzzer's own crash handler before it saves the input.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path

_HERE = Path(__file__).resolve().parent
_SRC = _HERE.parents[1] / "src"
_CHILD = "STORECORE_FUZZ_CHILD"
#: The directory a harness may write scratch files into (removed after the run).
SCRATCH_ENV = "STORECORE_FUZZ_TMP"


def import_storecore_path() -> None:
    """Make the in-place build importable when the package is not installed."""
    if importlib.util.find_spec("storecore") is None:
        sys.path.insert(0, str(_SRC))


def signature(exc: BaseException) -> str:
    """A short, stable name of a failure: type, then the innermost storecore or harness line."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = ""
    for frame in reversed(frames):
        if "storecore" in frame.filename or "fuzz_invariants" in frame.filename:
            where = f"{Path(frame.filename).name}:{frame.lineno}"
            break
    first = str(exc).splitlines()[0] if str(exc) else ""
    if type(exc).__name__ == "InvariantViolation":
        # the message names the failed check; drop the offsets that vary per input
        first = first.split(":")[0] if ":" in first else first
        return f"{type(exc).__name__}|{where}|{first}"
    return f"{type(exc).__name__}|{where}"


def collecting(
    test_one_input: Callable[[bytes], None], kind: str, directory: Path
) -> Callable[[bytes], None]:
    """Wrap `test_one_input` so that each distinct failure is saved once and the run goes on."""
    directory.mkdir(parents=True, exist_ok=True)
    seen: set[str] = set()
    last = os.open(directory / f"{kind}-last-input", os.O_WRONLY | os.O_CREAT, 0o644)

    def run(data: bytes) -> None:
        os.ftruncate(last, 0)
        os.pwrite(last, data, 0)
        try:
            test_one_input(data)
        except Exception as exc:
            sig = signature(exc)
            if sig in seen:
                return
            seen.add(sig)
            tag = hashlib.sha1(sig.encode()).hexdigest()[:8]
            name = f"{kind}-{tag}-{hashlib.sha1(data).hexdigest()}"
            (directory / name).write_bytes(data)
            (directory / f"{name}.txt").write_text(
                f"{sig}\ninput ({len(data)} bytes): {data.hex()}\n\n"
                + "".join(traceback.format_exception(exc))
            )
            print(f"\n*** finding {sig} saved as {directory / name}\n", file=sys.stderr, flush=True)

    return run


def main(test_one_input: Callable[[bytes], None], kind: str) -> None:
    """Fuzz `test_one_input` with the command line's libFuzzer arguments.

    libFuzzer ends the process with C ``exit()``, which skips Python's cleanup;
    so this process only prepares a temporary directory (the seed corpus and a
    scratch area) and runs the fuzzer in a child, then removes it.
    """
    if os.environ.get(_CHILD):
        import warnings

        import atheris

        # pydicom warns about unknown character sets while decoding names; a
        # warning is not a failure, and printing thousands slows the run.
        warnings.simplefilter("ignore")

        collect = os.environ.get("STORECORE_FUZZ_COLLECT")
        target = collecting(test_one_input, kind, Path(collect)) if collect else test_one_input
        atheris.Setup(sys.argv, target)
        atheris.Fuzz()
        return

    import fuzz_corpus

    seeds = {
        "scanner": fuzz_corpus.scanner_seeds,
        "part10": fuzz_corpus.part10_seeds,
        "network": fuzz_corpus.network_seeds,
        "command": fuzz_corpus.command_seeds,
        "pump": fuzz_corpus.pump_seeds,
    }[kind]()
    with tempfile.TemporaryDirectory(prefix=f"storecore-fuzz-{kind}-") as tmp:
        seed_dir = Path(tmp) / "seeds"
        fuzz_corpus.write_corpus(seed_dir, seeds)
        env = dict(os.environ, **{_CHILD: "1", SCRATCH_ENV: tmp})
        # libFuzzer writes new inputs into the first corpus directory: the
        # caller's if one was given, else the temporary seed directory.
        cmd = [sys.executable, sys.argv[0], *sys.argv[1:], str(seed_dir)]
        rc = subprocess.call(cmd, env=env)
    sys.exit(rc)

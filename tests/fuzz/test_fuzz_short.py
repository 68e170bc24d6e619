"""Short atheris runs of each harness: the byte parsers survive the seed corpus and
a few seconds of mutation, or the test fails with the harness's report.

Each harness runs in its own process (libFuzzer ends the process it runs in,
and a crash in C must not take pytest down), bounded by -max_total_time. A
finding is a non-zero exit; the failure shows the traceback and the input.
Longer campaigns: see the docstring of fuzz_scanner.py.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

import storecore

HERE = Path(__file__).resolve().parent
# where this process found storecore (the installed package, or src/ with an
# in-place build): the harness subprocesses must import the same one
SRC = Path(storecore.__file__).resolve().parents[1]
#: Seconds of fuzzing per harness: each run stays under half a minute with start-up.
FUZZ_SECONDS = 15
_NOISE = ("INFO: Instrumenting", "WARNING: Failed to find function")


def _require_atheris() -> None:
    # Never skip silently: a missing fuzzer is a broken test environment.
    if importlib.util.find_spec("atheris") is None:
        pytest.fail(
            "atheris is not installed: install the test extras (pip install -e '.[test]'); "
            "the fuzz tests cannot run without it",
            pytrace=False,
        )


@pytest.mark.fuzz
@pytest.mark.parametrize(
    "harness",
    ["fuzz_scanner.py", "fuzz_part10.py", "fuzz_network.py", "fuzz_command.py", "fuzz_pump.py"],
)
def test_harness_finds_nothing_in_a_short_run(harness: str, tmp_path: Path) -> None:
    _require_atheris()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    for name in ("STORECORE_FUZZ_COLLECT", "STORECORE_FUZZ_AVOID"):
        env.pop(name, None)  # a short run meets every bug head on
    cmd = [
        sys.executable,
        str(HERE / harness),
        f"-max_total_time={FUZZ_SECONDS}",
        "-timeout=10",
        "-rss_limit_mb=2048",
        "-print_final_stats=1",
        f"-artifact_prefix={tmp_path}/",
    ]
    proc = subprocess.run(
        cmd,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=FUZZ_SECONDS + 120,
        check=False,
    )
    if proc.returncode != 0:
        found = sorted(p for p in tmp_path.iterdir() if p.is_file())
        inputs = "\n".join(f"{p.name}: {p.read_bytes().hex()}" for p in found)
        report = "\n".join(
            line
            for line in (proc.stdout + proc.stderr).splitlines()
            if not line.startswith(_NOISE) and "\tNEW " not in line and "\tREDUCE " not in line
        )
        pytest.fail(
            f"{harness} exited with {proc.returncode}:\n{report[-6000:]}\n\ninputs:\n{inputs}",
            pytrace=False,
        )
    assert "Done" in proc.stderr or "stat::number_of_executed_units" in proc.stderr, proc.stderr[
        -2000:
    ]

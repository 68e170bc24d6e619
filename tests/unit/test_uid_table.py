"""Tests of the generated UID table and of the receiver's pydicom-free import path.

storecore.uid reads ``storecore._uid_table``, which tools/gen_uid_table.py
generates from pydicom's UID dictionary, so that starting a receiver does not
import pydicom (and numpy, which pydicom imports). These tests notice a pydicom
whose dictionary differs from the committed table, a hand edit of the table,
and a module-level pydicom import creeping back onto the import path.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import storecore
from storecore import _uid_table

ROOT = Path(__file__).resolve().parents[2]
GENERATOR = ROOT / "tools" / "gen_uid_table.py"
# The directory that holds the storecore package under test (src/ in a checkout).
PACKAGE_PARENT = Path(storecore.__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    # A fresh interpreter: the test process may have imported pynetdicom, which
    # adds entries to pydicom's UID_dictionary, and has imported pydicom itself.
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(PACKAGE_PARENT), os.environ.get("PYTHONPATH")])
    )
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env, timeout=120
    )


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_uid_table", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_table_equals_the_installed_pydicom_dictionary() -> None:
    # Fails after a pydicom upgrade that changes the dictionary: rerun
    # tools/gen_uid_table.py, then review uid.py's _STANDARD_SYNTAX_PROPERTIES
    # and _NEWER_THAN_PYDICOM (tests/unit/test_uid.py says what is missing).
    result = _run(str(GENERATOR), "--check")
    assert result.returncode == 0, result.stdout + result.stderr


def test_generated_file_is_the_generator_output_unedited() -> None:
    generator = _load_generator()
    committed = Path(_uid_table.__file__).read_text()
    assert generator.render(_uid_table.UID_TABLE, _uid_table.PYDICOM_VERSION) == committed


def test_receiver_import_path_does_not_import_pydicom() -> None:
    code = (
        "import storecore.scp, storecore.scu, storecore.storage, sys\n"
        "loaded = sorted(m for m in sys.modules if m.partition('.')[0] in ('pydicom', 'numpy'))\n"
        "print(' '.join(loaded))\n"
        "sys.exit(1 if loaded else 0)\n"
    )
    result = _run("-c", code)
    # To find the importer: python -X importtime -c 'import storecore.scp'
    assert result.returncode == 0, f"imported: {result.stdout}{result.stderr}"

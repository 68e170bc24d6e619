"""storecore.dimse is sans-IO: no module of it imports sockets, event loops, threads or clocks."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import storecore.dimse

FORBIDDEN = {"socket", "ssl", "asyncio", "selectors", "threading", "time", "select"}
MODULES = sorted(Path(storecore.dimse.__file__).parent.glob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_no_io_imports(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module.split(".")[0])
    assert imported, path  # the walk found the module's imports
    assert not imported & FORBIDDEN, (path.name, imported & FORBIDDEN)


def test_all_modules_checked() -> None:
    assert {p.name for p in MODULES} >= {"__init__.py", "messages.py", "status.py", "_tags.py"}

"""storecore.ul is sans-IO: no module of the package imports socket, asyncio, threading or time."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import storecore.ul

FORBIDDEN = {"socket", "asyncio", "threading", "time", "select", "selectors", "ssl", "_thread"}
PACKAGE = Path(storecore.ul.__file__).parent


def imported_modules(source: str) -> set[str]:
    """The top-level names of every module an import statement in ``source`` names."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name | ast.Attribute)
            and getattr(node.func, "id", getattr(node.func, "attr", ""))
            in ("__import__", "import_module")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.add(node.args[0].value.split(".")[0])
    return found


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import time", {"time"}),
        ("import os.path, socket as s", {"os", "socket"}),
        ("from asyncio import sleep", {"asyncio"}),
        ("def f():\n    import threading", {"threading"}),
        ("x = __import__('time')", {"time"}),
        ("import importlib\nimportlib.import_module('socket')", {"importlib", "socket"}),
        ("from . import pdu", set()),
    ],
)
def test_the_scanner_sees_imports(source: str, expected: set[str]) -> None:
    assert imported_modules(source) == expected


def test_the_package_imports_no_io_module() -> None:
    files = sorted(PACKAGE.rglob("*.py"))
    names = {f.name for f in files}
    assert {"__init__.py", "pdu.py", "fsm.py", "negotiation.py", "association.py"} <= names
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(imported_modules(path.read_text()) & FORBIDDEN)
        for path in files
    }
    assert {path: found for path, found in offenders.items() if found} == {}

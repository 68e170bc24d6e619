"""Shared fixtures: the real-world corpus (pydicom's test files and pydicom-data)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pydicom
import pytest


def _corpus() -> list[Path]:
    roots = [Path(pydicom.__file__).parent / "data" / "test_files"]
    try:
        import data_store  # the pydicom-data package

        roots.append(Path(data_store.__file__).parent / "data")
    except ImportError as exc:  # the test extras install it; never skip silently
        raise RuntimeError("pydicom-data is not installed: pip install '.[test]'") from exc
    files: list[Path] = []
    for root in roots:
        files += sorted(
            p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in (".dcm", "")
        )
    return files


CORPUS = _corpus()


def _readable(path: Path) -> pydicom.Dataset | None:
    """The file as pydicom reads it without force, or None if pydicom refuses it."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return pydicom.dcmread(path)
    except Exception:
        return None


@pytest.fixture(scope="session")
def corpus() -> list[Path]:
    assert len(CORPUS) > 100, "the real-world corpus is missing files"
    return CORPUS

"""Fixtures of the benchmark suites: a deterministic corpus, generated per session.

The files are written with pydicom into pytest's session tmp dir (never
committed; see ``_corpus.py`` for what they hold) and read once, so every
benchmark runs with a warm page cache: the suites time parsing and encoding,
not the disk.

Run (from the repository root)::

    PYTHONPATH=src python3 -m pytest benchmarks --benchmark-only -p no:cacheprovider

or with ``--benchmark-disable`` to check, quickly, that every benchmarked path
gives the right answer.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset

# the suites import their helpers as top-level modules, from this folder
sys.path.insert(0, str(Path(__file__).parent))

from _corpus import Corpus, build_corpus, pydicom_readable_files
from _peers import Keys, expected_keys


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    """The CT in four encodings, 200 CT slices, and the pydicom-data scan set."""
    return build_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="session")
def reference(corpus: Corpus) -> Dataset:
    """The CT as pydicom reads it: what every transcoded file must read back as."""
    return pydicom.dcmread(corpus.ct["ct_explicit_le"])


@pytest.fixture(scope="session")
def pydicom_files() -> list[tuple[Path, Keys]]:
    """Every pydicom-data / pydicom test file that pydicom reads, with its six keys."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [(path, expected_keys(path)) for path in pydicom_readable_files()]


@pytest.fixture
def output_dir(tmp_path: Path) -> Path:
    return tmp_path

"""Group ``scan``: the six index keys of a file, per file, including open and read.

storecore's ``summarize_file`` against pydicom's ``dcmread(stop_before_pixels=True)``
(with the keys accessed, so that pydicom decodes them) and python-gdcm's
``Reader.ReadUpToTag(Pixel Data)`` and ``Scanner``. Every benchmark asserts
that the keys it got are the ones pydicom reads from the whole file.

Cases (``--benchmark-group-by=group,param:case`` puts each case in a table
of its own): ``ct`` (the generated 0.5 MB CT), ``ct-200`` (200 CT slices, one
call per file; divide by 200), the pydicom-data files one by one, and
``pydicom-data-all`` (every test file that all the readers agree on).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import pytest

from _corpus import PYDICOM_DATA_SCAN_SET, Corpus
from _peers import (
    GDCM_MISSING,
    SCANNERS,
    Keys,
    agreed_scan_files,
    expected_keys,
    gdcm,
    gdcm_scanner_batch,
)

IMPLS = list(SCANNERS)


def _scanner(impl: str) -> Callable[[Path], Keys]:
    fn, needs_gdcm = SCANNERS[impl]
    if needs_gdcm and gdcm is None:
        pytest.skip(GDCM_MISSING)
    return fn


@pytest.mark.benchmark(group="scan")
@pytest.mark.parametrize("case", ["ct"])
@pytest.mark.parametrize("impl", IMPLS)
def test_scan_ct(benchmark, corpus: Corpus, impl: str, case: str) -> None:
    fn = _scanner(impl)
    path = corpus.ct["ct_explicit_le"]
    keys = benchmark(fn, path)
    assert keys == expected_keys(path)
    assert keys[1] == corpus.ct_sop_instance_uid


def _scan_all(fn: Callable[[Path], Keys], paths: list[Path]) -> list[Keys]:
    return [fn(p) for p in paths]


@pytest.mark.benchmark(group="scan")
@pytest.mark.parametrize("case", ["ct-200"])
@pytest.mark.parametrize("impl", [*IMPLS, "gdcm-scanner-batch"])
def test_scan_200_files(benchmark, corpus: Corpus, impl: str, case: str) -> None:
    if impl == "gdcm-scanner-batch":
        if gdcm is None:
            pytest.skip(GDCM_MISSING)
        names = [str(p) for p in corpus.scan_files]
        results = benchmark(gdcm_scanner_batch, names)
    else:
        results = benchmark(_scan_all, _scanner(impl), corpus.scan_files)
    benchmark.extra_info["files"] = len(corpus.scan_files)
    assert [r[1] for r in results] == corpus.scan_uids
    assert all(r[0] == "1.2.840.10008.5.1.4.1.1.2" and r[5] == "CT" for r in results)


@pytest.mark.benchmark(group="scan")
@pytest.mark.parametrize("case", PYDICOM_DATA_SCAN_SET)
@pytest.mark.parametrize("impl", IMPLS)
def test_scan_pydicom_data(benchmark, corpus: Corpus, impl: str, case: str) -> None:
    fn = _scanner(impl)
    path = corpus.scan_set.get(case)
    if path is None:
        pytest.skip(f"{case} is not installed (pydicom-data provides it)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom's warnings on odd test files
        keys = benchmark(fn, path)
        assert keys == expected_keys(path)


@pytest.fixture(scope="module")
def agreed_files(pydicom_files: list[tuple[Path, Keys]]) -> list[Path]:
    agreed, _ = agreed_scan_files(pydicom_files)
    assert len(agreed) >= 0.9 * len(pydicom_files), "readers disagree on many test files"
    return agreed


@pytest.mark.benchmark(group="scan")
@pytest.mark.parametrize("case", ["pydicom-data-all"])
@pytest.mark.parametrize("impl", IMPLS)
def test_scan_pydicom_data_all(benchmark, agreed_files: list[Path], impl: str, case: str) -> None:
    fn = _scanner(impl)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = benchmark.pedantic(_scan_all, (fn, agreed_files), rounds=5, warmup_rounds=1)
        assert results == [expected_keys(p) for p in agreed_files]
    benchmark.extra_info["files"] = len(agreed_files)

"""Group ``transcode``: the 0.5 MB CT rewritten between the native transfer syntaxes.

File to file for every implementation (open, read, rewrite, write; the
destination never exists beforehand, see ``_peers.unlink``): storecore's
``transcode_file``, pydicom (dcmread, new Transfer Syntax UID, dcmwrite) and
python-gdcm in-process by gdcmconv's two paths (``gdcm-file``: Reader +
FileExplicitFilter + Writer; ``gdcm-image``: ImageReader +
ImageChangeTransferSyntax + ImageWriter). ``storecore-memory`` is the rewrite
alone, bytes into a preallocated BytesIO (``extra_info`` has its GB/s).

Every benchmark reads its output back with pydicom and asserts the same SOP
Instance UID, header values and pixels.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from pydicom.dataset import Dataset

from _corpus import TRANSCODE_CASES as CASES
from _corpus import Corpus
from _peers import GDCM_MISSING, TRANSCODERS, InMemoryTranscode, check_transcoded, gdcm, unlink


def _rounds(case: str) -> int:
    # deflating takes 30-50 ms whoever does it: fewer rounds keep the suite short
    return 8 if case == "explicit-to-deflated" else 30


def _transcoder(impl: str) -> Callable[[Path, Path, str], None]:
    fn, needs_gdcm = TRANSCODERS[impl]
    if needs_gdcm and gdcm is None:
        pytest.skip(GDCM_MISSING)
    return fn


@pytest.mark.benchmark(group="transcode")
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("impl", list(TRANSCODERS))
def test_transcode_file(
    benchmark, corpus: Corpus, reference: Dataset, output_dir: Path, impl: str, case: str
) -> None:
    fn = _transcoder(impl)
    stem, ts = CASES[case]
    src = corpus.ct[stem]
    dst = output_dir / f"{impl}-{case}.dcm"
    benchmark.pedantic(
        fn,
        (src, dst, ts),
        setup=lambda: unlink(dst),
        rounds=_rounds(case),
        warmup_rounds=2,
    )
    benchmark.extra_info["bytes_in"] = src.stat().st_size
    check_transcoded(dst, ts, reference, corpus.ct_pixels)


@pytest.mark.benchmark(group="transcode")
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("impl", ["storecore-memory"])
def test_transcode_memory(
    benchmark, corpus: Corpus, reference: Dataset, impl: str, case: str
) -> None:
    stem, ts = CASES[case]
    run = InMemoryTranscode(corpus.ct[stem], ts)
    written = benchmark(run)
    assert written > 0
    size = len(run.dataset)
    benchmark.extra_info["bytes_in"] = size
    if benchmark.stats is not None:  # None under --benchmark-disable
        benchmark.extra_info["GB/s"] = round(size / benchmark.stats.stats.median / 1e9, 2)
    check_transcoded(run.part10(), ts, reference, corpus.ct_pixels)

"""Codecs, file to file, side by side (group ``codec``): the pytest version of codec_compare.py.

Each transfer syntax and direction of ``codec_compare.SYNTAXES`` (the 512x512
16-bit CT, its 8-bit window, a 640x480 RGB picture), by storecore, pydicom 3
with its fastest plugin for the pair (chosen by timing each installed one)
and python-gdcm in process. Run::

    PYTHONPATH=src python3 -m pytest benchmarks/test_bench_codec.py --benchmark-only \\
        -p no:cacheprovider --benchmark-columns=median,iqr,rounds --benchmark-group-by=param:pair

Under ``--benchmark-disable`` (CI) every call still runs once and its output
is checked (``codec_compare.check``: lossless pixels equal, JPEG Baseline as
GDCM decodes it). Where pydicom or GDCM has no codec for a pair, or GDCM's
output is wrong (RGB JPEG Baseline: YCbCr data labelled RGB), the case
xfails with that reason; storecore's cases never do.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from pydicom.pixels import get_decoder, get_encoder

from _corpus import Corpus, ct_pixels
from _peers import GDCM_MISSING, gdcm, unlink
from codec_compare import (
    EXPLICIT_LE,
    IMAGES,
    JPEG_BASELINE,
    SYNTAXES,
    _fastest_plugin,
    _write_ct8,
    check,
    ct8_pixels,
    gdcm_call,
    pydicom_call,
    rgb_pixels,
    storecore_call,
    write_rgb,
)

PAIRS = [
    (image, name, direction)
    for image, syntaxes in SYNTAXES.items()
    for name in syntaxes
    for direction in ("encode", "decode")
]


@pytest.fixture(scope="module")
def images(
    corpus: Corpus, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[Path, np.ndarray]]:
    root = tmp_path_factory.mktemp("codec-images")
    return {
        "ct": (corpus.ct["ct_explicit_le"], ct_pixels()),
        "ct8": (_write_ct8(root / "ct8.dcm"), ct8_pixels()),
        "rgb": (write_rgb(root / "rgb.dcm", rgb_pixels()), rgb_pixels()),
    }


@pytest.mark.benchmark(group="codec")
@pytest.mark.parametrize("impl", ["storecore", "pydicom", "gdcm"])
@pytest.mark.parametrize("pair", PAIRS, ids=[f"{i}-{n}-{d}".replace(" ", "_") for i, n, d in PAIRS])
def test_codec(
    benchmark,
    images: dict[str, tuple[Path, np.ndarray]],
    tmp_path: Path,
    pair: tuple[str, str, str],
    impl: str,
) -> None:
    image, name, direction = pair
    ts = SYNTAXES[image][name]
    native, original = images[image]
    encoded = tmp_path / "encoded.dcm"
    storecore_call(native, encoded, ts)  # every decoder reads storecore's encoding
    src, target = (native, ts) if direction == "encode" else (encoded, EXPLICIT_LE)
    lossy_from = None
    dst = tmp_path / "out.dcm"
    if ts == JPEG_BASELINE:
        lossy_from = dst if direction == "encode" else encoded
    label = f"{impl} {IMAGES[image]}, {name} {direction}"
    if impl == "storecore":
        call = lambda: storecore_call(src, dst, target)  # noqa: E731
    elif impl == "pydicom":
        registry = get_encoder if direction == "encode" else get_decoder
        try:
            plugins = registry(ts).available_plugins
        except NotImplementedError:
            plugins = ()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            plugin, failed = _fastest_plugin(plugins, lambda p: pydicom_call(src, dst, target, p))
        if not plugin:
            pytest.xfail(f"pydicom has no {direction}r for {name}: {failed or 'no plugin'}")
        call = lambda: pydicom_call(src, dst, target, plugin)  # noqa: E731
    else:
        if gdcm is None:
            pytest.fail(GDCM_MISSING, pytrace=False)
        try:
            gdcm_call(src, dst, target)
            check(dst, target, original, label, lossy_from)
        except (RuntimeError, AssertionError) as exc:
            pytest.xfail(f"GDCM: {exc}")
        call = lambda: gdcm_call(src, dst, target)  # noqa: E731
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        benchmark.pedantic(call, setup=lambda: unlink(dst), rounds=15, warmup_rounds=1)
        check(dst, target, original, label, lossy_from)

"""Codec matrix, file bytes to file bytes, on the 512x512 16-bit CT (group ``codec``).

Each pair side by side with pydicom 3 + its plugins (``compress``/
``decompress``, where pydicom has an encoder). Run::

    PYTHONPATH=src python3 -m pytest benchmarks/test_bench_codec.py --benchmark-only \
        -p no:cacheprovider --benchmark-columns=median,iqr,rounds

Under ``--benchmark-disable`` (CI) every path still runs once and is checked.
"""

from __future__ import annotations

import warnings
from io import BytesIO

import numpy as np
import pydicom
import pytest

from _corpus import Corpus
from storecore.transcode import transcode

EXPLICIT_LE = "1.2.840.10008.1.2.1"
TARGETS = {
    "rle": "1.2.840.10008.1.2.5",
    "jpeg_lossless_sv1": "1.2.840.10008.1.2.4.70",
    "jpegls_lossless": "1.2.840.10008.1.2.4.80",
    "j2k_lossless": "1.2.840.10008.1.2.4.90",
    "htj2k_lossless": "1.2.840.10008.1.2.4.201",
}


@pytest.fixture(scope="module")
def ct(corpus: Corpus) -> bytes:
    return corpus.ct["ct_explicit_le"].read_bytes()


@pytest.fixture(scope="module")
def encoded(ct: bytes) -> dict[str, bytes]:
    return {k: transcode(ct, uid)[0] for k, uid in TARGETS.items()}


def _pydicom_encode(ct: bytes, uid: str) -> bytes:
    ds = pydicom.dcmread(BytesIO(ct))
    ds.compress(uid, generate_instance_uid=False)
    buf = BytesIO()
    ds.save_as(buf)
    return buf.getvalue()


def _pydicom_decode(data: bytes) -> bytes:
    ds = pydicom.dcmread(BytesIO(data))
    ds.decompress(generate_instance_uid=False)
    buf = BytesIO()
    ds.save_as(buf)
    return buf.getvalue()


@pytest.mark.benchmark(group="codec")
@pytest.mark.parametrize("impl", ["storecore", "pydicom"])
@pytest.mark.parametrize("target", TARGETS)
def test_encode(benchmark, ct: bytes, impl: str, target: str) -> None:
    uid = TARGETS[target]
    if impl == "pydicom":
        try:
            _pydicom_encode(ct, uid)
        except Exception as exc:
            pytest.xfail(f"pydicom has no encoder: {exc}")
        out = benchmark(_pydicom_encode, ct, uid)
    else:
        out = benchmark(lambda: transcode(ct, uid)[0])
    ref = pydicom.dcmread(BytesIO(ct)).pixel_array
    assert np.array_equal(pydicom.dcmread(BytesIO(out)).pixel_array, ref)


@pytest.mark.benchmark(group="codec")
@pytest.mark.parametrize("impl", ["storecore", "pydicom"])
@pytest.mark.parametrize("source", TARGETS)
def test_decode(benchmark, ct: bytes, encoded: dict[str, bytes], impl: str, source: str) -> None:
    data = encoded[source]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if impl == "pydicom":
            try:
                _pydicom_decode(data)
            except Exception as exc:
                pytest.xfail(f"pydicom cannot decode: {exc}")
            out = benchmark(_pydicom_decode, data)
        else:
            out = benchmark(lambda: transcode(data, EXPLICIT_LE)[0])
    ref = pydicom.dcmread(BytesIO(ct)).pixel_array
    assert np.array_equal(pydicom.dcmread(BytesIO(out)).pixel_array, ref)

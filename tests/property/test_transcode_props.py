"""Property tests of native transfer syntax rewriting against pydicom.

(c) Round trips restore the source byte for byte: Explicit VR LE -> Implicit VR
LE -> Explicit VR LE for datasets whose tags are all in the dictionary with an
unambiguous VR; Explicit VR LE <-> BE for any dataset; Implicit VR LE ->
explicit -> implicit for any dataset. And where pydicom's encoder defines the
expected bytes, the rewrite writes exactly them. (d) pydicom reads the
rewritten dataset back equal to the source, element by element: values as
pydicom decodes them, OW/OF/OD/OL/OV as numbers in each file's byte order,
private values (which implicit VR reads as UN) as little endian bytes.

References: PS3.5 Sections 6.2.2, 7.1, 7.5, Annex A.1-A.5.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.valuerep import PersonName

from storecore.transcode import transcode_dataset
from tests.property.strategies import (
    DEFLATED_LE,
    ENCODING,
    EXPLICIT_BE,
    EXPLICIT_LE,
    IMPLICIT_LE,
    NATIVE,
    PROPERTY_SETTINGS,
    datasets,
    decode,
    deflate,
    encode,
    inflate,
)


def transcode(data: bytes, source: str, target: str) -> bytes:
    out: list[bytes] = []
    n = transcode_dataset(data, source, target, lambda chunk: out.append(bytes(chunk)))
    written = b"".join(out)
    if target != DEFLATED_LE:
        assert n == len(written)
    return written


# -- (c) round trips and agreement with pydicom's encoder ------------------------------


@PROPERTY_SETTINGS
@given(datasets(private=False))
def test_explicit_to_implicit_and_back_restores_the_bytes(ds):
    source = encode(ds, EXPLICIT_LE)
    implicit = transcode(source, EXPLICIT_LE, IMPLICIT_LE)
    assert transcode(implicit, IMPLICIT_LE, EXPLICIT_LE) == source


@PROPERTY_SETTINGS
@given(datasets(), st.sampled_from((EXPLICIT_LE, EXPLICIT_BE)))
def test_byte_order_round_trip_restores_the_bytes(ds, ts):
    source = encode(ds, ts)
    other = EXPLICIT_BE if ts == EXPLICIT_LE else EXPLICIT_LE
    assert transcode(transcode(source, ts, other), other, ts) == source


@PROPERTY_SETTINGS
@given(datasets(), st.sampled_from((EXPLICIT_LE, EXPLICIT_BE)))
def test_implicit_to_explicit_and_back_restores_the_bytes(ds, explicit):
    # private and unknown tags become UN (PS3.5 6.2.2) and come back unchanged
    source = encode(ds, IMPLICIT_LE)
    assert transcode(transcode(source, IMPLICIT_LE, explicit), explicit, IMPLICIT_LE) == source


@PROPERTY_SETTINGS
@given(st.data(), st.sampled_from([(s, t) for s in NATIVE for t in NATIVE if s != t]))
def test_rewrite_writes_what_pydicom_writes(data, pair):
    """Where pydicom's encoder defines the output, the rewrite matches it byte for byte.

    Excluded where pydicom's bytes are not the rewrite's by design: implicit
    sources with private elements (they become UN, pydicom keeps their VR), and
    big endian with OW/OF/OD/OL/OV values (pydicom writes them unswapped).
    """
    source_ts, target_ts = pair
    big = EXPLICIT_BE in pair
    ds = data.draw(datasets(private=source_ts != IMPLICIT_LE, other_words=not big))
    assert transcode(encode(ds, source_ts), source_ts, target_ts) == encode(ds, target_ts)


# -- (d) pydicom reads the rewrite back equal to the source ------------------------------

_WIDTH = {
    **dict.fromkeys(("US", "SS", "OW", "AT"), 2),
    **dict.fromkeys(("UL", "SL", "FL", "OF", "OL"), 4),
    **dict.fromkeys(("FD", "OD", "SV", "UV", "OV"), 8),
}
_WORDS = {"OW": "u2", "OF": "u4", "OD": "u8", "OL": "u4", "OV": "u8"}


def _plain(value: Any) -> Any:
    if isinstance(value, (MultiValue, list)):
        return [_plain(v) for v in value]
    if isinstance(value, PersonName):
        return str(value)
    return value


def _little_endian(raw: bytes, vr: str, little: bool) -> bytes:
    """A value's bytes in little endian order, swapped per unit of its VR."""
    width = _WIDTH.get(vr, 0)
    if little or not width or len(raw) % width:
        return raw
    return np.frombuffer(raw, dtype=f">u{width}").astype(f"<u{width}").tobytes()


def canonical(ds: Dataset, ts: str) -> dict[int, Any]:
    """Each element of `ds` as a comparable value, whatever the encoding it was read from."""
    implicit, little = ENCODING[ts]
    tags = list(ds.keys())
    raws = {tag: ds.get_item(tag) for tag in tags}  # before access converts them
    out: dict[int, Any] = {}
    for tag in tags:
        elem = ds[tag]
        raw = raws[tag]
        group, element = tag >> 16, tag & 0xFFFF
        if elem.VR == "SQ":
            out[tag] = [canonical(item, ts) for item in elem.value]
        elif group & 1 and element >= 0x1000:
            # private data elements: implicit VR reads them as UN bytes (little endian)
            if isinstance(raw, RawDataElement):
                value = _little_endian(raw.value or b"", "UN" if implicit else raw.VR, little)
            else:
                assert elem.is_empty
                value = b""
            out[tag] = ("private", value)
        elif elem.VR in _WORDS:
            dtype = ("<" if little else ">") + _WORDS[elem.VR]
            out[tag] = (elem.VR, np.frombuffer(elem.value or b"", dtype=dtype).tolist())
        else:
            out[tag] = (elem.VR, _plain(elem.value))
    return out


_SOURCES = (*NATIVE, DEFLATED_LE)


@PROPERTY_SETTINGS
@given(datasets(), st.sampled_from([(s, t) for s in _SOURCES for t in _SOURCES if s != t]))
def test_pydicom_reads_the_rewrite_back_equal_to_the_source(ds, pair):
    source_ts, target_ts = pair
    plain = encode(ds, _plain_ts(source_ts))
    source = deflate(plain) if source_ts == DEFLATED_LE else plain
    output = transcode(source, source_ts, target_ts)
    expected = canonical(decode(source, source_ts), _plain_ts(source_ts))
    assert canonical(decode(output, target_ts), _plain_ts(target_ts)) == expected


def _plain_ts(ts: str) -> str:
    return EXPLICIT_LE if ts == DEFLATED_LE else ts


def test_deflated_output_inflates_to_the_explicit_rewrite():
    ds = Dataset()
    ds.PatientName = "Doe^Jane"
    ds.Rows = 2
    source = encode(ds, IMPLICIT_LE)
    deflated = transcode(source, IMPLICIT_LE, DEFLATED_LE)
    assert inflate(deflated) == transcode(source, IMPLICIT_LE, EXPLICIT_LE)

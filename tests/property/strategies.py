"""Hypothesis strategies: random valid datasets as pydicom objects, and their encodings.

:func:`datasets` draws a :class:`pydicom.dataset.Dataset` of public elements of
every VR with valid values (tags and VRs from pydicom's data dictionary, PS3.6),
nested sequences with several items up to depth 3 (defined or undefined
lengths, chosen per sequence and per item), private blocks with their private
creator, and native 16-bit Pixel Data (OW). :func:`encode` writes it with
pydicom in any of the three native encodings (PS3.5 Sections 7.1.2, 7.1.3 and
Annex A.3), so that storecore is always checked against bytes it did not
write itself.

What is left out, and why:

* ambiguous dictionary VRs ("US or SS", "OB or OW", ...) other than Pixel Data:
  implicit VR cannot carry the resolution back, so round trips through
  implicit VR are only defined for unambiguous tags (Pixel Data is resolved to
  OW from Bits Allocated 16, as the native rewriter and pydicom both do);
* Bits Allocated and Pixel Representation outside the pixel module, and
  Specific Character Set: they change how other values are read or swapped;
* private sequences: implicit VR reads a defined-length one back as UN bytes.
"""

from __future__ import annotations

import string
import zlib
from datetime import date, datetime, time

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from pydicom.datadict import DicomDictionary
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filereader import read_dataset
from pydicom.filewriter import write_dataset

from storecore.dataset import lookup_dictionary_vr

IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
EXPLICIT_BE = "1.2.840.10008.1.2.2"
DEFLATED_LE = "1.2.840.10008.1.2.1.99"
NATIVE = (IMPLICIT_LE, EXPLICIT_LE, EXPLICIT_BE)
#: (implicit VR, little endian) of each native transfer syntax.
ENCODING = {IMPLICIT_LE: (True, True), EXPLICIT_LE: (False, True), EXPLICIT_BE: (False, False)}

#: Example counts and deadlines of the property suite: modest, so that it runs
#: in well under a minute; raise max_examples locally for a deeper run.
PROPERTY_SETTINGS = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# -- tags ---------------------------------------------------------------------------

_VALUE_VRS = (
    "AE", "AS", "AT", "CS", "DA", "DS", "DT", "FD", "FL", "IS", "LO", "LT", "OB", "OD",
    "OF", "OL", "OV", "OW", "PN", "SH", "SL", "SS", "ST", "SV", "TM", "UC", "UI", "UL",
    "UR", "US", "UT", "UV",
)  # fmt: skip
_EXCLUDED_TAGS = {
    0x00080005,  # Specific Character Set: values here are ASCII, decoded as the default
    0x00280100,  # Bits Allocated: set by the pixel module, decides how Pixel Data swaps
    0x00280103,  # Pixel Representation: set by the pixel module
    0x7FE00010,  # Pixel Data: the pixel module's
}


def _tag_pool() -> dict[str, list[int]]:
    """Public, current tags by VR, as both pydicom and storecore's scanner see them."""
    pool: dict[str, list[int]] = {}
    for tag, (vr, _vm, _name, retired, _keyword) in DicomDictionary.items():
        group, element = tag >> 16, tag & 0xFFFF
        if retired or element == 0 or group < 0x0008 or group >= 0xFFFA or group & 1:
            continue
        if tag in _EXCLUDED_TAGS or (vr != "SQ" and vr not in _VALUE_VRS):
            continue
        if lookup_dictionary_vr(tag) != vr:  # the scanner's generated table must agree
            continue
        pool.setdefault(vr, []).append(tag)
    return pool


TAGS_BY_VR = _tag_pool()
_SEQUENCE_TAGS = TAGS_BY_VR.pop("SQ")

# -- values ---------------------------------------------------------------------------

_UPPER = string.ascii_uppercase + string.digits
_TEXT = string.ascii_letters + string.digits + " .,-_()/:;'!?"


def _words(alphabet: str, max_size: int) -> st.SearchStrategy[str]:
    # no leading or trailing spaces: pydicom strips them on reading; one character
    # under the VR's maximum, as pydicom's read validation counts the even-length pad
    return st.text(alphabet, min_size=1, max_size=max_size - 1).map(str.strip).filter(bool)


def _multi(one: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    """One value, or a value multiplicity of 2-3 (joined by backslash, PS3.5 6.4)."""
    return st.one_of(one, st.lists(one, min_size=2, max_size=3))


def _uid() -> st.SearchStrategy[str]:
    component = st.integers(0, 10**6).map(str)
    return st.lists(component, min_size=2, max_size=8).map(lambda c: "1.2." + ".".join(c))


def _numbers(elements: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    return st.one_of(elements, st.lists(elements, min_size=2, max_size=4))


def _words_bytes(unit: int, max_units: int = 16) -> st.SearchStrategy[bytes]:
    return st.integers(0, max_units).flatmap(
        lambda n: st.binary(min_size=n * unit, max_size=n * unit)
    )


_FLOAT32 = st.floats(width=32, allow_nan=False, allow_infinity=False)
_FLOAT64 = st.floats(allow_nan=False, allow_infinity=False)
_DS = st.one_of(
    st.integers(-(10**8), 10**8).map(str),
    st.floats(-1e6, 1e6, allow_nan=False).map(lambda f: f"{f:.6g}"),
)

VALUES: dict[str, st.SearchStrategy[object]] = {
    "AE": _multi(_words(_UPPER + " ", 16)),
    "AS": st.builds(lambda n, u: f"{n:03d}{u}", st.integers(0, 999), st.sampled_from("DWMY")),
    "AT": _numbers(st.integers(0, 0xFFFFFFFF)),
    "CS": _multi(_words(_UPPER + "_ ", 16)),
    "DA": _multi(
        st.dates(date(1900, 1, 1), date(2099, 12, 31)).map(lambda d: d.strftime("%Y%m%d"))
    ),
    "DS": _multi(_DS),
    "DT": st.datetimes(datetime(1900, 1, 1), datetime(2099, 12, 31)).map(
        lambda d: d.strftime("%Y%m%d%H%M%S")
    ),
    "FD": _numbers(_FLOAT64),
    "FL": _numbers(_FLOAT32),
    "IS": _multi(st.integers(-(2**31), 2**31 - 1).map(str)),
    "LO": _multi(_words(_TEXT, 64)),
    "LT": _words(_TEXT + "\\\r\n", 200),
    "OB": _words_bytes(2, 40),
    "OD": _words_bytes(8),
    "OF": _words_bytes(4),
    "OL": _words_bytes(4),
    "OV": _words_bytes(8),
    "OW": _words_bytes(2, 40),
    "PN": _multi(st.lists(_words(string.ascii_letters, 12), min_size=1, max_size=3).map("^".join)),
    "SH": _multi(_words(_TEXT, 16)),
    "SL": _numbers(st.integers(-(2**31), 2**31 - 1)),
    "SS": _numbers(st.integers(-(2**15), 2**15 - 1)),
    "ST": _words(_TEXT + "\\", 200),
    "SV": _numbers(st.integers(-(2**63), 2**63 - 1)),
    "TM": _multi(st.times(time(0), time(23, 59, 59)).map(lambda t: t.strftime("%H%M%S"))),
    "UC": _multi(_words(_TEXT, 80)),
    "UI": _multi(_uid()),
    "UL": _numbers(st.integers(0, 2**32 - 1)),
    "UR": st.lists(st.text(string.ascii_lowercase, min_size=1, max_size=8), max_size=3).map(
        lambda p: "http://example.org/" + "/".join(p)
    ),
    "US": _numbers(st.integers(0, 2**16 - 1)),
    "UT": _words(_TEXT + "\\\r\n", 300),
    "UV": _numbers(st.integers(0, 2**64 - 1)),
}
#: VRs a private element is drawn with (no SQ: see the module docstring).
PRIVATE_VRS = (
    "LO",
    "SH",
    "CS",
    "DS",
    "IS",
    "US",
    "SS",
    "UL",
    "SL",
    "FL",
    "FD",
    "OB",
    "OW",
    "AT",
    "UT",
)


def element_value(vr: str) -> st.SearchStrategy[object]:
    """A valid value of `vr`, or sometimes an empty one (a zero-length element)."""
    return st.one_of(
        st.just(None if vr not in ("OB", "OD", "OF", "OL", "OV", "OW") else b""), VALUES[vr]
    )


# -- datasets ---------------------------------------------------------------------------


@st.composite
def _element(draw: st.DrawFn) -> tuple[int, str, object]:
    vr = draw(st.sampled_from(sorted(TAGS_BY_VR)))
    tag = draw(st.sampled_from(TAGS_BY_VR[vr]))
    return tag, vr, draw(element_value(vr))


@st.composite
def datasets(
    draw: st.DrawFn,
    *,
    depth: int = 3,
    private: bool = True,
    pixel_data: bool = True,
    other_words: bool = True,
    max_elements: int = 12,
) -> Dataset:
    """A random valid dataset.

    Parameters
    ----------
    depth : int
        Deepest sequence nesting (a top-level sequence is depth 1).
    private : bool
        Whether private blocks (a creator and its elements) may appear.
    pixel_data : bool
        Whether the image pixel module with native 16-bit OW Pixel Data may appear.
    other_words : bool
        Whether OW, OF, OD, OL and OV values may appear (pydicom does not
        byte-swap them when it writes big endian, see :func:`encode`).
    """
    ds = Dataset()
    for tag, vr, value in draw(
        st.lists(_element(), max_size=max_elements, unique_by=lambda e: e[0])
    ):
        if not other_words and vr in ("OW", "OF", "OD", "OL", "OV"):
            continue
        ds.add_new(tag, vr, value)
    if depth > 0:
        # fewer sequences deeper down: the size stays small, the depth still reaches 3
        tags = draw(st.lists(st.sampled_from(_SEQUENCE_TAGS), max_size=min(depth, 2), unique=True))
        for tag in tags:
            items = draw(
                st.lists(
                    datasets(
                        depth=depth - 1,
                        private=private,
                        pixel_data=False,
                        other_words=other_words,
                        max_elements=max(2, max_elements // 2),
                    ),
                    max_size=3,
                )
            )
            for item in items:
                item.is_undefined_length_sequence_item = draw(st.booleans())
            ds.add_new(tag, "SQ", items)
            ds[tag].is_undefined_length = draw(st.booleans())
    if private and draw(st.booleans()):
        group = draw(st.sampled_from((0x0009, 0x0011, 0x0019, 0x0029, 0x0043)))
        block = ds.private_block(group, "STORECORE TEST", create=True)
        vrs = PRIVATE_VRS if other_words else tuple(v for v in PRIVATE_VRS if v != "OW")
        for offset in draw(st.lists(st.integers(0, 0xFF), max_size=4, unique=True)):
            vr = draw(st.sampled_from(vrs))
            block.add_new(offset, vr, draw(element_value(vr)))
    if pixel_data and other_words and draw(st.booleans()):
        rows, columns = draw(st.integers(1, 8)), draw(st.integers(1, 8))
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.Rows = rows
        ds.Columns = columns
        ds.BitsAllocated = 16
        ds.BitsStored = draw(st.sampled_from((12, 16)))
        ds.HighBit = ds.BitsStored - 1
        ds.PixelRepresentation = draw(st.sampled_from((0, 1)))
        ds.add_new(
            0x7FE00010,
            "OW",
            draw(st.binary(min_size=2 * rows * columns, max_size=2 * rows * columns)),
        )
    return ds


def encode(ds: Dataset, ts: str) -> bytes:
    """`ds` encoded by pydicom in the native transfer syntax `ts` (no File Meta).

    pydicom writes OB, OW, OF, OD, OL and OV values as stored (it does not
    byte-swap them for big endian): their bytes read back as the same bytes.
    """
    implicit, little = ENCODING[ts]
    fp = DicomBytesIO()
    fp.is_implicit_VR = implicit
    fp.is_little_endian = little
    write_dataset(fp, ds)
    return fp.getvalue()


def decode(data: bytes, ts: str) -> Dataset:
    """pydicom's reading of a bare dataset in `ts` (Deflated Explicit VR LE inflated first)."""
    if ts == DEFLATED_LE:
        data, ts = inflate(data), EXPLICIT_LE
    implicit, little = ENCODING[ts]
    return read_dataset(DicomBytesIO(data), implicit, little)


def deflate(data: bytes) -> bytes:
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def inflate(data: bytes) -> bytes:
    d = zlib.decompressobj(-15)
    return d.decompress(data) + d.flush()


@st.composite
def encoded_datasets(draw: st.DrawFn, **kwargs: object) -> tuple[Dataset, str, bytes]:
    """(dataset, transfer syntax, pydicom's encoding of the dataset in it)."""
    ds = draw(datasets(**kwargs))  # type: ignore[arg-type]
    ts = draw(st.sampled_from(NATIVE))
    return ds, ts, encode(ds, ts)

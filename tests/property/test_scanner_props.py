"""Property tests of the incremental scanner against pydicom's encoder and reader.

(a) Feeding a dataset in chunks cut anywhere (1-byte chunks included) gives
exactly the tokens of feeding it whole, in every native encoding and through a
deflate stream. (b) The elements the scanner finds (tags, lengths, value bytes,
and at the top level VRs and value offsets) are the ones pydicom reads back
from the same bytes, at every nesting depth.

References: PS3.5 Sections 7.1 (data elements), 7.5 (nesting), Annex A.5 (deflate).
"""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from pydicom.datadict import dictionary_VR
from pydicom.dataelem import RawDataElement, convert_raw_data_element
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filereader import data_element_generator
from pydicom.tag import BaseTag

from storecore.dataset import Scanner, Token, TokenKind, scan
from tests.property.strategies import (
    DEFLATED_LE,
    ENCODING,
    EXPLICIT_LE,
    NATIVE,
    PROPERTY_SETTINGS,
    decode,
    deflate,
    encode,
    encoded_datasets,
)

_UNDEFINED = 0xFFFFFFFF


def feed(chunks: list[bytes], ts: str) -> list[Token]:
    scanner = Scanner(ts)
    tokens: list[Token] = []
    for chunk in chunks:
        tokens.extend(scanner.feed(chunk))
    tokens.extend(scanner.close())
    return tokens


def cut(data: bytes, points: list[int]) -> list[bytes]:
    bounds = [0, *sorted(p % (len(data) + 1) for p in points), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


# -- (a) chunked feeding ----------------------------------------------------------


@PROPERTY_SETTINGS
@given(encoded_datasets(), st.lists(st.integers(0, 1 << 16), max_size=40))
def test_chunked_feeding_gives_the_tokens_of_whole_feeding(case, points):
    _ds, ts, data = case
    whole = scan(data, ts)
    assert feed(cut(data, points), ts) == whole


@PROPERTY_SETTINGS
@given(encoded_datasets())
def test_byte_by_byte_feeding_gives_the_tokens_of_whole_feeding(case):
    _ds, ts, data = case
    assert feed([data[i : i + 1] for i in range(len(data))], ts) == scan(data, ts)


@PROPERTY_SETTINGS
@given(encoded_datasets(), st.lists(st.integers(0, 1 << 16), max_size=20))
def test_chunks_may_be_any_buffer_type(case, points):
    _ds, ts, data = case
    kinds = (bytes, bytearray, memoryview)
    chunks: list[Any] = [kinds[i % 3](c) for i, c in enumerate(cut(data, points))]
    assert feed(chunks, ts) == scan(data, ts)


@PROPERTY_SETTINGS
@given(encoded_datasets(), st.lists(st.integers(0, 1 << 16), max_size=20))
def test_deflated_chunks_give_the_tokens_of_the_inflated_dataset(case, points):
    ds, _ts, _data = case
    plain = encode(ds, EXPLICIT_LE)
    # token offsets refer to the inflated stream (PS3.5 Annex A.5)
    assert feed(cut(deflate(plain), points), DEFLATED_LE) == scan(plain, EXPLICIT_LE)


# -- (b) agreement with pydicom's reader -------------------------------------------


def token_tree(tokens: list[Token], data: bytes) -> list[dict[str, Any]]:
    """The scanner's tokens as nested elements: dicts with tag, vr, length, value or items."""
    root: list[dict[str, Any]] = []
    stack: list[Any] = [root]  # lists of elements (datasets) and of items (sequences)
    open_elements: list[dict[str, Any]] = []
    for tok in tokens:
        if tok.kind == TokenKind.ELEMENT:
            value = data[tok.value_offset : tok.value_offset + tok.length]
            stack[-1].append(_node(tok, value=value))
        elif tok.kind == TokenKind.SEQUENCE_START:
            node = _node(tok, items=[])
            stack[-1].append(node)
            open_elements.append(node)
            stack.append(node["items"])
        elif tok.kind == TokenKind.ITEM_START:
            item: list[dict[str, Any]] = []
            stack[-1].append(item)
            stack.append(item)
        elif tok.kind == TokenKind.ITEM_END:
            stack.pop()
        elif tok.kind == TokenKind.SEQUENCE_END:
            stack.pop()
            open_elements.pop()
        elif tok.kind == TokenKind.ENCAPSULATED_START:
            node = _node(tok, value=None)
            stack[-1].append(node)
            open_elements.append(node)
        elif tok.kind == TokenKind.ENCAPSULATED_END:
            node = open_elements.pop()
            # pydicom reads an undefined-length value up to its sequence delimiter
            node["value"] = data[node["value_offset"] : tok.offset]
    assert stack == [root] and not open_elements
    return root


def _node(tok: Token, **kw: Any) -> dict[str, Any]:
    return {
        "tag": tok.tag,
        "vr": tok.vr,
        "length": tok.length,
        "value_offset": tok.value_offset,
        **kw,
    }


def pydicom_tree(ds: Dataset, implicit: bool) -> list[dict[str, Any]]:
    """The same view of pydicom's reading: raw values, and sequences parsed into items.

    pydicom converts a few elements while it reads (undefined-length sequences,
    Pixel Representation, some empty values) and more on access (reading a
    sequence converts its dataset's Pixel Representation): every raw element is
    taken before any access, and a converted one keeps its converted value.
    """
    tags = list(ds.keys())  # iterating a Dataset yields elements, not tags
    raws = [(tag, ds.get_item(tag)) for tag in tags]  # before any access converts them
    out = []
    for tag, raw in raws:
        vr = _dictionary_vr(int(tag)) if implicit else raw.VR
        if isinstance(raw, RawDataElement):
            node = {"tag": int(tag), "vr": vr, "length": raw.length, "value_offset": raw.value_tell}
            if vr != "SQ":
                node["value"] = raw.value if raw.value is not None else b""
        else:
            length = _UNDEFINED if raw.is_undefined_length else None
            node = {"tag": int(tag), "vr": vr, "length": length, "value_offset": None}
            if raw.VR != "SQ":
                node["converted"] = raw.value
        if vr == "SQ":
            node["items"] = [pydicom_tree(item, implicit) for item in ds[tag].value]
        out.append(node)
    return out


def pydicom_value(node: dict[str, Any], implicit: bool, little: bool) -> Any:
    """pydicom's conversion of the scanner's raw value (to compare with a converted one)."""
    raw = RawDataElement(
        BaseTag(node["tag"]), None if implicit else node["vr"], node["length"], node["value"],
        node["value_offset"], implicit, little,
    )  # fmt: skip
    return convert_raw_data_element(raw).value


def _dictionary_vr(tag: int) -> str:
    """The VR the implicit-VR scanner reports: the dictionary's, UN or LO for private tags."""
    if tag >> 16 & 1:
        return "LO" if 0x0010 <= tag & 0xFFFF <= 0x00FF else "UN"
    return str(dictionary_VR(tag))


def assert_same_elements(
    ours: list[Any], theirs: list[dict[str, Any]], ts: str, top: bool = True, path: str = ""
) -> None:
    implicit, little = ENCODING[ts]
    assert [n["tag"] for n in ours] == [n["tag"] for n in theirs], path
    for a, b in zip(ours, theirs, strict=True):
        where = f"{path}({a['tag'] >> 16:04X},{a['tag'] & 0xFFFF:04X})"
        assert a["vr"] == b["vr"], where
        if b["length"] is not None:
            assert a["length"] == b["length"], where
        if top and b["value_offset"] is not None:
            # offsets only at the top level: pydicom re-bases those inside a
            # defined-length sequence, which it re-reads from the raw value
            assert a["value_offset"] == b["value_offset"], where
        if "items" in b:
            assert "items" in a and len(a["items"]) == len(b["items"]), where
            for i, (x, y) in enumerate(zip(a["items"], b["items"], strict=True)):
                assert_same_elements(x, y, ts, False, f"{where}[{i}].")
        elif "converted" in b:
            assert pydicom_value(a, implicit, little) == b["converted"], where
        else:
            assert a["value"] == b["value"], where


@PROPERTY_SETTINGS
@given(encoded_datasets())
def test_scanned_elements_are_the_ones_pydicom_reads(case):
    _ds, ts, data = case
    implicit = ts == NATIVE[0]
    ours = token_tree(scan(data, ts), data)
    theirs = pydicom_tree(decode(data, ts), implicit)
    assert_same_elements(ours, theirs, ts)


@PROPERTY_SETTINGS
@given(encoded_datasets())
def test_top_level_tokens_carry_pydicoms_raw_elements(case):
    """Top level, token by token against pydicom's raw element generator: tag, VR,
    length, value offset and value bytes."""
    _ds, ts, data = case
    implicit, little = ENCODING[ts]
    raws = list(data_element_generator(DicomBytesIO(data), implicit, little))
    top = [t for t in scan(data, ts) if t.depth == 0 and t.kind in _HEADS]
    assert [t.tag for t in top] == [int(raw.tag) for raw in raws]
    for tok, raw in zip(top, raws, strict=True):
        if not isinstance(raw, RawDataElement):  # pydicom parses undefined-length sequences
            assert tok.kind == TokenKind.SEQUENCE_START and tok.length == _UNDEFINED
            assert raw.VR == "SQ" and raw.is_undefined_length
            continue
        assert tok.vr == (_dictionary_vr(tok.tag) if implicit else raw.VR)
        assert (tok.length, tok.value_offset) == (raw.length, raw.value_tell)
        assert data[tok.value_offset : tok.value_offset + tok.length] == (raw.value or b"")


_HEADS = (TokenKind.ELEMENT, TokenKind.SEQUENCE_START, TokenKind.ENCAPSULATED_START)

"""Unit tests of the element scanner on annotated byte fixtures (PS3.5 Sections 7, 8)."""

from __future__ import annotations

import struct

import pytest

from storecore.dataset import Scanner, TokenKind, lookup_dictionary_vr, scan
from storecore.errors import DatasetError
from storecore.limits import Limits

EXPLICIT = "1.2.840.10008.1.2.1"
IMPLICIT = "1.2.840.10008.1.2"
BIG = "1.2.840.10008.1.2.2"
DEFLATED = "1.2.840.10008.1.2.1.99"
UNDEF = 0xFFFFFFFF


def ex(group: int, elem: int, vr: str, value: bytes, *, big: bool = False) -> bytes:
    """An Explicit VR element (PS3.5 7.1.2)."""
    e = ">" if big else "<"
    if vr in ("OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"):
        return struct.pack(f"{e}HH2sHI", group, elem, vr.encode(), 0, len(value)) + value
    return struct.pack(f"{e}HH2sH", group, elem, vr.encode(), len(value)) + value


def im(group: int, elem: int, value: bytes, length: int | None = None) -> bytes:
    """An Implicit VR element (PS3.5 7.1.3)."""
    return struct.pack("<HHI", group, elem, len(value) if length is None else length) + value


def item(value: bytes, length: int | None = None, *, big: bool = False) -> bytes:
    e = ">" if big else "<"
    return struct.pack(f"{e}HHI", 0xFFFE, 0xE000, len(value) if length is None else length) + value


ITEM_DELIM = struct.pack("<HHI", 0xFFFE, 0xE00D, 0)
SEQ_DELIM = struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)


def kinds(tokens: list) -> list[tuple[TokenKind, int]]:
    return [(t.kind, t.tag) for t in tokens]


def test_explicit_le_element_header_and_offsets() -> None:
    # (0010,0010) PN "Doe^J " : 10 00 10 00 'P' 'N' 06 00 + value
    data = ex(0x0010, 0x0010, "PN", b"Doe^J ") + ex(0x0010, 0x0020, "LO", b"12")
    toks = scan(data, EXPLICIT)
    assert [(t.tag, t.vr, t.length, t.offset, t.value_offset) for t in toks] == [
        (0x00100010, "PN", 6, 0, 8),
        (0x00100020, "LO", 2, 14, 22),
    ]


def test_explicit_32_bit_length_vrs() -> None:
    # OB has 2 reserved bytes then a 4-byte length: 12-byte header (PS3.5 Table 7.1-1)
    data = ex(0x0009, 0x0010, "LO", b"ACME") + ex(0x0009, 0x1001, "OB", b"\x01\x02")
    toks = scan(data, EXPLICIT)
    assert toks[1].vr == "OB" and toks[1].value_offset - toks[1].offset == 12


def test_implicit_vr_from_dictionary_and_private() -> None:
    data = (
        im(0x0008, 0x0060, b"CT")  # CS by the dictionary
        + im(0x0009, 0x0010, b"ACME")  # private creator: LO (PS3.5 7.8.1)
        + im(0x0009, 0x1001, b"\x00\x01")  # private: UN
        + im(0x0028, 0x0106, b"\x00\x00")  # "US or SS"
        + im(0x0029, 0x0000, b"\x00\x00\x00\x00")  # group length: UL
    )
    assert [t.vr for t in scan(data, IMPLICIT)] == ["CS", "LO", "UN", "US or SS", "UL"]


def test_repeating_groups_use_the_repeater_dictionary() -> None:
    assert lookup_dictionary_vr(0x60023000) == "OB or OW"  # (60xx,3000) Overlay Data
    assert lookup_dictionary_vr(0x50100010) == "US"  # (50xx,0010) Number of Points
    assert lookup_dictionary_vr(0x7FE00010) == "OB or OW"


def test_big_endian_header() -> None:
    data = ex(0x0028, 0x0010, "US", b"\x02\x00", big=True)
    (tok,) = scan(data, BIG)
    assert tok.tag == 0x00280010 and tok.length == 2


def test_sequence_of_defined_length_items() -> None:
    inner = ex(0x0008, 0x0100, "SH", b"T-1234")
    seq_value = item(inner) + item(inner)
    data = ex(0x0040, 0xA730, "SQ", seq_value) + ex(0x0040, 0xA731, "LO", b"xx")
    toks = scan(data, EXPLICIT)
    assert kinds(toks) == [
        (TokenKind.SEQUENCE_START, 0x0040A730),
        (TokenKind.ITEM_START, 0xFFFEE000),
        (TokenKind.ELEMENT, 0x00080100),
        (TokenKind.ITEM_END, 0xFFFEE00D),
        (TokenKind.ITEM_START, 0xFFFEE000),
        (TokenKind.ELEMENT, 0x00080100),
        (TokenKind.ITEM_END, 0xFFFEE00D),
        (TokenKind.SEQUENCE_END, 0x0040A730),
        (TokenKind.ELEMENT, 0x0040A731),
    ]
    assert [t.depth for t in toks] == [0, 1, 2, 1, 1, 2, 1, 0, 0]
    assert not any(t.delimited for t in toks)  # defined lengths ran out


def test_sequence_of_undefined_length_with_delimiters() -> None:
    inner = ex(0x0008, 0x0100, "SH", b"AB")
    seq = struct.pack("<HH2sHI", 0x0040, 0xA730, b"SQ", 0, UNDEF)
    data = seq + item(inner + ITEM_DELIM, UNDEF) + SEQ_DELIM
    toks = scan(data, EXPLICIT)
    assert kinds(toks)[-2:] == [
        (TokenKind.ITEM_END, 0xFFFEE00D),
        (TokenKind.SEQUENCE_END, 0xFFFEE0DD),
    ]
    assert toks[-1].delimited and toks[-2].delimited
    assert toks[-1].value_offset == len(data)


def test_empty_sequence_of_zero_length() -> None:
    data = ex(0x0040, 0xA730, "SQ", b"") + ex(0x0040, 0xA731, "LO", b"xx")
    assert kinds(scan(data, EXPLICIT))[:2] == [
        (TokenKind.SEQUENCE_START, 0x0040A730),
        (TokenKind.SEQUENCE_END, 0x0040A730),
    ]


def test_un_of_undefined_length_is_an_implicit_sequence() -> None:
    # PS3.5 6.2.2: the items inside are Implicit VR Little Endian, whatever the syntax
    inner = im(0x0009, 0x1002, b"ABCD")
    un = struct.pack("<HH2sHI", 0x0009, 0x1001, b"UN", 0, UNDEF)
    data = ex(0x0009, 0x0010, "LO", b"ACME") + un + item(inner) + SEQ_DELIM
    toks = scan(data, EXPLICIT)
    assert toks[1].kind is TokenKind.SEQUENCE_START and toks[1].vr == "UN"
    assert toks[3].tag == 0x00091002 and toks[3].implicit and toks[3].length == 4


def test_encapsulated_pixel_data() -> None:
    pixel = struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OB", 0, UNDEF)
    bot = item(struct.pack("<I", 0))
    data = pixel + bot + item(b"\xff\xd8\xff\xd9") + item(b"\x01\x02") + SEQ_DELIM
    toks = scan(data, EXPLICIT)
    assert [t.kind for t in toks] == [
        TokenKind.ENCAPSULATED_START,
        TokenKind.BASIC_OFFSET_TABLE,
        TokenKind.FRAGMENT,
        TokenKind.FRAGMENT,
        TokenKind.ENCAPSULATED_END,
    ]
    frag = toks[2]
    assert data[frag.value_offset : frag.value_offset + frag.length] == b"\xff\xd8\xff\xd9"


def test_implicit_undefined_length_pixel_data_is_encapsulated() -> None:
    data = im(0x7FE0, 0x0010, b"", UNDEF) + item(b"") + item(b"ab") + SEQ_DELIM
    assert scan(data, IMPLICIT)[0].kind is TokenKind.ENCAPSULATED_START


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 7, 11, 64])
def test_chunked_feeding_equals_whole(chunk: int) -> None:
    inner = ex(0x0008, 0x0100, "SH", b"T-1234")
    seq = struct.pack("<HH2sHI", 0x0040, 0xA730, b"SQ", 0, UNDEF)
    data = (
        ex(0x0008, 0x0060, "CS", b"CT")
        + seq
        + item(inner + ITEM_DELIM, UNDEF)
        + item(inner)
        + SEQ_DELIM
        + ex(0x7FE0, 0x0010, "OW", bytes(range(200)))
    )
    whole = scan(data, EXPLICIT)
    s = Scanner(EXPLICIT)
    parts = []
    for i in range(0, len(data), chunk):
        parts += s.feed(data[i : i + chunk])
    parts += s.close()
    assert parts == whole


def test_deflated_offsets_refer_to_the_inflated_stream() -> None:
    import zlib

    plain = ex(0x0008, 0x0060, "CS", b"MR") + ex(0x0010, 0x0010, "PN", b"A^B ")
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    deflated = c.compress(plain) + c.flush()
    assert scan(deflated, DEFLATED) == scan(plain, EXPLICIT)


def test_buffers_of_every_kind() -> None:
    import mmap

    data = ex(0x0008, 0x0060, "CS", b"CT")
    expected = scan(data, EXPLICIT)
    assert scan(bytearray(data), EXPLICIT) == expected
    assert scan(memoryview(data), EXPLICIT) == expected
    m = mmap.mmap(-1, len(data))
    m.write(data)
    assert scan(m, EXPLICIT) == expected
    m.close()


# --- bad input: a DatasetError with offset and tag path --------------------------------


def test_unknown_vr() -> None:
    data = ex(0x0008, 0x0060, "CS", b"CT") + struct.pack("<HH2sH", 0x0008, 0x0070, b"ZZ", 2) + b"AB"
    with pytest.raises(DatasetError) as err:
        scan(data, EXPLICIT)
    assert err.value.offset == 10 and err.value.path == "(0008,0070)"
    assert "unknown VR" in str(err.value)


def test_error_path_inside_nested_items() -> None:
    bad = struct.pack("<HH2sH", 0x0008, 0x0100, b"ZZ", 2) + b"AB"  # not a VR
    seq = ex(0x0040, 0xA730, "SQ", item(ex(0x0008, 0x0100, "SH", b"ok")) + item(bad))
    with pytest.raises(DatasetError) as err:
        scan(seq, EXPLICIT)
    assert err.value.path == "(0040,A730)[1].(0008,0100)"
    assert "unknown VR" in str(err.value) and err.value.offset == 12 + 18 + 8


def test_odd_length_is_a_named_leniency() -> None:
    data = struct.pack("<HH2sH", 0x0010, 0x0010, b"PN", 3) + b"ABC"
    with pytest.raises(DatasetError):
        scan(data, EXPLICIT)
    assert scan(data, EXPLICIT, lenient_odd_length=True)[0].length == 3


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (ex(0x0010, 0x0010, "PN", b"AB")[:-1], "data ends inside a value"),
        (ex(0x0010, 0x0010, "PN", b"AB")[:5], "data ends inside an element header"),
        (struct.pack("<HH2sHI", 0x0040, 0xA730, b"SQ", 0, UNDEF), "data ends inside a sequence"),
        (item(b""), "item tag outside a sequence"),
        (ITEM_DELIM, "item delimiter outside an item"),
        (SEQ_DELIM, "sequence delimiter outside a sequence"),
        (struct.pack("<HHI", 0xFFFE, 0xE0FF, 0), "unknown item or delimiter tag"),
        (ex(0x0040, 0xA730, "SQ", ex(0x0008, 0x0100, "SH", b"AB")), "expected an item"),
        (ex(0x0040, 0xA730, "SQ", item(ex(0x0008, 0x0100, "SH", b"ABCD"), 4)), "past the end"),
        (struct.pack("<HH2sHI", 0x0010, 0x0010, b"UT", 0, UNDEF), "undefined length on a VR"),
        (
            struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OB", 0, UNDEF) + item(b"", UNDEF),
            "fragment of undefined length",
        ),
        (
            struct.pack("<HH2sHI", 0x0040, 0xA730, b"SQ", 0, UNDEF)
            + item(b"", UNDEF)
            + struct.pack("<HHI", 0xFFFE, 0xE00D, 4),
            "item delimiter with a non-zero length",
        ),
    ],
    ids=[
        "truncated-value",
        "truncated-header",
        "unterminated-sequence",
        "stray-item",
        "stray-item-delimiter",
        "stray-sequence-delimiter",
        "unknown-FFFE-tag",
        "element-in-sequence",
        "item-overruns-sequence",
        "undefined-UT",
        "undefined-fragment",
        "nonzero-delimiter",
    ],
)
def test_bad_input(data: bytes, message: str) -> None:
    with pytest.raises(DatasetError, match=message):
        scan(data, EXPLICIT)


def test_sequence_depth_limit() -> None:
    data = ex(0x0008, 0x0100, "SH", b"AB")
    for _ in range(10):
        data = ex(0x0040, 0xA730, "SQ", item(data))
    assert scan(data, EXPLICIT, limits=Limits(max_sequence_depth=20))
    with pytest.raises(DatasetError, match="nesting deeper than the limit"):
        scan(data, EXPLICIT, limits=Limits(max_sequence_depth=19))


def test_element_length_limit() -> None:
    data = ex(0x0009, 0x1001, "OB", bytes(2048))
    with pytest.raises(DatasetError, match="element length over the limit"):
        scan(data, EXPLICIT, limits=Limits(max_element_length=1024))


def test_a_failed_scanner_stays_failed() -> None:
    s = Scanner(EXPLICIT)
    with pytest.raises(DatasetError):
        s.feed(struct.pack("<HH2sH", 0x0008, 0x0070, b"ZZ", 2))
    with pytest.raises(DatasetError):
        s.feed(ex(0x0008, 0x0080, "LO", b"AB"))


def test_deflated_garbage() -> None:
    with pytest.raises(DatasetError, match="deflated dataset"):
        scan(b"\xff\xff\xff\xff", DEFLATED)

"""Native transcoding: unit cases on built datasets (PS3.5 6.2.2, 7.1, A.1-A.3)."""

from __future__ import annotations

import mmap
import struct
import tracemalloc
from pathlib import Path

import pytest

from storecore.dataset import TokenKind, scan
from storecore.errors import DatasetError, TranscodeError
from storecore.transcode import transcode_dataset

IMPLICIT = "1.2.840.10008.1.2"
EXPLICIT = "1.2.840.10008.1.2.1"
BIG = "1.2.840.10008.1.2.2"
DEFLATED = "1.2.840.10008.1.2.1.99"
UNDEF = 0xFFFFFFFF


def im(group: int, elem: int, value: bytes, length: int | None = None) -> bytes:
    return struct.pack("<HHI", group, elem, len(value) if length is None else length) + value


def rewrite(data: bytes, src: str, dst: str) -> bytes:
    out = bytearray()
    n = transcode_dataset(data, src, dst, out.extend)
    assert n == len(out)
    return bytes(out)


def test_implicit_to_explicit_uses_dictionary_vrs() -> None:
    data = im(0x0008, 0x0060, b"CT") + im(0x0028, 0x0010, b"\x00\x02")
    out = rewrite(data, IMPLICIT, EXPLICIT)
    assert out == (
        struct.pack("<HH2sH", 0x0008, 0x0060, b"CS", 2)
        + b"CT"
        + struct.pack("<HH2sH", 0x0028, 0x0010, b"US", 2)
        + b"\x00\x02"
    )


@pytest.mark.parametrize(("pixel_rep", "vr"), [(0, b"US"), (1, b"SS")])
def test_us_or_ss_follows_pixel_representation(pixel_rep: int, vr: bytes) -> None:
    # (0028,0106) Smallest Image Pixel Value is "US or SS" (PS3.3 C.7.6.3.1.4 via A.1)
    data = im(0x0028, 0x0103, struct.pack("<H", pixel_rep)) + im(0x0028, 0x0106, b"\xff\xff")
    out = rewrite(data, IMPLICIT, EXPLICIT)
    assert out[10 + 4 : 10 + 6] == vr


def test_pixel_data_from_implicit_is_ow_and_swapped_by_bits_allocated() -> None:
    pixels = struct.pack("<4I", 1, 2, 3, 0xDEADBEEF)
    data = im(0x0028, 0x0100, struct.pack("<H", 32)) + im(0x7FE0, 0x0010, pixels)
    out = rewrite(data, IMPLICIT, BIG)
    pix = scan(out, BIG)[-1]
    assert pix.vr == "OW"
    assert out[pix.value_offset :] == struct.pack(">4I", 1, 2, 3, 0xDEADBEEF)


def test_values_swap_per_vr() -> None:
    data = (
        struct.pack("<HH2sH", 0x0018, 0x1310, b"US", 8)
        + struct.pack("<4H", 1, 2, 3, 4)
        + struct.pack("<HH2sH", 0x0018, 0x9089, b"FD", 8)
        + struct.pack("<d", 1.5)
        + struct.pack("<HH2sH", 0x0020, 0x9165, b"AT", 4)
        + struct.pack("<HH", 0x0010, 0x0020)
        + struct.pack("<HH2sHI", 0x0029, 0x1010, b"OB", 0, 4)
        + b"\x01\x02\x03\x04"
        + struct.pack("<HH2sH", 0x0029, 0x1011, b"LO", 4)
        + b"ab\\c"
    )
    out = rewrite(data, EXPLICIT, BIG)
    t = scan(out, BIG)
    assert out[t[0].value_offset : t[0].value_offset + 8] == struct.pack(">4H", 1, 2, 3, 4)
    assert out[t[1].value_offset : t[1].value_offset + 8] == struct.pack(">d", 1.5)
    assert out[t[2].value_offset : t[2].value_offset + 4] == struct.pack(">HH", 0x0010, 0x0020)
    assert out[t[3].value_offset : t[3].value_offset + 4] == b"\x01\x02\x03\x04"  # OB: never
    assert out[t[4].value_offset : t[4].value_offset + 4] == b"ab\\c"  # text: never
    assert rewrite(out, BIG, EXPLICIT) == data


def test_defined_lengths_are_recomputed() -> None:
    inner = im(0x0008, 0x0100, b"T-1234")  # 8 + 6 in implicit, 8 + 6 in explicit (SH)
    inner2 = im(0x0040, 0xA160, b"long text ")  # UT: 8 + 10 implicit, 12 + 10 explicit
    item = struct.pack("<HHI", 0xFFFE, 0xE000, len(inner + inner2)) + inner + inner2
    data = im(0x0040, 0xA730, item)  # Content Sequence of defined length
    out = rewrite(data, IMPLICIT, EXPLICIT)
    toks = scan(out, EXPLICIT)
    assert [t.kind for t in toks][:2] == [TokenKind.SEQUENCE_START, TokenKind.ITEM_START]
    assert toks[0].length == len(item) + 4 and toks[1].length == len(inner + inner2) + 4
    assert rewrite(out, EXPLICIT, IMPLICIT) == data


def test_undefined_lengths_are_kept() -> None:
    inner = im(0x0008, 0x0100, b"AB")
    data = (
        im(0x0040, 0xA730, b"", UNDEF)
        + struct.pack("<HHI", 0xFFFE, 0xE000, UNDEF)
        + inner
        + struct.pack("<HHI", 0xFFFE, 0xE00D, 0)
        + struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)
    )
    out = rewrite(data, IMPLICIT, BIG)
    toks = scan(out, BIG)
    assert toks[0].length == UNDEF and toks[1].length == UNDEF
    assert toks[-1].delimited and toks[-2].delimited
    assert rewrite(rewrite(out, BIG, EXPLICIT), EXPLICIT, IMPLICIT) == data


def test_private_undefined_length_sequence_becomes_un_with_implicit_content() -> None:
    # PS3.5 6.2.2: unknown VR, undefined length -> UN, content stays Implicit VR LE
    content = struct.pack("<HHI", 0xFFFE, 0xE000, UNDEF) + im(0x0029, 0x1002, b"abcd")
    content += struct.pack("<HHI", 0xFFFE, 0xE00D, 0)
    data = im(0x0029, 0x0010, b"ACME") + im(0x0029, 0x1001, b"", UNDEF) + content
    data += struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)
    for target in (EXPLICIT, BIG):
        out = rewrite(data, IMPLICIT, target)
        toks = scan(out, target)
        assert toks[0].vr == "LO" and toks[1].vr == "UN" and toks[1].length == UNDEF
        assert out.endswith(content + struct.pack("<HHI", 0xFFFE, 0xE0DD, 0))  # verbatim LE
        assert rewrite(out, target, IMPLICIT) == data


def test_short_vr_too_long_becomes_un() -> None:
    value = b"x" * 70000  # LO from the dictionary, but 70000 > 0xFFFF
    data = im(0x0008, 0x0070, value)
    out = rewrite(data, IMPLICIT, EXPLICIT)
    assert scan(out, EXPLICIT)[0].vr == "UN"


def test_deflated_round_trip() -> None:
    data = im(0x0008, 0x0060, b"CT") + im(0x0010, 0x0010, b"Doe^John")
    deflated = rewrite(data, IMPLICIT, DEFLATED)
    assert len(deflated) < len(data) + 16
    assert rewrite(deflated, DEFLATED, IMPLICIT) == data


def test_compressed_syntaxes_are_refused() -> None:
    with pytest.raises(TranscodeError, match="not a native syntax"):
        rewrite(b"", EXPLICIT, "1.2.840.10008.1.2.4.50")


def test_bad_source_raises_dataset_error() -> None:
    with pytest.raises(DatasetError):
        rewrite(im(0x0008, 0x0060, b"CT")[:-1], IMPLICIT, EXPLICIT)


def test_memory_stays_flat_for_a_large_dataset(tmp_path: Path) -> None:
    """64 MiB of pixel data swapped to big endian: the Python heap grows by less than
    a megabyte (the output goes to the writer in bounded chunks, the input is an mmap)."""
    size = 64 * 1024 * 1024
    path = tmp_path / "big.raw"
    with open(path, "wb") as f:
        f.write(im(0x0028, 0x0100, struct.pack("<H", 16)))
        f.write(struct.pack("<HHI", 0x7FE0, 0x0010, size))
        f.truncate(10 + 8 + size)
    written = 0

    def sink(chunk: memoryview) -> None:
        nonlocal written
        written += len(chunk)

    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        tracemalloc.start()
        try:
            transcode_dataset(m, IMPLICIT, BIG, sink)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert written == 10 + 12 + size
    assert peak < 1024 * 1024, f"peak Python allocation {peak} bytes"

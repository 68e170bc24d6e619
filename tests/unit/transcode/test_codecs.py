"""The codec registry: per-syntax precedence, python-gdcm's RLE encoder, HTJ2K
targets, and the NOT_SUPPORTED reasons where no library encodes."""

from __future__ import annotations

import numpy as np
import pytest

from storecore.errors import TranscodeError
from storecore.transcode import TranscodePath, transcode, transcode_path
from storecore.transcode.codecs import CodecRegistry, FrameInfo, GdcmRLE
from tests.unit.transcode.helpers import (
    EXPLICIT_LE,
    HTJ2K_LOSSLESS,
    JPEG_LS_LOSSLESS,
    RLE,
    make_image,
    pixels,
    require_codec_packages,
)

HTJ2K_RPCL = "1.2.840.10008.1.2.4.202"
HTJ2K = "1.2.840.10008.1.2.4.203"
J2K_MC_LOSSLESS = "1.2.840.10008.1.2.4.92"
J2K_MC = "1.2.840.10008.1.2.4.93"


@pytest.fixture(autouse=True)
def _codecs() -> None:
    require_codec_packages()


def _names(uid: str, direction: str) -> list[str]:
    registry = CodecRegistry(entry_points=False)
    return [c.name for c in registry.codecs(uid, direction)]  # type: ignore[arg-type]


def test_precedence_per_syntax_and_direction() -> None:
    # measured fastest first (codecs.py's table): libjpeg is every syntax's last resort
    assert _names(JPEG_LS_LOSSLESS, "decode") == [
        "imagecodecs.jpegls",
        "pyjpegls",
        "pylibjpeg-libjpeg",
    ]
    assert _names(JPEG_LS_LOSSLESS, "encode") == ["imagecodecs.jpegls", "pyjpegls"]
    assert _names(RLE, "decode") == ["imagecodecs.dicomrle", "pylibjpeg-rle"]
    assert _names(RLE, "encode") == ["python-gdcm.rle", "pylibjpeg-rle"]


@pytest.mark.parametrize(
    "image",
    [
        {},
        {"signed": True, "bits_stored": 12},
        {"bits_allocated": 8, "bits_stored": 8, "samples": 3, "planar": 1, "frames": 2},
        {"bits_allocated": 32, "bits_stored": 32, "signed": True},
    ],
    ids=["u16", "s12", "rgb8-planar-2frames", "s32"],
)
def test_rle_encoded_by_gdcm(image: dict[str, object]) -> None:
    src, px = make_image(**image)  # type: ignore[arg-type]
    out, record = transcode(src, RLE)
    assert record.codec.startswith("python-gdcm.rle")
    assert np.array_equal(pixels(out), px)


def test_rle_odd_length_frame_goes_to_pylibjpeg_rle() -> None:
    # GDCM's RLE codec aborts the process on an odd-length frame: never given one
    info = FrameInfo(7, 23, 1, 8, 8, 0, "MONOCHROME2")
    assert "odd length" in (GdcmRLE().can_encode(RLE, info) or "")
    src, px = make_image(rows=7, columns=23, bits_allocated=8, bits_stored=8)
    out, record = transcode(src, RLE)
    assert record.codec.startswith("pylibjpeg-rle")
    assert np.array_equal(pixels(out), px)


def _cod(codestream: bytes) -> tuple[int, int]:
    """(progression order, decomposition levels) of the COD marker segment
    (ISO/IEC 15444-1 A.6.1: Scod, SGcod = order, layers(2), MCT; SPcod = levels ...)."""
    at = codestream.index(b"\xff\x52")
    return codestream[at + 5], codestream[at + 9]


def _fragment(part10: bytes) -> bytes:
    import io

    import pydicom
    from pydicom.encaps import generate_fragmented_frames

    ds = pydicom.dcmread(io.BytesIO(part10))
    return b"".join(next(generate_fragmented_frames(ds.PixelData)))


@pytest.mark.parametrize("size", [(512, 512), (1200, 300), (40, 30)])
def test_htj2k_rpcl_output_meets_ps3_5_10_18(size: tuple[int, int]) -> None:
    rows, columns = size
    src, px = make_image(rows=rows, columns=columns, signed=True)
    out, record = transcode(src, HTJ2K_RPCL)
    assert record.path is TranscodePath.SUPPORTED
    codestream = _fragment(out)
    order, levels = _cod(codestream)
    assert order == 2  # RPCL (ISO/IEC 15444-1 Table A.16)
    assert max(rows, columns) / 2**levels <= 64  # a thumbnail resolution of <= 64
    assert b"\xff\x55" in codestream  # TLM
    assert np.array_equal(pixels(out), px)


@pytest.mark.parametrize("target", [HTJ2K_LOSSLESS, HTJ2K])
def test_htj2k_targets_are_lossless(target: str) -> None:
    # .203 allows lossless coding at the sender's discretion (PS3.5 10.18): same UID
    assert transcode_path(EXPLICIT_LE, target).path is TranscodePath.SUPPORTED
    src, px = make_image(bits_allocated=8, bits_stored=8)
    out, record = transcode(src, target)
    assert record.sop_instance_uid == record.original_sop_instance_uid
    assert np.array_equal(pixels(out), px)


@pytest.mark.parametrize("target", [J2K_MC_LOSSLESS, J2K_MC])
def test_j2k_part2_is_not_supported_with_the_reason(target: str) -> None:
    decision = transcode_path(EXPLICIT_LE, target, allow_lossy=True)
    assert decision.path is TranscodePath.NOT_SUPPORTED
    assert "Part 2 multi-component" in decision.reason
    src, _ = make_image()
    with pytest.raises(TranscodeError, match="Part 2 multi-component"):
        transcode(src, target, allow_lossy=True)

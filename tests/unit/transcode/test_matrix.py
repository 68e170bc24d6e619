"""The transcoding matrix: paths, lossless round trips, NEW_UID attributes, errors."""

from __future__ import annotations

from io import BytesIO

import numpy as np
import pytest

from storecore.errors import TranscodeError
from storecore.transcode import TranscodePath, transcode, transcode_path
from storecore.transcode.codecs import Codec, CodecRegistry, FrameInfo
from tests.unit.transcode.helpers import (
    EXPLICIT_BE,
    EXPLICIT_LE,
    HTJ2K_LOSSLESS,
    IMPLICIT_LE,
    J2K,
    J2K_LOSSLESS,
    JPEG_BASELINE,
    JPEG_LOSSLESS_SV1,
    JPEG_LS_LOSSLESS,
    JPEG_LS_NEAR,
    RLE,
    make_image,
    pixels,
    read,
    require_codec_packages,
)

LOSSLESS = [RLE, JPEG_LOSSLESS_SV1, JPEG_LS_LOSSLESS, J2K_LOSSLESS]
LOSSY = [JPEG_BASELINE, JPEG_LS_NEAR, J2K]


@pytest.fixture(autouse=True)
def _codecs() -> None:
    require_codec_packages()


IMAGES = {
    "u16": {},
    "s16": {"signed": True},
    "u12_in_16": {"bits_stored": 12},
    "s12_in_16": {"signed": True, "bits_stored": 12},
    "u8": {"bits_allocated": 8, "bits_stored": 8},
    "rgb8_planar0": {"samples": 3, "bits_allocated": 8, "bits_stored": 8},
    "rgb8_planar1_multiframe": {
        "samples": 3,
        "bits_allocated": 8,
        "bits_stored": 8,
        "planar": 1,
        "frames": 3,
    },
    "multiframe_s16": {"frames": 4, "signed": True},
    "implicit_s16": {"ts": IMPLICIT_LE, "signed": True},
    "big_endian_u16": {"ts": EXPLICIT_BE},
    "odd_columns": {"columns": 23, "rows": 7, "bits_allocated": 8, "bits_stored": 8},
}


@pytest.mark.parametrize("target", LOSSLESS)
@pytest.mark.parametrize("image", IMAGES)
def test_lossless_round_trip(image: str, target: str) -> None:
    src, px = make_image(**IMAGES[image])  # type: ignore[arg-type]
    out, record = transcode(src, target)
    assert record.path is TranscodePath.SUPPORTED
    assert record.sop_instance_uid == record.original_sop_instance_uid == read(src).SOPInstanceUID
    assert read(out).file_meta.TransferSyntaxUID == target
    assert (pixels(out) == px).all(), "pydicom's decoding of our encoding"
    back, back_record = transcode(out, EXPLICIT_LE)
    assert back_record.path is TranscodePath.SUPPORTED
    assert (pixels(back) == px).all(), "our decoding"
    assert "LossyImageCompression" not in read(out)


def test_htj2k_lossless_round_trip() -> None:
    src, px = make_image(signed=True)
    out, record = transcode(src, HTJ2K_LOSSLESS)
    assert record.path is TranscodePath.SUPPORTED
    back, _ = transcode(out, EXPLICIT_LE)
    assert (pixels(back) == px).all()


@pytest.mark.parametrize("target", LOSSY)
def test_lossy_is_not_supported_unless_allowed(target: str) -> None:
    assert transcode_path(EXPLICIT_LE, target).path is TranscodePath.NOT_SUPPORTED
    src, _ = make_image(bits_allocated=8, bits_stored=8)
    with pytest.raises(TranscodeError, match="lossy output was not allowed"):
        transcode(src, target)


@pytest.mark.parametrize("target", LOSSY)
@pytest.mark.parametrize("image", ["u8", "rgb8_planar0"])
def test_new_uid_output(image: str, target: str) -> None:
    src, px = make_image(**IMAGES[image], rows=64, columns=64)  # type: ignore[arg-type]
    assert transcode_path(EXPLICIT_LE, target, allow_lossy=True).path is TranscodePath.NEW_UID
    out, record = transcode(src, target, allow_lossy=True, uid_root="1.2.826.0.1.3680043.9.7433")
    original = read(src)
    ds = read(out)
    assert record.path is TranscodePath.NEW_UID
    assert record.original_sop_instance_uid == original.SOPInstanceUID
    assert ds.SOPInstanceUID == record.sop_instance_uid != original.SOPInstanceUID
    assert ds.SOPInstanceUID.startswith("1.2.826.0.1.3680043.9.7433.")
    assert len(ds.SOPInstanceUID) <= 64
    assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
    assert ds.LossyImageCompression == "01"
    assert record.ratio is not None and float(ds.LossyImageCompressionRatio) > 0
    assert ds.LossyImageCompressionMethod in ("ISO_10918_1", "ISO_14495_1", "ISO_15444_1")
    ref = ds.SourceImageSequence[0]
    assert ref.ReferencedSOPInstanceUID == original.SOPInstanceUID
    assert ref.ReferencedSOPClassUID == original.SOPClassUID
    assert ds.ImageType[0] == "DERIVED"
    assert ds.DerivationDescription
    # decodes, and close to the original (PSNR >= 30 dB on this content)
    decoded = pixels(out).astype(float)
    mse = ((decoded - px.astype(float)) ** 2).mean()
    assert mse == 0 or 10 * __import__("math").log10(255.0**2 / mse) >= 30


def test_lossy_source_decoded_to_native_keeps_uid_and_marks_lossy() -> None:
    src, _ = make_image(bits_allocated=8, bits_stored=8, rows=64, columns=64)
    jpeg, _ = transcode(src, JPEG_BASELINE, allow_lossy=True)
    ds = read(jpeg)
    del ds.LossyImageCompression  # as many real JPEG files lack it
    del ds.LossyImageCompressionMethod
    from io import BytesIO

    buf = BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    out, record = transcode(buf.getvalue(), EXPLICIT_LE)
    assert record.path is TranscodePath.SUPPORTED
    assert record.sop_instance_uid == ds.SOPInstanceUID
    native = read(out)
    assert native.LossyImageCompression == "01"
    assert native.LossyImageCompressionMethod == "ISO_10918_1"


def test_lossy_source_reencoded_lossy_is_new_uid_and_appends() -> None:
    src, _ = make_image(bits_allocated=8, bits_stored=8, rows=64, columns=64)
    jpeg, first = transcode(src, JPEG_BASELINE, allow_lossy=True)
    j2k, second = transcode(jpeg, J2K, allow_lossy=True)
    assert second.path is TranscodePath.NEW_UID
    ds = read(j2k)
    assert ds.SOPInstanceUID != first.sop_instance_uid
    assert list(ds.LossyImageCompressionMethod) == ["ISO_10918_1", "ISO_15444_1"]
    assert len(ds.LossyImageCompressionRatio) == 2
    assert ds.SourceImageSequence[0].ReferencedSOPInstanceUID == first.sop_instance_uid


@pytest.mark.parametrize(
    ("source", "target", "reason"),
    [
        ("1.2.840.10008.1.2.4.100", EXPLICIT_LE, "video"),
        (EXPLICIT_LE, "1.2.840.10008.1.2.4.102", "video"),
        ("1.2.840.10008.1.2.4.94", EXPLICIT_LE, "JPIP"),
        (EXPLICIT_LE, "1.2.840.10008.1.2.4.95", "JPIP"),
    ],
)
def test_policy_not_supported(source: str, target: str, reason: str) -> None:
    decision = transcode_path(source, target, allow_lossy=True)
    assert decision.path is TranscodePath.NOT_SUPPORTED
    assert reason in decision.reason


def test_not_supported_pair_raises_with_reason() -> None:
    src, _ = make_image()
    with pytest.raises(TranscodeError, match=r"NOT_SUPPORTED .*video"):
        transcode(src, "1.2.840.10008.1.2.4.102", allow_lossy=True)


def test_image_no_codec_takes_raises_with_reasons() -> None:
    src, _ = make_image()  # 16-bit: JPEG Baseline is 8-bit only
    with pytest.raises(TranscodeError, match="JPEG Baseline encodes 8 bits"):
        transcode(src, JPEG_BASELINE, allow_lossy=True)


class _Missing(Codec):
    name = "missing.codec"
    package = "no-such-package-storecore-test"
    modules = ("no_such_module_storecore_test",)
    decodes = frozenset({RLE})
    encodes = frozenset({RLE})


def test_missing_dependency_names_the_package() -> None:
    registry = CodecRegistry([_Missing()], entry_points=False)
    codec = registry.codecs(RLE, "encode")[0]
    assert not codec.is_available()
    with pytest.raises(TranscodeError, match="no-such-package-storecore-test"):
        codec.require()
    decision = transcode_path(EXPLICIT_LE, RLE, registry=registry)
    assert decision.path is TranscodePath.NOT_SUPPORTED
    assert "pip install no-such-package-storecore-test" in decision.reason
    src, _ = make_image()
    with pytest.raises(TranscodeError, match="no-such-package-storecore-test"):
        transcode(src, RLE, registry=registry)


def test_user_codec_takes_precedence() -> None:
    registry = CodecRegistry(entry_points=False)
    first_builtin = registry.available(JPEG_LS_LOSSLESS, "decode")[0]

    class Mine(Codec):
        name = "mine"
        package = "numpy"
        modules = ("numpy",)
        decodes = frozenset({JPEG_LS_LOSSLESS})

    registry.register(Mine())
    assert registry.available(JPEG_LS_LOSSLESS, "decode")[0].name == "mine"
    assert registry.available(JPEG_LS_LOSSLESS, "decode")[1] is first_builtin


def test_precedence_is_fastest_first() -> None:
    registry = CodecRegistry(entry_points=False)
    names = [c.name for c in registry.codecs(J2K_LOSSLESS, "decode")]
    assert names == ["imagecodecs.jpeg2k", "pylibjpeg-openjpeg"]
    names = [c.name for c in registry.codecs(JPEG_LOSSLESS_SV1, "decode")]
    assert names == ["imagecodecs.jpeg8", "pylibjpeg-libjpeg"]


def test_fallback_codec_used_when_first_cannot_encode() -> None:
    src, px = make_image(signed=True, bits_stored=12)
    out, record = transcode(src, JPEG_LS_LOSSLESS)
    assert record.codec.startswith("pyjpegls")  # imagecodecs codes P=16, not Bits Stored
    assert (pixels(out) == px).all()


def test_native_pairs_stay_native() -> None:
    src, px = make_image(signed=True)
    out, record = transcode(src, IMPLICIT_LE)
    assert record.path is TranscodePath.SUPPORTED
    assert (pixels(out) == px).all()


def test_compressed_to_compressed_lossless() -> None:
    src, px = make_image(signed=True, bits_stored=12, frames=2)
    rle, _ = transcode(src, RLE)
    j2k, record = transcode(rle, J2K_LOSSLESS)
    assert record.path is TranscodePath.SUPPORTED
    assert " -> " in record.codec
    assert (pixels(j2k) == px).all()


def test_multiframe_without_offset_table_split_by_markers() -> None:
    from io import BytesIO

    from pydicom.encaps import encapsulate

    src, px = make_image(frames=3, bits_allocated=8, bits_stored=8)
    out, _ = transcode(src, JPEG_LS_LOSSLESS)
    ds = read(out)
    from pydicom.encaps import generate_frames

    frames = list(generate_frames(ds.PixelData, number_of_frames=3))
    # two fragments per frame and an empty Basic Offset Table
    fragments = []
    for f in frames:
        half = (len(f) // 2) & ~1
        fragments += [f[:half], f[half:]]
    ds.PixelData = encapsulate([f for f in fragments], has_bot=False)
    # encapsulate() made one item per given "frame": our 6 fragments
    buf = BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    back, _ = transcode(buf.getvalue(), EXPLICIT_LE)
    assert (pixels(back) == px).all()


def test_no_pixel_data_is_rewritten_without_codec() -> None:
    from io import BytesIO

    src, _ = make_image()
    ds = read(src)
    del ds.PixelData
    buf = BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    out, record = transcode(buf.getvalue(), J2K_LOSSLESS)
    assert record.path is TranscodePath.SUPPORTED
    assert read(out).SOPInstanceUID == ds.SOPInstanceUID


def _with_pixel_bytes(src: bytes, raw: np.ndarray) -> bytes:
    ds = read(src)
    ds.PixelData = raw.tobytes()
    buf = BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


@pytest.mark.parametrize("target", [RLE, JPEG_LS_LOSSLESS, J2K_LOSSLESS])
@pytest.mark.parametrize("signed", [False, True])
def test_bits_above_bits_stored_are_not_pixel_values(target: str, signed: bool) -> None:
    # PS3.5 8.1.1: the bits above High Bit are not part of the value (an overlay
    # or garbage); values within Bits Stored skip the rewrite, these must not
    src, px = make_image(bits_stored=12, signed=signed)
    noisy = px.view(np.uint16) | np.uint16(0xA000)  # bits 13 and 15 set, not the sign's copies
    out, _ = transcode(_with_pixel_bytes(src, noisy), target)
    back, _ = transcode(out, EXPLICIT_LE)
    assert (pixels(back) == px).all()
    assert (pixels(out) == px).all(), "pydicom's decoding of our encoding"


def test_new_sop_instance_uid_given_or_minted() -> None:
    src, _ = make_image(bits_allocated=8, bits_stored=8, rows=64, columns=64)
    original = read(src).SOPInstanceUID
    out, record = transcode(src, JPEG_BASELINE, allow_lossy=True, new_sop_instance_uid="2.25.42")
    assert record.sop_instance_uid == read(out).SOPInstanceUID == "2.25.42"
    assert read(out).file_meta.MediaStorageSOPInstanceUID == "2.25.42"
    seen: list[str] = []

    def mint(uid: str) -> str:
        seen.append(uid)
        return "2.25.43"

    out, record = transcode(src, JPEG_BASELINE, allow_lossy=True, new_sop_instance_uid=mint)
    assert seen == [original]
    assert read(out).SOPInstanceUID == record.sop_instance_uid == "2.25.43"
    assert read(out).SourceImageSequence[0].ReferencedSOPInstanceUID == original
    # lossless: the UID is kept, the argument is not used
    out, record = transcode(src, RLE, new_sop_instance_uid=mint)
    assert record.path is TranscodePath.SUPPORTED and seen == [original]
    assert read(out).SOPInstanceUID == original


@pytest.mark.parametrize("bad", ["2.25.042", "not a uid", "1." + "2" * 70, "same"])
def test_new_sop_instance_uid_must_be_a_new_valid_uid(bad: str) -> None:
    src, _ = make_image(bits_allocated=8, bits_stored=8, rows=16, columns=16)
    uid = read(src).SOPInstanceUID if bad == "same" else bad
    with pytest.raises(TranscodeError, match="not a valid UID different from the original"):
        transcode(src, JPEG_BASELINE, allow_lossy=True, new_sop_instance_uid=uid)


@pytest.mark.parametrize("buffers", [False, True])
def test_decoders_get_bytes_unless_they_read_buffers(buffers: bool) -> None:
    # a plug-in may hand the frame to an API that takes bytes only (SWIG,
    # pyo3): only a codec that says it reads buffers gets a view of the file
    src, px = make_image()
    encoded, _ = transcode(src, JPEG_LS_LOSSLESS)
    registry = CodecRegistry(entry_points=False)
    charls = registry.available(JPEG_LS_LOSSLESS, "decode")[0]
    seen: list[type] = []

    class Recording(Codec):
        name = "recording"
        package = "numpy"
        modules = ("numpy",)
        decodes = frozenset({JPEG_LS_LOSSLESS})
        decodes_buffers = buffers

        def decode(self, uid: str, data: bytes, info: FrameInfo) -> np.ndarray:
            seen.append(type(data))
            return charls.decode(uid, bytes(data), info)

    registry.register(Recording())
    out, record = transcode(encoded, EXPLICIT_LE, registry=registry)
    assert record.codec.startswith("recording")
    assert seen == [memoryview if buffers else bytes]
    assert (pixels(out) == px).all()

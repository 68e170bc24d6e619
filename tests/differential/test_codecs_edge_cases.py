"""Encapsulated Pixel Data shapes that pydicom-data lacks, generated, decoded against pydicom.

pydicom-data already has (tests/differential/test_codecs_vs_pydicom.py runs
them): multi-frame with a Basic Offset Table (emri_small_RLE,
examples_ybr_color) and without (color3d_jpeg_baseline,
emri_small_jpeg_ls_lossless), several fragments for one frame (MR2_J2KR,
RG1_J2KR), signed (693_J2KR, JPEG-LL), 12-bit (emri_small_*), YBR_FULL_422
(SC_rgb_dcmtk_+eb+cy+s2), YBR_RCT/ICT (US1_J2K*). Here, built with pydicom's
own encoders and encapsulation (never storecore's), the rest: an Extended
Offset Table (7FE0,0001), several fragments per frame of a multi-frame image
with a Basic Offset Table, with an Extended one, and with neither (frames
found by their start markers), odd-length codestreams (padded to even length,
PS3.5 A.4), a colour image whose header says Planar Configuration 1, and a
signed 12-bit JPEG-LS image. storecore's decoding must equal the generated
pixels, and pydicom's decoding of the same file too.
"""

from __future__ import annotations

import io
import struct
import warnings

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate, encapsulate_extended
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

from storecore.transcode import TranscodePath, transcode
from tests.unit.transcode.helpers import pixels, require_codec_packages

EXPLICIT_LE = "1.2.840.10008.1.2.1"
RLE = "1.2.840.10008.1.2.5"
JPEG_LS = "1.2.840.10008.1.2.4.80"
J2K = "1.2.840.10008.1.2.4.90"


def _frames(
    n: int,
    rows: int,
    columns: int,
    *,
    samples: int = 1,
    bits: int = 16,
    signed: bool = False,
    seed: int = 3,
) -> np.ndarray:
    rng = np.random.default_rng(seed)
    lo, hi = (-(1 << (bits - 1)), 1 << (bits - 1)) if signed else (0, 1 << bits)
    shape = (n, rows, columns) + ((samples,) if samples > 1 else ())
    ramp = np.linspace(lo, hi - 1, rows * columns).reshape(rows, columns)
    ramp = ramp[None, :, :, None] if samples > 1 else ramp[None]
    values = np.clip(np.broadcast_to(ramp, shape) + rng.integers(-40, 41, size=shape), lo, hi - 1)
    allocated = 8 if bits <= 8 else 16
    return values.astype(f"<{'i' if signed else 'u'}{allocated // 8}")


def _dataset(arr: np.ndarray, bits: int, signed: bool) -> Dataset:
    samples = arr.shape[3] if arr.ndim == 4 else 1
    ds = Dataset()
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = generate_uid()
    ds.Modality = "OT"
    ds.Rows, ds.Columns = arr.shape[1:3]
    ds.NumberOfFrames = arr.shape[0]
    ds.SamplesPerPixel = samples
    ds.PhotometricInterpretation = "RGB" if samples == 3 else "MONOCHROME2"
    if samples == 3:
        ds.PlanarConfiguration = 0
    ds.BitsAllocated = arr.dtype.itemsize * 8
    ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = int(signed)
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return ds


def _encoded_frames(arr: np.ndarray, ts: str, bits: int, signed: bool) -> list[bytes]:
    """Each frame compressed by pydicom's encoder (its plugins, not storecore)."""
    out = []
    for frame in arr:
        ds = _dataset(frame[None], bits, signed)
        ds.NumberOfFrames = 1
        ds.PixelData = frame.tobytes()
        ds.compress(ts, generate_instance_uid=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert np.array_equal(ds.pixel_array, frame)  # the fixture's frames are right
        out.append(next(pydicom.encaps.generate_frames(ds.PixelData, number_of_frames=1)))
    return out


def _split(frame: bytes, parts: int) -> list[bytes]:
    """A codestream cut into `parts` fragments of even length (PS3.5 A.4)."""
    frame += b"\x00" * (len(frame) % 2)
    size = -(-len(frame) // parts)
    size += size % 2
    return [frame[i : i + size] for i in range(0, len(frame), size)]


def _items(fragments: list[bytes]) -> bytes:
    return b"".join(struct.pack("<HHI", 0xFFFE, 0xE000, len(f)) + f for f in fragments)


def _part10(ds: Dataset, ts: str, pixel_data: bytes) -> bytes:
    ds.file_meta.TransferSyntaxUID = ts
    ds.PixelData = pixel_data
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def _fragmented(frames: list[bytes], parts: int, bot: bool) -> bytes:
    """The Pixel Data value with `parts` fragments per frame, with or without a
    Basic Offset Table."""
    per_frame = [_split(f, parts) for f in frames]
    starts, at = [], 0
    for fragments in per_frame:
        starts.append(at)
        at += sum(8 + len(f) for f in fragments)
    table = struct.pack(f"<{len(starts)}I", *starts) if bot else b""
    body = struct.pack("<HHI", 0xFFFE, 0xE000, len(table)) + table
    # pydicom's writer adds the Sequence Delimitation Item
    return body + b"".join(_items(fragments) for fragments in per_frame)


def _check(data: bytes, want: np.ndarray, *, pydicom_agrees: bool = True) -> None:
    out, record = transcode(data, EXPLICIT_LE)
    assert record.path is TranscodePath.SUPPORTED
    assert np.array_equal(pixels(out), want)
    if pydicom_agrees:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = pydicom.dcmread(io.BytesIO(data)).pixel_array
        assert np.array_equal(ref.reshape(want.shape), want)


@pytest.fixture(autouse=True)
def _codecs() -> None:
    require_codec_packages()


# no Extended Offset Table here: it may only be used with one fragment per
# frame (PS3.3 C.7.6.3.1.8); that case has its own test below
@pytest.mark.parametrize("table", ["bot", "none"])
@pytest.mark.parametrize("ts", [JPEG_LS, J2K])
def test_multiframe_several_fragments_per_frame(ts: str, table: str) -> None:
    arr = _frames(3, 64, 48, bits=12, signed=True)  # OpenJPEG needs >= 32x32 for 6 levels
    ds = _dataset(arr, 12, True)
    body = _fragmented(_encoded_frames(arr, ts, 12, True), 3, table == "bot")
    _check(_part10(ds, ts, body), arr)


def test_extended_offset_table_one_fragment_per_frame() -> None:
    arr = _frames(4, 16, 18, bits=16)
    ds = _dataset(arr, 16, False)
    body, eot, lengths = encapsulate_extended(_encoded_frames(arr, RLE, 16, False))
    ds.ExtendedOffsetTable = eot
    ds.ExtendedOffsetTableLengths = lengths
    _check(_part10(ds, RLE, body), arr)


@pytest.mark.parametrize("ts", [JPEG_LS, J2K])
def test_odd_length_codestreams_padded(ts: str) -> None:
    # seed 5: both frames' codestreams have odd length, so each fragment ends
    # with the one 0x00 after the EOI/EOC marker that makes it even (PS3.5 A.4)
    arr = _frames(2, 64, 48, bits=8, seed=5)
    frames = _encoded_frames(arr, ts, 8, False)
    assert all(f.endswith(b"\xff\xd9\x00") for f in frames)
    ds = _dataset(arr, 8, False)
    _check(_part10(ds, ts, encapsulate(frames, has_bot=False)), arr)


@pytest.mark.parametrize("ts", [RLE, JPEG_LS, J2K])
def test_colour_with_planar_configuration_1_in_the_header(ts: str) -> None:
    # PS3.5 8.2: the codestream decides the sample order of compressed pixel
    # data (the value "is irrelevant ... hence it shall be set to 0"); a header
    # still saying 1 must not reorder what the codec returns. pydicom 3.0.2
    # reorders JPEG 2000 samples by it: only the generated pixels are the reference
    arr = _frames(2, 64, 40, samples=3, bits=8)
    ds = _dataset(arr, 8, False)
    frames = _encoded_frames(arr, ts, 8, False)
    ds.PlanarConfiguration = 1
    _check(_part10(ds, ts, encapsulate(frames)), arr, pydicom_agrees=ts != J2K)


def test_signed_12_bit_jpeg_ls() -> None:
    arr = _frames(2, 20, 22, bits=12, signed=True)
    ds = _dataset(arr, 12, True)
    _check(_part10(ds, JPEG_LS, encapsulate(_encoded_frames(arr, JPEG_LS, 12, True))), arr)

"""Helpers of the codec matrix tests: the codec packages, and synthetic images.

The codec libraries are not yet dependencies in pyproject.toml (see
docs/transcoding-deps.txt): a missing one fails the tests loudly, naming the
package, because CI must never skip them silently.
"""

from __future__ import annotations

import importlib.util
from io import BytesIO

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import generate_uid

#: import name -> PyPI package, every library the registry's built-ins use
CODEC_PACKAGES = {
    "imagecodecs": "imagecodecs",
    "rle": "pylibjpeg-rle",
    "libjpeg": "pylibjpeg-libjpeg",
    "openjpeg": "pylibjpeg-openjpeg",
    "jpeg_ls": "pyjpegls",
    "pylibjpeg": "pylibjpeg",
    "gdcm": "python-gdcm",
}

EXPLICIT_LE = "1.2.840.10008.1.2.1"
IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_BE = "1.2.840.10008.1.2.2"
RLE = "1.2.840.10008.1.2.5"
JPEG_BASELINE = "1.2.840.10008.1.2.4.50"
JPEG_LOSSLESS_SV1 = "1.2.840.10008.1.2.4.70"
JPEG_LS_LOSSLESS = "1.2.840.10008.1.2.4.80"
JPEG_LS_NEAR = "1.2.840.10008.1.2.4.81"
J2K_LOSSLESS = "1.2.840.10008.1.2.4.90"
J2K = "1.2.840.10008.1.2.4.91"
HTJ2K_LOSSLESS = "1.2.840.10008.1.2.4.201"


def require_codec_packages() -> None:
    """pytest.fail (never skip) naming every codec package that is missing."""
    missing = [pkg for mod, pkg in CODEC_PACKAGES.items() if importlib.util.find_spec(mod) is None]
    if missing:
        pytest.fail(
            "codec packages missing: pip install "
            + " ".join(missing)
            + " (docs/transcoding-deps.txt)",
            pytrace=False,
        )


def make_image(
    *,
    rows: int = 32,
    columns: int = 24,
    frames: int = 1,
    samples: int = 1,
    bits_allocated: int = 16,
    bits_stored: int = 16,
    signed: bool = False,
    planar: int = 0,
    photometric: str | None = None,
    ts: str = EXPLICIT_LE,
    seed: int = 0,
) -> tuple[bytes, np.ndarray]:
    """A native Part 10 image and its pixel array (frames, rows, columns[, samples])."""
    rng = np.random.default_rng(seed)
    lo, hi = (
        (-(1 << (bits_stored - 1)), 1 << (bits_stored - 1)) if signed else (0, 1 << bits_stored)
    )
    shape = (frames, rows, columns) + ((samples,) if samples > 1 else ())
    # smooth-ish content plus noise, over the whole range
    base = np.linspace(lo, hi - 1, num=rows * columns).reshape(rows, columns)
    arr = base[None, :, :, None] if samples > 1 else base[None]
    arr = np.broadcast_to(arr, shape) + rng.integers(-3, 4, size=shape)
    dtype = np.dtype(f"<{'i' if signed else 'u'}{bits_allocated // 8}")
    pixels = np.clip(arr, lo, hi - 1).astype(dtype)
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"  # Secondary Capture Image Storage
    ds.SOPInstanceUID = generate_uid()
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.Modality = "OT"
    ds.PatientName = "Test^Codec"
    ds.SamplesPerPixel = samples
    ds.PhotometricInterpretation = photometric or ("RGB" if samples == 3 else "MONOCHROME2")
    if samples > 1:
        ds.PlanarConfiguration = planar
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.Rows, ds.Columns = rows, columns
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = bits_allocated, bits_stored, bits_stored - 1
    ds.PixelRepresentation = int(signed)
    data = pixels
    if samples > 1 and planar:
        data = np.moveaxis(pixels, -1, 1)  # frames, samples, rows, columns
    if ts == EXPLICIT_BE:
        data = data.astype(dtype.newbyteorder(">"))
    raw = np.ascontiguousarray(data).tobytes()
    ds.PixelData = raw + (b"\x00" if len(raw) % 2 else b"")
    ds["PixelData"].VR = "OB" if bits_allocated == 8 else "OW"
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ts
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    buf = BytesIO()
    ds.save_as(
        buf,
        enforce_file_format=True,
        little_endian=ts != EXPLICIT_BE,
        implicit_vr=ts == IMPLICIT_LE,
    )
    return buf.getvalue(), pixels


def read(data: bytes) -> pydicom.Dataset:
    return pydicom.dcmread(BytesIO(data))


def pixels(data: bytes) -> np.ndarray:
    """pydicom's own decoding, with a frame axis always."""
    ds = read(data)
    arr = ds.pixel_array
    frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
    return arr if frames > 1 else arr[None]

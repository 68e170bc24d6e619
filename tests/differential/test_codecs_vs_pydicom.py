"""Every SUPPORTED decode on the real-world corpus equals pydicom's own decoding.

For each pixel-bearing compressed file of pydicom's test files and pydicom-data
that pydicom itself decodes, storecore transcodes it to Explicit VR Little
Endian and pydicom's ``pixel_array`` of the result must equal pydicom's
``pixel_array`` of the source, bit for bit. Lossy DCT JPEG is decoded by
libjpeg-turbo, so it is compared with pydicom's GDCM plugin (IJG-derived, bit
exact with libjpeg-turbo); only where GDCM cannot decode a file (12-bit
JPEG Extended) is pylibjpeg-libjpeg the reference, and there +-1 is the stated
tolerance (ISO 10918-2 allows IDCT differences; ANCHORS.md measures this one).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pydicom
import pytest

from storecore.errors import StorecoreError
from storecore.transcode import TranscodePath, transcode
from tests.conftest import CORPUS
from tests.unit.transcode.helpers import pixels, require_codec_packages

EXPLICIT_LE = "1.2.840.10008.1.2.1"

# Files storecore refuses on purpose, with why (they raise a StorecoreError).
REFUSED = {
    "bad_sequence.dcm": "SOP Instance UID is not a valid UID (PS3.5 9.1)",
    "SC_rgb_jpeg.dcm": "the dataset is not valid Explicit VR (an unknown VR at its start)",
    # a fragment length that runs past the Sequence Delimitation Item: the
    # scanner reads the items as PS3.5 A.4 defines them, and the codestream it
    # gets is cut; refused with a TranscodeError, never written half-decoded
    "JPEG2000-embedded-sequence-delimiter.dcm": "fragment items are malformed",
}


def _compressed_images() -> list[Path]:
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for p in CORPUS:
            try:
                ds = pydicom.dcmread(p, stop_before_pixels=False)
                ts = ds.file_meta.TransferSyntaxUID
            except Exception:
                continue
            if "PixelData" in ds and ts.is_compressed and ts.is_encapsulated:
                out.append(p)
    return out


FILES = _compressed_images()


def _reference(path: Path) -> np.ndarray | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(path)
        ts = ds.file_meta.TransferSyntaxUID
        lossy_dct = ts in ("1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51")
        if lossy_dct:
            try:
                ds.pixel_array_options(decoding_plugin="gdcm")
                arr = ds.pixel_array
            except Exception:
                return None
        else:
            try:
                arr = ds.pixel_array
            except Exception:
                pytest.xfail("pydicom itself cannot decode this file")
        frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
        return arr if frames > 1 else arr[None]


def test_corpus_is_found() -> None:
    require_codec_packages()
    assert len(FILES) > 40


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_decode_equals_pydicom(path: Path) -> None:
    require_codec_packages()
    if path.name in REFUSED:
        with pytest.raises(StorecoreError):
            transcode(path, EXPLICIT_LE)
        return
    out, record = transcode(path, EXPLICIT_LE)
    assert record.path is TranscodePath.SUPPORTED
    ours = pixels(out)
    ref = _reference(path)
    if ref is None:  # GDCM cannot decode it: pylibjpeg-libjpeg, within +-1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(path)
            ds.pixel_array_options(decoding_plugin="pylibjpeg")
            try:
                ref = ds.pixel_array
            except Exception:
                pytest.xfail("no pydicom plug-in decodes this file: nothing to compare with")
        ref = ref if int(getattr(ds, "NumberOfFrames", 1) or 1) > 1 else ref[None]
        assert ours.shape == ref.shape
        assert np.abs(ours.astype(np.int64) - ref.astype(np.int64)).max() <= 1
        return
    assert ours.shape == ref.shape
    assert np.array_equal(ours, ref)

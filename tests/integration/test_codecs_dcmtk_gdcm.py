"""storecore's codecs against dcmtk's and GDCM's command-line tools, on the same files.

Decoding: every compressed file of pydicom's test files and pydicom-data in the
JPEG family (JPEG, JPEG-LS), RLE and JPEG 2000 is decoded to native by dcmtk
(``dcmdjpeg``, ``dcmdjpls``, ``dcmdrle``; dcmtk has no JPEG 2000 decoder) and by
GDCM (``gdcmconv --raw``); storecore's decoding of the file must equal each of
theirs, pixel for pixel, as pydicom reads the three outputs. Where a peer is
known to be wrong, :data:`PEER_WRONG` says how, and the test checks that the
disagreement is still exactly that (so a fixed peer shows up as a failure to
update the list, not as silence).

Encoding: images storecore encodes (JPEG-LS lossless, JPEG Lossless SV1, RLE,
JPEG 2000 lossless) decode with dcmtk and GDCM to the original pixels.

dcmtk comes from Debian's ``dcmtk`` package and gdcmconv from ``libgdcm-tools``;
``tools/dev test`` installs both. A missing tool fails the test, naming the
package: CI never skips these.
"""

from __future__ import annotations

import shutil
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pydicom
import pytest

from storecore.transcode import transcode
from tests.differential.test_codecs_vs_pydicom import FILES, REFUSED
from tests.integration.conftest import dcmtk, dcmtk_env
from tests.unit.transcode.helpers import make_image, pixels, require_codec_packages

EXPLICIT_LE = "1.2.840.10008.1.2.1"
RLE = "1.2.840.10008.1.2.5"
JPEG_SV1 = "1.2.840.10008.1.2.4.70"
JPEG_LS = "1.2.840.10008.1.2.4.80"
J2K = "1.2.840.10008.1.2.4.90"

#: Transfer Syntax UID -> dcmtk's decompressor (None: dcmtk has no codec)
DCMTK_DECODER = {
    "1.2.840.10008.1.2.4.50": "dcmdjpeg",
    "1.2.840.10008.1.2.4.51": "dcmdjpeg",
    "1.2.840.10008.1.2.4.57": "dcmdjpeg",
    "1.2.840.10008.1.2.4.70": "dcmdjpeg",
    "1.2.840.10008.1.2.4.80": "dcmdjpls",
    "1.2.840.10008.1.2.4.81": "dcmdjpls",
    "1.2.840.10008.1.2.5": "dcmdrle",
    "1.2.840.10008.1.2.4.90": None,
    "1.2.840.10008.1.2.4.91": None,
}

#: (peer, file) -> how that peer is wrong on it (storecore, the other peer and
#: pydicom agree). GDCM 3.0.21 (Debian 12's libgdcm-tools) reassembles the
#: byte segments of a multi-byte, multi-sample RLE frame in the wrong order
#: (PS3.5 G.2: the segments of one sample's bytes, most significant first, then
#: the next sample's), and does not write the two-frame ones at all.
PEER_WRONG = {
    ("gdcm", "SC_rgb_rle_16bit.dcm"): "differs",
    ("gdcm", "SC_rgb_rle_32bit.dcm"): "differs",
    ("gdcm", "SC_rgb_rle_16bit_2frame.dcm"): "fails",
    ("gdcm", "SC_rgb_rle_32bit_2frame.dcm"): "fails",
}


def gdcmconv() -> str:
    path = shutil.which("gdcmconv")
    if path is None:
        pytest.fail(
            "GDCM's gdcmconv is missing: `tools/dev test` installs Debian's libgdcm-tools",
            pytrace=False,
        )
    return path


def _read_pixels(path: Path) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(path)
        arr = ds.pixel_array
    return arr if int(getattr(ds, "NumberOfFrames", 1) or 1) > 1 else arr[None]


def _peer_decode(peer: str, source: Path, out: Path) -> tuple[int, str]:
    """Run the peer's decompressor; (return code, its messages)."""
    ts = pydicom.dcmread(source, stop_before_pixels=True).file_meta.TransferSyntaxUID
    if peer == "gdcm":
        cmd = [gdcmconv(), "--raw", str(source), str(out)]
    else:
        tool = DCMTK_DECODER[ts]
        assert tool is not None
        cmd = [dcmtk(tool), str(source), str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=dcmtk_env(), timeout=120)
    return done.returncode, (done.stderr + done.stdout).strip()


def _compressed_files() -> list[tuple[str, Path]]:
    """The differential test's compressed images (pydicom reads them, with Pixel
    Data), less those storecore refuses on purpose (that test checks each
    raises a StorecoreError, and why): for each, the peers that decode it."""
    cases = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path in FILES:
            ts = pydicom.dcmread(path, stop_before_pixels=True).file_meta.TransferSyntaxUID
            if ts not in DCMTK_DECODER or path.name in REFUSED:
                continue
            cases.append(("gdcm", path))
            if DCMTK_DECODER[ts] is not None:
                cases.append(("dcmtk", path))
    return cases


CASES = _compressed_files()


def test_the_corpus_has_every_family() -> None:
    kinds = {
        pydicom.dcmread(p, stop_before_pixels=True).file_meta.TransferSyntaxUID for _, p in CASES
    }
    assert {"1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.70", JPEG_LS, RLE, J2K} <= kinds
    assert len(CASES) > 80


@pytest.mark.parametrize(("peer", "path"), CASES, ids=[f"{p}-{f.name}" for p, f in CASES])
def test_decode_equals_peer(peer: str, path: Path, tmp_path: Path) -> None:
    require_codec_packages()
    data, _ = transcode(path, EXPLICIT_LE)
    ours = pixels(data)
    out = tmp_path / "peer.dcm"
    code, messages = _peer_decode(peer, path, out)
    wrong = PEER_WRONG.get((peer, path.name))
    if wrong == "fails":
        assert code != 0 or not out.exists(), f"{peer} now decodes {path.name}: update PEER_WRONG"
        return
    assert code == 0 and out.exists(), f"{peer} failed on {path.name}: {messages}"
    theirs = _read_pixels(out)
    if wrong == "differs":
        assert theirs.shape != ours.shape or not np.array_equal(theirs, ours), (
            f"{peer} now agrees on {path.name}: update PEER_WRONG"
        )
        return
    assert theirs.shape == ours.shape
    assert np.array_equal(theirs, ours), (
        f"{path.name}: {int((theirs != ours).sum())} samples differ from {peer}'s decoding"
    )


ENCODE_IMAGES = {
    "u16": {},
    "s12": {"signed": True, "bits_stored": 12},
    "u8-3frames": {"bits_allocated": 8, "bits_stored": 8, "frames": 3},
    "rgb8-planar1": {"samples": 3, "bits_allocated": 8, "bits_stored": 8, "planar": 1},
}
ENCODE_TARGETS = {
    "jpegls": JPEG_LS,
    "jpeg-sv1": JPEG_SV1,
    "rle": RLE,
    "j2k": J2K,
}
#: (peer, target): dcmtk has no JPEG 2000 codec, so GDCM alone checks that one
ENCODE_PEERS = [
    (peer, target)
    for target, ts in ENCODE_TARGETS.items()
    for peer in ("dcmtk", "gdcm")
    if peer == "gdcm" or DCMTK_DECODER[ts] is not None
]


@pytest.mark.parametrize(
    ("peer", "target"), ENCODE_PEERS, ids=[f"{p}-{t}" for p, t in ENCODE_PEERS]
)
@pytest.mark.parametrize("image", ENCODE_IMAGES)
def test_storecore_encoding_decodes_with_peer(
    peer: str, target: str, image: str, tmp_path: Path
) -> None:
    require_codec_packages()
    src, original = make_image(rows=40, columns=36, seed=7, **ENCODE_IMAGES[image])  # type: ignore[arg-type]
    encoded, _ = transcode(src, ENCODE_TARGETS[target])
    source = tmp_path / "storecore.dcm"
    source.write_bytes(encoded)
    out = tmp_path / "peer.dcm"
    code, messages = _peer_decode(peer, source, out)
    assert code == 0 and out.exists(), f"{peer} cannot decode storecore's {target}: {messages}"
    assert np.array_equal(_read_pixels(out), original)

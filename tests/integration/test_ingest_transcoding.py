"""Transcoding on ingest over the network: dcmtk's storescu -> `storecore serve` with a policy.

pydicom is the oracle for what was stored (syntax, decoded pixels, the lossy
attributes of PS3.3 C.7.6.1.1.5); the index is read with ``storecore archive
show``, and Storage Commitment of the UID storescu sent goes through
``storecore commit``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pydicom
from pydicom.encaps import encapsulate

from .conftest import STORESCU_PROPOSE, dcmtk, dcmtk_env, start_serve

CLI = [sys.executable, "-m", "storecore.cli"]
JPEG_LS_LOSSLESS = "1.2.840.10008.1.2.4.80"
J2K_LOSSY = "1.2.840.10008.1.2.4.91"


def _ct(tmp_path: Path) -> Path:
    """pydicom's CT_small (16-bit signed, Explicit VR LE) under a fresh UID."""
    from pydicom.uid import generate_uid

    src = Path(pydicom.__file__).parent / "data" / "test_files" / "CT_small.dcm"
    ds = pydicom.dcmread(src)
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    path = tmp_path / "ct.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path


@contextmanager
def _serve(tmp_path: Path, storage: str) -> Iterator[tuple[int, Path]]:
    config = tmp_path / "storecore.toml"
    config.write_text("[storage]\nmin_free_bytes = 0\n" + storage)
    archive = tmp_path / "archive"
    proc, port = start_serve(config, archive)
    try:
        yield port, archive
    finally:
        proc.terminate()
        proc.communicate(timeout=60)


def _storescu(port: int, path: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [dcmtk("storescu"), "-v", *options, "-aec", "STORECORE", "127.0.0.1", str(port),
         str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        env=dcmtk_env(),
    )  # fmt: skip


def _show(archive: Path, uid: str) -> dict[str, object]:
    run = subprocess.run(
        [*CLI, "archive", "show", "--storage", str(archive), uid],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    return dict(json.loads(run.stdout))


def _stored(archive: Path, record: dict[str, object]) -> pydicom.Dataset:
    return pydicom.dcmread(archive / "objects" / str(record["blob_key"]))


def test_jpeg_ls_lossless_policy_stores_the_same_pixels(tmp_path: Path) -> None:
    src = _ct(tmp_path)
    sent = pydicom.dcmread(src)
    with _serve(tmp_path, 'store_transfer_syntax = "JPEGLSLossless"\n') as (port, archive):
        run = _storescu(port, src)
        assert run.returncode == 0, run.stderr
        assert "Received Store Response (Success)" in run.stdout + run.stderr
    record = _show(archive, sent.SOPInstanceUID)  # the server stopped: the archive is ours
    assert record["received_transfer_syntax"] == "1.2.840.10008.1.2.1"
    assert record["stored_transfer_syntax"] == JPEG_LS_LOSSLESS
    transcode = record["transcode"]
    assert isinstance(transcode, dict) and transcode["path"] == "SUPPORTED"
    assert "imagecodecs" in transcode["codec"] or "pyjpegls" in transcode["codec"]
    stored = _stored(archive, record)
    assert stored.file_meta.TransferSyntaxUID == JPEG_LS_LOSSLESS
    assert stored.SOPInstanceUID == sent.SOPInstanceUID
    assert np.array_equal(stored.pixel_array, sent.pixel_array)
    # dcmtk's own decoder reads what we wrote
    decoded = tmp_path / "decoded.dcm"
    dj = subprocess.run(
        [dcmtk("dcmdjpls"), str(archive / "objects" / str(record["blob_key"])), str(decoded)],
        capture_output=True,
        text=True,
        env=dcmtk_env(),
    )
    assert dj.returncode == 0, dj.stderr
    assert np.array_equal(pydicom.dcmread(decoded).pixel_array, sent.pixel_array)


def test_lossy_policy_answers_0xB000_and_commits_the_sent_uid(tmp_path: Path) -> None:
    src = _ct(tmp_path)
    sent = pydicom.dcmread(src)
    storage = 'store_transfer_syntax = "JPEG2000"\nallow_lossy = true\n'
    with _serve(tmp_path, storage) as (port, archive):
        run = _storescu(port, src)
        out = run.stdout + run.stderr
        assert run.returncode == 0, out
        assert "Received Store Response (Warning: CoercionOfDataElements)" in out, out
        committed = subprocess.run(
            [*CLI, "commit", "127.0.0.1", str(port), "--aec", "STORECORE", str(src)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert committed.returncode == 0, committed.stdout + committed.stderr
        assert "1 committed, 0 failed" in committed.stdout
    record = _show(archive, sent.SOPInstanceUID)  # found by the sent UID
    new = str(record["sop_instance_uid"])
    assert new != sent.SOPInstanceUID
    assert record["original_sop_instance_uid"] == sent.SOPInstanceUID
    assert isinstance(record["transcode"], dict) and record["transcode"]["path"] == "NEW_UID"
    stored = _stored(archive, record)
    assert stored.file_meta.TransferSyntaxUID == J2K_LOSSY
    assert stored.SOPInstanceUID == new
    assert stored.LossyImageCompression == "01"
    assert float(stored.LossyImageCompressionRatio) > 1
    assert stored.LossyImageCompressionMethod == "ISO_15444_1"
    assert stored.SourceImageSequence[0].ReferencedSOPInstanceUID == sent.SOPInstanceUID
    assert stored.SourceImageSequence[0].ReferencedSOPClassUID == sent.SOPClassUID
    error = np.abs(stored.pixel_array.astype(int) - sent.pixel_array.astype(int))
    assert error.max() > 0 and error.mean() < 50  # lossy, yet the same image


def _undecodable(tmp_path: Path) -> Path:
    """A JPEG-LS CT whose fragment is not a JPEG-LS stream (storescu sends it as is)."""
    ds = pydicom.dcmread(_ct(tmp_path))
    ds.PixelData = encapsulate([b"\xff\xd8 not a JPEG-LS stream \xff\xd9"])
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = JPEG_LS_LOSSLESS
    path = tmp_path / "undecodable.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path


def test_a_transcode_the_codecs_cannot_do_is_refused_or_stored_as_configured(
    tmp_path: Path,
) -> None:
    src = _undecodable(tmp_path)
    uid = pydicom.dcmread(src).SOPInstanceUID
    with _serve(tmp_path, 'store_transfer_syntax = "JPEG2000Lossless"\n') as (port, archive):
        run = _storescu(port, src, STORESCU_PROPOSE[JPEG_LS_LOSSLESS])  # sent as it is
        out = run.stdout + run.stderr
        assert "Received Store Response (Error: CannotUnderstand)" in out, out
    shown = subprocess.run(
        [*CLI, "archive", "show", "--storage", str(archive), uid],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 1 and "not in the archive" in shown.stderr
    shutil.rmtree(archive)
    storage = (
        'store_transfer_syntax = "JPEG2000Lossless"\non_transcode_failure = "store-as-received"\n'
    )
    with _serve(tmp_path, storage) as (port, archive):
        run = _storescu(port, src, STORESCU_PROPOSE[JPEG_LS_LOSSLESS])
        assert run.returncode == 0 and "Store Response (Success)" in run.stdout + run.stderr
    record = _show(archive, uid)
    assert record["stored_transfer_syntax"] == JPEG_LS_LOSSLESS
    transcode = record["transcode"]
    assert isinstance(transcode, dict) and transcode["path"] == "NOT_SUPPORTED"
    assert "could not be decoded" in str(transcode["reason"])

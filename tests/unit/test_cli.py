"""The storecore command, run as a user would (in a subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pydicom
from pydicom.data import get_testdata_file


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "storecore.cli", *args], capture_output=True, text=True, timeout=60
    )


def test_help_of_every_subcommand() -> None:
    for cmd in ([], ["scan"], ["transcode"], ["receive"], ["echo"], ["send"]):
        out = run(*cmd, "--help")
        assert out.returncode == 0 and "usage: storecore" in out.stdout


def test_scan_json() -> None:
    path = get_testdata_file("CT_small.dcm")
    out = run("scan", "--json", path)
    assert out.returncode == 0, out.stderr
    row = json.loads(out.stdout)
    assert row["sop_instance_uid"] == pydicom.dcmread(path).SOPInstanceUID
    assert row["rows"] == 128


def test_scan_reports_failures_with_exit_code(tmp_path: Path) -> None:
    bad = tmp_path / "bad.dcm"
    bad.write_bytes(b"nope")
    out = run("scan", get_testdata_file("CT_small.dcm"), str(bad))
    assert out.returncode == 1
    assert "bad.dcm: error: not a DICOM Part 10 file" in out.stderr
    assert "CT_small.dcm" in out.stdout


def test_transcode(tmp_path: Path) -> None:
    src = get_testdata_file("CT_small.dcm")
    dst = tmp_path / "out.dcm"
    out = run("transcode", src, str(dst), "--ts", "ExplicitVRBigEndian")
    assert out.returncode == 0, out.stderr
    assert "SUPPORTED" in out.stdout
    a, b = pydicom.dcmread(src), pydicom.dcmread(dst)
    assert b.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.2"
    assert (a.pixel_array == b.pixel_array).all()


def test_transcode_lossy_only_when_allowed(tmp_path: Path) -> None:
    """Lossy output is NOT_SUPPORTED unless asked for; then NEW_UID with a new UID."""
    src = get_testdata_file("CT_small.dcm")
    out = run("transcode", src, str(tmp_path / "o.dcm"), "--ts", "JPEGBaseline8Bit")
    assert out.returncode == 1 and "NOT_SUPPORTED" in out.stderr and "lossy" in out.stderr
    assert not (tmp_path / "o.dcm").exists()
    lossless = run("transcode", src, str(tmp_path / "ls.dcm"), "--ts", "JPEGLSLossless")
    assert lossless.returncode == 0, lossless.stderr
    assert "SUPPORTED (ExplicitVRLittleEndian -> JPEGLSLossless" in lossless.stdout
    a, b = pydicom.dcmread(src), pydicom.dcmread(tmp_path / "ls.dcm")
    assert b.SOPInstanceUID == a.SOPInstanceUID
    assert (a.pixel_array == b.pixel_array).all()
    lossy = run("transcode", src, str(tmp_path / "l.dcm"), "--ts", "JPEG2000", "--allow-lossy")
    assert lossy.returncode == 0, lossy.stderr
    assert "NEW_UID" in lossy.stdout and "new SOP Instance UID" in lossy.stdout
    c = pydicom.dcmread(tmp_path / "l.dcm")
    assert c.SOPInstanceUID != a.SOPInstanceUID and c.LossyImageCompression == "01"


def test_scan_folder_recursively_with_a_pattern(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    src = Path(get_testdata_file("CT_small.dcm"))
    (tmp_path / "sub" / "a.dcm").write_bytes(src.read_bytes())
    (tmp_path / "notes.txt").write_text("not DICOM")
    out = run("scan", "-r", "--glob", "*.dcm", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("\n") == 1 and "a.dcm" in out.stdout
    assert run("scan", str(tmp_path)).returncode != 0  # a folder needs -r

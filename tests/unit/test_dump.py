"""storecore dump: the command, its options, its keyword table and its import path.

The values themselves are checked against pydicom on the whole corpus in
tests/differential/test_dump_vs_pydicom.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pydicom.data import get_testdata_file

from storecore.dataset.dump import keyword, parse_tag

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "storecore.cli", "dump", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_keyword_table_is_the_installed_pydicom_dictionary() -> None:
    check = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "gen_keyword_table.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert check.returncode == 0, check.stderr  # says: run python3 tools/gen_keyword_table.py


def test_keywords_of_public_repeating_private_and_unknown_tags() -> None:
    assert keyword(0x00100010) == "PatientName"
    assert keyword(0x60023000) == "OverlayData"  # 60xx3000
    assert keyword(0x00090010) == "PrivateCreator"  # (gggg,0010-00FF), PS3.5 7.8.1
    assert keyword(0x00091010) == "Private"
    assert keyword(0x00090000) == "GroupLength"
    assert parse_tag("PatientID") == parse_tag("(0010,0020)") == parse_tag("00100020")


def test_dump_prints_the_file_meta_then_the_data_set() -> None:
    out = run(get_testdata_file("CT_small.dcm"))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("# File Meta Information")
    assert lines[1].startswith("(0002,0000) UL        4 FileMetaInformationGroupLength")
    data_set = lines.index("# Data Set, ExplicitVRLittleEndian")
    assert all(line.startswith("(0002,") for line in lines[1:data_set])
    assert "(0010,0010) PN       22 PatientName" in out.stdout
    assert "[CompressedSamples^CT1]" in out.stdout
    # pixel data: the length only
    assert lines[-2].split() == ["(7FE0,0010)", "OW", "32768", "PixelData", "(32768", "bytes)"]
    assert lines[-1].startswith("(FFFC,FFFC) OB      126 DataSetTrailingPadding")


def test_dump_nests_items_and_limits_the_depth() -> None:
    path = get_testdata_file("rtplan.dcm")
    full = run(path).stdout.splitlines()
    assert "  (FFFE,E000) item #1, 170 bytes" in full
    assert any(line.startswith("        (300A,00B8) CS") for line in full)  # two levels down
    top = run(path, "--max-depth", "0").stdout.splitlines()
    assert [line for line in top if line.startswith(" ")] == []
    assert "(300A,00B0) SQ      976 BeamSequence" in "\n".join(top)
    one = run(path, "--max-depth", "1").stdout.splitlines()
    assert "    (300A,00C0) IS" in "\n".join(one)
    assert not [line for line in one if line.startswith("      ")]  # nothing two levels down


def test_dump_filters_tags_and_truncates_values() -> None:
    path = get_testdata_file("rtplan.dcm")
    out = run(path, "--tag", "ReferencedSOPInstanceUID", "--tag", "300a,0012").stdout
    elements = [line.split()[0] for line in out.splitlines() if not line.startswith("#")]
    assert elements == ["(300A,0012)", "(300A,0012)", "(0008,1155)", "(0008,1155)"]
    long_value = "239.531250000000\\239.531250000000\\-741.87000000000"
    assert long_value in run(path).stdout
    assert "[239.53125000...]" in run(path, "--width", "12").stdout
    bad = run(path, "--tag", "NotAKeyword")
    assert bad.returncode == 2 and "NotAKeyword" in bad.stderr


def test_dump_of_a_broken_file_prints_what_it_read_and_exits_1(tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.dcm"
    truncated.write_bytes(Path(get_testdata_file("CT_small.dcm")).read_bytes()[:1000])
    text = tmp_path / "notes.txt"
    text.write_text("not DICOM")
    out = run(str(truncated), str(text))
    assert out.returncode == 1
    assert f"# {truncated}" in out.stdout and "(0008,0016) UI" in out.stdout
    assert f"{truncated}: error: " in out.stderr and "data ends inside" in out.stderr
    assert f"{text}: error: not a DICOM Part 10 file" in out.stderr


def test_dump_does_not_import_pydicom() -> None:
    code = (
        "import sys\nfrom storecore.cli import main\n"
        f"main(['dump', {get_testdata_file('rtplan.dcm')!r}])\n"
        "sys.exit(1 if 'pydicom' in sys.modules else 0)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert out.returncode == 0, "pydicom was imported"

"""Regression tests of the bugs the fuzz harnesses found, one per bug, plus a replay of
every saved reproducer (tests/fuzz/crashes/) through its harness.

A reproducer is named ``<harness>-<bug>.bin``: ``scanner-`` inputs are a
chunking byte then a dataset (see fuzz_scanner.py), ``part10-`` inputs a file.
Replays run in a subprocess with a timeout: a hang or a crash in C must fail
the test, not take pytest down.

An open bug is marked ``xfail(strict=True)`` with its reason (OPEN_BUGS and
the constants beside it): the suite stays green while it is open and fails as
soon as it is fixed, so the fix removes its marker. The tests without a marker
are of bugs fixed in 12da83f.
"""

from __future__ import annotations

import contextlib
import os
import random
import struct
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import pytest

import storecore
from storecore.dataset import read_file_meta, summarize, summarize_file
from storecore.errors import DatasetError, StorecoreError
from storecore.transcode.native import transcode_part10

HERE = Path(__file__).resolve().parent
# where this process found storecore (the installed package, or src/ with an
# in-place build): the harness subprocesses must import the same one
SRC = Path(storecore.__file__).resolve().parents[1]
CRASHES = HERE / "crashes"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
EXPLICIT_BE = "1.2.840.10008.1.2.2"
IMPLICIT_LE = "1.2.840.10008.1.2"
REPLAY_TIMEOUT = 10  # every reproducer runs in well under a second once fixed

#: Reproducers (by file stem) of bugs still open, with the reason shown by xfail.
OPEN_BUGS: dict[str, str] = {}


def element(group: int, elem: int, vr: bytes, value: bytes, big: bool = False) -> bytes:
    """One Explicit VR data element (PS3.5 Section 7.1.2)."""
    order = ">" if big else "<"
    if vr in (b"OB", b"OW", b"OF", b"OD", b"OL", b"OV", b"SQ", b"UN", b"UT", b"UC", b"UR"):
        return struct.pack(order + "HH2sHI", group, elem, vr, 0, len(value)) + value
    return struct.pack(order + "HH2sH", group, elem, vr, len(value)) + value


def run_python(code: str, timeout: float = REPLAY_TIMEOUT) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(SRC), str(HERE), str(HERE.parents[1]), env.get("PYTHONPATH")])
    )
    env.pop("STORECORE_FUZZ_AVOID", None)
    try:
        return subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code)],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"no result within {timeout} s (a hang)", pytrace=False)


def _assert_ok(proc: subprocess.CompletedProcess[str]) -> None:
    if proc.returncode != 0:
        pytest.fail(
            f"exit code {proc.returncode}"
            + (" (killed by a signal)" if proc.returncode < 0 else "")
            + f"\n{proc.stderr[-4000:]}",
            pytrace=False,
        )


# -- replay of every saved reproducer --------------------------------------------------


def _reproducers() -> list[object]:
    params: list[object] = []
    for path in sorted(CRASHES.glob("*.bin")):
        reason = OPEN_BUGS.get(path.stem)
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        params.append(pytest.param(path, id=path.stem, marks=marks))
    return params


@pytest.mark.parametrize("path", _reproducers())
def test_reproducer_passes_its_harness(path: Path) -> None:
    check = "check_scanner" if path.name.startswith("scanner-") else "check_part10"
    proc = run_python(
        f"""
        import fuzz_invariants
        fuzz_invariants.{check}(open({str(path)!r}, "rb").read())
        """
    )
    _assert_ok(proc)


# -- one test per bug, at the API ------------------------------------------------------


def test_summary_values_survive_an_empty_captured_element() -> None:
    """A captured element of length 0 left its capture slot open (fixed in 12da83f).

    (0008,0018) is captured, then an empty (0008,0016), then 2 KiB of (0008,0017):
    the 2 KiB landed in the capture buffer from (0008,0016)'s slot on, over
    (0008,0018)'s value.
    """
    dataset = (
        element(0x0008, 0x0018, b"UI", b"1.2.3\x00")
        + element(0x0008, 0x0016, b"UI", b"")
        + element(0x0008, 0x0017, b"OB", b"X" * 2048)
    )
    assert summarize(dataset, EXPLICIT_LE).sop_instance_uid == "1.2.3"


def test_file_meta_values_survive_an_empty_captured_element() -> None:
    """The same bug in the File Meta reader: (0002,0010), an empty (0002,0001), 4 KiB."""
    data = (
        b"\x00" * 128
        + b"DICM"
        + element(0x0002, 0x0010, b"UI", b"1.2.840.10008.1.2.1\x00")
        + element(0x0002, 0x0001, b"OB", b"")
        + element(0x0002, 0x0004, b"OB", b"X" * 4096)
    )
    assert read_file_meta(data).transfer_syntax_uid == "1.2.840.10008.1.2.1"


def test_a_long_value_after_an_empty_captured_element_does_not_overflow() -> None:
    """The same bug as a heap overflow: an empty SOP Class UID, then a 1 MiB value.

    The copy ran ~1 MiB past the 16 KiB capture buffer (SIGSEGV, or glibc's
    "free(): corrupted unsorted chunks" abort); in a subprocess for that reason.
    """
    proc = run_python(
        """
        import struct
        from storecore.dataset import summarize
        empty_sop_class = b"\\x08\\x00\\x16\\x00UI\\x00\\x00"
        long_ob = b"\\x08\\x00\\x17\\x00OB\\x00\\x00" + struct.pack("<I", 1 << 20)
        dataset = empty_sop_class + long_ob + b"\\xaa" * (1 << 20)
        assert summarize(dataset, "1.2.840.10008.1.2.1").sop_class_uid == ""
        """
    )
    _assert_ok(proc)


def test_byte_swapping_a_partial_unit_terminates() -> None:
    """A swapped value that is not a whole number of units looped forever (fixed in 12da83f).

    Each value below has a trailing partial unit; a byte order change must end
    (with output or a StorecoreError). The loop held the GIL: in a subprocess.
    """
    proc = run_python(
        """
        from storecore.errors import StorecoreError
        from storecore.transcode import transcode_dataset
        LE, BE, IM = "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2", "1.2.840.10008.1.2"
        cases = [
            # (0008,0010) UL, 2 bytes
            (bytes.fromhex("08001000554c02000100"), LE, BE),
            # implicit (0008,1161) Simple Frame List, dictionary VR UL, 2 bytes
            (bytes.fromhex("08006111020000000100"), IM, BE),
            # encapsulated Pixel Data whose Basic Offset Table is 2 bytes (offsets are UL)
            (bytes.fromhex("e07f10004f420000fffffffffeff00e002000000aaaafeffdde000000000"), LE, BE),
        ]
        for data, src, dst in cases:
            try:
                transcode_dataset(data, src, dst, lambda chunk: None)
            except StorecoreError:
                pass
        """,
        timeout=10,
    )
    _assert_ok(proc)


def test_a_file_meta_group_length_of_the_wrong_size_is_a_dataset_error() -> None:
    """(0002,0000) UL with a 2-byte value leaked struct.error (fixed in 12da83f)."""
    data = b"\x00" * 128 + b"DICM" + element(0x0002, 0x0000, b"UL", b"\x00\x00")
    with pytest.raises(DatasetError):
        read_file_meta(data)


def test_a_character_set_with_a_nul_is_not_a_value_error() -> None:
    """(0008,0005) "\\0A", then a Patient's Name to decode, leaked pydicom's ValueError
    ("embedded null character", from codecs.lookup) (fixed in 12da83f)."""
    dataset = element(0x0008, 0x0005, b"CS", b"\x00A") + element(0x0010, 0x0010, b"PN", b"Doe^John")
    with contextlib.suppress(StorecoreError):
        summarize(dataset, EXPLICIT_LE)


def _outcome(fn: object) -> tuple[str, object]:
    """("ok", result) or ("error", the reason without its offset)."""
    try:
        return ("ok", fn())  # type: ignore[operator]
    except StorecoreError as exc:
        return ("error", str(exc).split(" at 0x")[0])


@pytest.mark.parametrize(
    "name",
    [
        "part10-deflated-truncated-after-pixel-data",
        "part10-deflated-truncated-at-read-end",
    ],
)
def test_summaries_of_a_truncated_deflated_file_agree(name: str) -> None:
    """A deflated file cut inside the pixel data: summarize() raised, summarize_file()
    did not (fixed in 12da83f). The two must give the same answer."""
    path = CRASHES / f"{name}.bin"
    assert _outcome(lambda: summarize(path.read_bytes())) == _outcome(lambda: summarize_file(path))


def _deflated_file(dataset: bytes) -> bytes:
    """A Part 10 file of Deflated Explicit VR Little Endian (PS3.5 Annex A.5) around `dataset`."""
    uid = b"1.2.840.10008.1.2.1.99"
    group = (
        element(0x0002, 0x0001, b"OB", b"\x00\x01")
        + element(0x0002, 0x0002, b"UI", b"1.2.840.10008.5.1.4.1.1.7\x00")
        + element(0x0002, 0x0003, b"UI", b"1.2.3.4\x00")
        + element(0x0002, 0x0010, b"UI", uid)
    )
    length = element(0x0002, 0x0000, b"UL", struct.pack("<I", len(group)))
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    return b"\x00" * 128 + b"DICM" + length + group + c.compress(dataset) + c.flush()


def test_summarize_file_of_a_cut_deflated_file_does_not_depend_on_the_cut(tmp_path: Path) -> None:
    """summarize_file() accepted a cut deflate stream or not by where its 64 KiB reads
    ended (fixed in 12da83f).

    256 KiB of incompressible pixel data, the stream cut at two points inside
    the pixel data, before and after 64 KiB of inflated data: the summary stops
    at the pixel data header either way.
    """
    pixels = random.Random(7).randbytes(1 << 18)
    whole = _deflated_file(
        element(0x0010, 0x0020, b"LO", b"ID1 ") + element(0x7FE0, 0x0010, b"OW", pixels)
    )
    outcomes = []
    for cut in (len(whole) // 8, len(whole) // 2):
        path = tmp_path / f"cut{cut}.dcm"
        path.write_bytes(whole[:cut])
        outcomes.append(_outcome(lambda path=path: summarize_file(path)))
    assert outcomes[0] == outcomes[1]


@pytest.mark.parametrize("call", ["scan", "transcode_dataset"])
def test_a_deflate_bomb_is_not_a_memory_error(call: str) -> None:
    """1 MiB of deflate stream that inflates to 1 GiB (a private OB of 0xFFFFFFFE
    bytes, cut short), under a 768 MiB address space: a StorecoreError, not MemoryError.

    storecore.limits: "a limit is a refusal point ... before allocating anything
    in proportion to the input".
    """
    proc = run_python(
        f"""
        import resource, struct, zlib
        from storecore.dataset import scan
        from storecore.errors import StorecoreError
        from storecore.transcode import transcode_dataset
        header = struct.pack("<HH2sHI", 0x0009, 0x1000, b"OB", 0, 0xFFFFFFFE)
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        zeros = bytes(1 << 20)
        stream = c.compress(header) + b"".join(c.compress(zeros) for _ in range(1024)) + c.flush()
        resource.setrlimit(resource.RLIMIT_AS, (768 << 20, 768 << 20))
        deflated = "1.2.840.10008.1.2.1.99"
        try:
            if {call!r} == "scan":
                scan(stream, deflated)
            else:
                transcode_dataset(stream, deflated, "1.2.840.10008.1.2", lambda chunk: None)
        except StorecoreError:
            pass
        """,
        timeout=60,
    )
    _assert_ok(proc)


@pytest.mark.parametrize("target", [IMPLICIT_LE, EXPLICIT_LE, EXPLICIT_BE])
def test_a_source_ae_title_that_is_not_ascii_is_not_a_unicode_error(target: str) -> None:
    """(0002,0016) Source AE Title "AE\\xe9 " (not the default repertoire, PS3.5 6.2):
    transcode_part10 writes a file or raises a StorecoreError."""
    data = (CRASHES / "part10-source-ae-title-not-ascii.bin").read_bytes()
    with contextlib.suppress(StorecoreError):
        transcode_part10(data, target, lambda chunk: None)

"""The SCU's sending path over plain TCP: data sets from the page cache, files that
change between inspection and sending, the kernel's time-outs."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import pydicom
import pytest
from pydicom.uid import generate_uid

import storecore.scu
from storecore.dataset import read_file_meta, summarize_file
from storecore.net.channel import Timeouts
from storecore.scp import StorageSCP
from storecore.scu import StorageSCU, StoreOutcome
from storecore.storage import DirectorySink
from storecore.storage.sink import StoreHandle, StoreRequest

from .conftest import leftovers


def dataset_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    return data[read_file_meta(data).dataset_offset :]


def wait_idle(scp: StorageSCP) -> None:
    for _ in range(200):
        if scp.server.active == 0:
            return
        time.sleep(0.05)
    raise AssertionError("the SCP did not notice the association had ended")


@pytest.fixture
def cts(tmp_path: Path) -> list[Path]:
    """Three CTs, each with its own SOP Instance UID: 39 KB data sets, several PDUs each."""
    source = pydicom.dcmread(pydicom.data.get_testdata_file("CT_small.dcm"))
    paths = []
    for n in range(3):
        source.SOPInstanceUID = source.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        path = tmp_path / f"ct{n}.dcm"
        source.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


@pytest.fixture
def small_pdu_scp(store_dir: Path) -> Iterator[StorageSCP]:
    # 16 KiB PDUs: each data set crosses several P-DATA-TF, so several sendfile calls
    server = StorageSCP(
        DirectorySink(store_dir),
        host="127.0.0.1",
        port=0,
        ae_title="STORECORE",
        max_pdu_length=16384,
    )
    server.start()
    yield server
    server.shutdown(drain_timeout=5)


class _NoMaps:
    """Stands in for the mmap module in storecore.scu: any map is a failure."""

    ACCESS_READ = 1

    @staticmethod
    def mmap(*args: object, **kwargs: object) -> None:
        raise OSError("the file was mapped: the page-cache path was not taken")


def test_files_sent_unchanged_leave_from_the_page_cache(
    small_pdu_scp: StorageSCP, store_dir: Path, cts: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storecore.scu, "mmap", _NoMaps)
    host, port = small_pdu_scp.address
    outcomes = StorageSCU().send(cts, host, port, "STORECORE")
    assert [o.status for o in outcomes] == [0, 0, 0], [o.comment for o in outcomes]
    for o in outcomes:
        assert o.transcode is None
        received = store_dir / f"{o.sop_instance_uid}.dcm"
        assert dataset_bytes(received) == dataset_bytes(o.path)


def _after_first(
    action: Callable[[], object],
) -> tuple[list[StoreOutcome], Callable[[StoreOutcome], None]]:
    """A progress callback that runs `action` once the first outcome is known."""
    seen: list[StoreOutcome] = []

    def progress(outcome: StoreOutcome) -> None:
        seen.append(outcome)
        if len(seen) == 1:
            action()

    return seen, progress


def test_a_file_cut_after_inspection_is_sent_as_it_now_is(
    small_pdu_scp: StorageSCP, store_dir: Path, cts: list[Path]
) -> None:
    """Its length is taken when it is opened: the SCP refuses the short data set (0xC000)
    and the association carries the next file. (One C-STORE at a time, so that the
    file is cut after the first response and before it is read.)"""
    offset = summarize_file(cts[1]).dataset_offset
    cut = lambda: cts[1].write_bytes(cts[1].read_bytes()[: offset + 20000])  # noqa: E731
    seen, progress = _after_first(cut)
    host, port = small_pdu_scp.address
    scu = StorageSCU(async_operations=1)
    first, short, third = scu.send(cts, host, port, "STORECORE", progress=progress)
    assert first.status == 0 and third.status == 0
    assert short.status == 0xC000 and "data ends inside a value" in (short.comment or "")
    assert [o.path for o in seen] == cts
    assert not (store_dir / f"{short.sop_instance_uid}.dcm").exists()


class _ShrinkingWhileSent:
    """Stands in for the os module in storecore.scu: `victim` is 5,000 bytes longer
    when measured than when read (as if cut between the two)."""

    def __init__(self, victim: Path) -> None:
        self.victim = os.stat(victim).st_ino

    def __getattr__(self, name: str) -> object:
        return getattr(os, name)

    def fstat(self, fd: int) -> object:
        st = os.fstat(fd)
        grown = st.st_size + 5000 if st.st_ino == self.victim else st.st_size
        return SimpleNamespace(st_size=grown, st_ino=st.st_ino)


def test_a_file_ending_mid_send_aborts_with_per_file_outcomes(
    small_pdu_scp: StorageSCP, store_dir: Path, cts: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The PDUs announced for the data set cannot be completed: A-ABORT, the file
    not acknowledged, the rest not sent, nothing partial kept by the SCP."""
    monkeypatch.setattr(storecore.scu, "os", _ShrinkingWhileSent(cts[1]))
    host, port = small_pdu_scp.address
    # one at a time: the first is answered before the second is sent
    first, shrunk, third = StorageSCU(async_operations=1).send(cts, host, port, "STORECORE")
    assert first.status == 0
    assert shrunk.status is None and shrunk.comment is not None
    assert shrunk.comment.startswith("not acknowledged: the file ended at byte")
    assert third.status is None and third.comment == "not sent: the association ended"
    wait_idle(small_pdu_scp)
    assert sorted(p.name for p in store_dir.glob("*.dcm")) == [f"{first.sop_instance_uid}.dcm"]
    assert leftovers(store_dir) == []


def test_a_file_cut_before_its_data_set_is_not_sent_and_the_rest_are(
    small_pdu_scp: StorageSCP, store_dir: Path, cts: list[Path]
) -> None:
    _, progress = _after_first(lambda: cts[1].write_bytes(cts[1].read_bytes()[:100]))
    host, port = small_pdu_scp.address
    scu = StorageSCU(async_operations=1)  # the cut comes after the first response
    first, cut, third = scu.send(cts, host, port, "STORECORE", progress=progress)
    assert cut.status is None
    assert cut.comment == "not sent: the file is shorter than when it was inspected"
    assert first.status == 0 and third.status == 0
    assert (store_dir / f"{third.sop_instance_uid}.dcm").exists()


class _StallingSink:
    """A sink that takes longer to begin than the SCU waits for a response."""

    def __init__(self, inner: DirectorySink, seconds: float) -> None:
        self.inner = inner
        self.seconds = seconds

    def begin(self, request: StoreRequest) -> StoreHandle:
        time.sleep(self.seconds)
        return self.inner.begin(request)


@pytest.mark.parametrize("window", [1, 16], ids=["one-at-a-time", "pipelined"])
def test_no_response_within_the_dimse_timeout_aborts(
    store_dir: Path, cts: list[Path], caplog: pytest.LogCaptureFixture, window: int
) -> None:
    server = StorageSCP(
        _StallingSink(DirectorySink(store_dir), 2.0), host="127.0.0.1", port=0, ae_title="STORECORE"
    )
    server.start()
    try:
        host, port = server.address
        scu = StorageSCU(timeouts=Timeouts(acse=5, dimse=0.3, network=5), async_operations=window)
        with caplog.at_level(logging.WARNING, logger="storecore.net.channel"):
            outcomes = scu.send(cts[:2], host, port, "STORECORE")
    finally:
        server.shutdown(drain_timeout=5)
    assert [o.status for o in outcomes] == [None, None]
    assert outcomes[0].comment is not None and "not acknowledged" in outcomes[0].comment
    if window == 1:
        assert outcomes[1].comment == "not sent: the association ended"
    else:  # both were sent before the first response was due: neither answered
        assert outcomes[1].comment is not None and "not acknowledged" in outcomes[1].comment
    assert "no data from the peer for 0 s: aborting" in caplog.text


def test_a_uid_the_command_cannot_carry_is_not_sent_and_the_rest_are(
    small_pdu_scp: StorageSCP, store_dir: Path, cts: list[Path]
) -> None:
    """The next file's command is encoded while the peer stores the current one: one that
    cannot be encoded (a 65-character UID, PS3.5 9.1) fails in its own turn, nothing sent."""
    ds = pydicom.dcmread(cts[1])
    uid = "1." + "2" * 63
    with pytest.warns(UserWarning, match="exceeds the maximum length"):  # pydicom, writing it
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = uid
        ds.save_as(cts[1], enforce_file_format=True)
    host, port = small_pdu_scp.address
    first, bad, third = StorageSCU().send(cts, host, port, "STORECORE")
    assert first.status == 0 and third.status == 0
    assert bad.status is None
    assert bad.comment == f"not sent: (0000,1000): '{uid}' is not a valid UID (PS3.5 Section 9.1)"
    assert (store_dir / f"{third.sop_instance_uid}.dcm").exists()


def test_data_sets_that_shrink_and_grow_are_stored_as_sent(
    small_pdu_scp: StorageSCP, store_dir: Path, tmp_path: Path
) -> None:
    """The SCP's fast path writes each data set over a spare file pre-written to the
    size of the one before (DirectorySink.prepare): what is stored is what was sent,
    whether the next data set is smaller (the zeros cut off) or larger."""
    source = pydicom.dcmread(pydicom.data.get_testdata_file("CT_small.dcm"))
    paths = []
    for n, rows in enumerate((128, 16, 16, 128, 64)):
        ds = source.copy()
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.Rows = ds.Columns = rows
        ds.PixelData = bytes([n + 1]) * (rows * rows * 2)
        path = tmp_path / f"sized{n}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    host, port = small_pdu_scp.address
    outcomes = StorageSCU(async_operations=1).send(paths, host, port, "STORECORE")
    assert [o.status for o in outcomes] == [0] * len(paths), [o.comment for o in outcomes]
    for o in outcomes:
        assert dataset_bytes(store_dir / f"{o.sop_instance_uid}.dcm") == dataset_bytes(o.path)
    wait_idle(small_pdu_scp)
    assert leftovers(store_dir) == []

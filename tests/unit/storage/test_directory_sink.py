"""DirectorySink: one Part 10 file per instance, and the file prepared ahead of its request."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pydicom
import pytest

from storecore.storage import DirectorySink, StoreRequest
from storecore.storage.blobstore import PREWRITE_MAX, cut_back, prewrite

from .helpers import CT, dataset_bytes, make_instance


def _request(data: bytes) -> tuple[StoreRequest, bytes]:
    ds = pydicom.dcmread(io.BytesIO(data))
    request = StoreRequest(
        sop_class_uid=CT,
        sop_instance_uid=ds.SOPInstanceUID,
        transfer_syntax_uid=ds.file_meta.TransferSyntaxUID,
        calling_ae_title="SCU",
        called_ae_title="STORECORE",
        message_id=1,
    )
    from storecore.dataset import read_file_meta

    return request, data[read_file_meta(data).dataset_offset :]


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("prepared", [False, True], ids=["begin", "prepare-then-begin"])
@pytest.mark.parametrize("pieces", [1, 3, 1000])
def test_the_stored_file_holds_the_meta_and_the_dataset_as_received(
    tmp_path: Path, prepared: bool, pieces: int
) -> None:
    sink = DirectorySink(tmp_path)
    request, dataset = _request(make_instance())
    handle = sink.prepare().begin(request) if prepared else sink.begin(request)
    step = max(1, len(dataset) // pieces)
    for start in range(0, len(dataset), step):
        handle.write(memoryview(dataset)[start : start + step])
    assert handle.finish().status == 0
    path = tmp_path / f"{request.sop_instance_uid}.dcm"
    assert _files(tmp_path) == [path.name]
    assert dataset_bytes(path) == dataset
    meta = pydicom.dcmread(path).file_meta
    assert meta.MediaStorageSOPInstanceUID == request.sop_instance_uid
    assert meta.TransferSyntaxUID == request.transfer_syntax_uid
    assert meta.SourceApplicationEntityTitle == "SCU"


def test_a_prepared_file_exists_before_its_request_and_discard_removes_it(
    tmp_path: Path,
) -> None:
    sink = DirectorySink(tmp_path)
    spare = sink.prepare()
    (name,) = _files(tmp_path)
    assert name.startswith(".incoming-")
    spare.discard()
    assert _files(tmp_path) == []


def test_a_prepared_file_meets_an_invalid_uid_refused_and_removed(tmp_path: Path) -> None:
    sink = DirectorySink(tmp_path)
    request, _ = _request(make_instance())
    bad = StoreRequest(**{**_fields(request), "sop_instance_uid": "../../escape"})
    handle = sink.prepare().begin(bad)
    assert handle.finish().status == 0xC000
    assert _files(tmp_path) == []


def test_an_empty_dataset_still_gets_its_meta_then_is_refused(tmp_path: Path) -> None:
    # no fragment at all: the File Meta is written at finish, and the missing
    # SOP Class UID in the (empty) data set answers 0xA900; nothing stays
    sink = DirectorySink(tmp_path)
    request, _ = _request(make_instance())
    handle = sink.prepare().begin(request)
    assert handle.finish().status == 0xA900
    assert _files(tmp_path) == []


def test_an_aborted_instance_leaves_nothing(tmp_path: Path) -> None:
    sink = DirectorySink(tmp_path)
    request, dataset = _request(make_instance())
    handle = sink.prepare().begin(request)
    handle.write(memoryview(dataset)[:100])
    handle.abort()
    assert _files(tmp_path) == []


def _store(sink: DirectorySink, data: bytes) -> Path:
    request, dataset = _request(data)
    handle = sink.prepare().begin(request)
    handle.write(memoryview(dataset))
    assert handle.finish().status == 0
    path = sink.path_for(request.sop_instance_uid)
    assert dataset_bytes(path) == dataset
    return path


@pytest.mark.parametrize("sizes", [(4000, 100), (100, 4000), (4000, 4000), (0, 20000)])
def test_a_file_prepared_after_a_store_is_prewritten_and_cut_back_to_what_came(
    tmp_path: Path, sizes: tuple[int, int]
) -> None:
    # the spare file is pre-written to the last file's size (zeros), then the
    # next data set overwrites it; a smaller one leaves no zeros behind, a
    # larger one runs past the end
    sink = DirectorySink(tmp_path)
    first = _store(sink, make_instance(pixels=b"\x01\x02" * sizes[0]))
    assert sink.expect == first.stat().st_size
    spare = sink.prepare()
    (name,) = [n for n in _files(tmp_path) if n.startswith(".incoming-")]
    assert (tmp_path / name).stat().st_size == first.stat().st_size
    spare.discard()
    second = _store(sink, make_instance(pixels=b"\x03\x04" * sizes[1]))
    assert sink.expect == second.stat().st_size
    assert pydicom.dcmread(second).PixelData == b"\x03\x04" * sizes[1]
    assert not [n for n in _files(tmp_path) if n.startswith(".incoming-")]


def test_a_refused_instance_does_not_change_what_is_prewritten(tmp_path: Path) -> None:
    sink = DirectorySink(tmp_path)
    first = _store(sink, make_instance(pixels=b"\x01\x02" * 3000))
    request, _ = _request(make_instance())
    handle = sink.prepare().begin(request)
    assert handle.finish().status == 0xA900  # nothing came: refused
    assert sink.expect == first.stat().st_size


def test_prewrite_is_capped_and_never_raises(tmp_path: Path) -> None:
    path = tmp_path / "f"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    try:
        assert prewrite(fd, PREWRITE_MAX + 12345) == PREWRITE_MAX
        assert os.lseek(fd, 0, os.SEEK_CUR) == 0
        os.write(fd, b"abc")
        assert cut_back(fd, PREWRITE_MAX) == 3
    finally:
        os.close(fd)
    assert path.read_bytes() == b"abc"
    fd = os.open(path, os.O_RDONLY)  # writes fail (EBADF): nothing pre-written
    try:
        assert prewrite(fd, 4096) == 0
    finally:
        os.close(fd)


def _fields(request: StoreRequest) -> dict[str, object]:
    return {name: getattr(request, name) for name in request.__dataclass_fields__}

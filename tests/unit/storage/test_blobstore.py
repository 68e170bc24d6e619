"""The blob store's per-instance steps, and the index record's copy with its key."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from storecore.errors import StorageError
from storecore.storage import Archive, StoragePolicy, blobstore
from storecore.storage.blobstore import WRITEBACK_STEP, FilesystemStore
from storecore.storage.index import InstanceRecord, stored_as
from storecore.storage.policy import Durability


def _spooled(store: FilesystemStore, data: bytes) -> blobstore.Spool:
    spool = store.spool()
    spool.write(data)
    spool.close()
    return spool


def test_publish_links_into_new_folders_and_names_every_changed_folder(tmp_path: Path) -> None:
    store = FilesystemStore(tmp_path)
    spool = _spooled(store, b"first")
    touched = store.publish(spool, "1.2/1.2.3/1.2.3.4.dcm", "insert", "ab" * 32)
    objects = str(tmp_path / "objects")
    # the spool (renamed entry), and each folder that got a new entry: the new
    # folders' parents and the file's own folder
    assert touched == [
        str(tmp_path / "spool"),
        f"{objects}/1.2",
        objects,
        f"{objects}/1.2/1.2.3",
    ]
    assert (tmp_path / "objects/1.2/1.2.3/1.2.3.4.dcm").read_bytes() == b"first"
    assert os.path.basename(spool.path) == f"pub.insert.{'ab' * 8}.1.2!1.2.3!1.2.3.4.dcm"
    # a second file in the same folder: only that folder and the spool changed
    second = _spooled(store, b"second")
    touched = store.publish(second, "1.2/1.2.3/1.2.3.5.dcm", "insert", "cd" * 32)
    assert touched == [str(tmp_path / "spool"), f"{objects}/1.2/1.2.3"]
    assert store.exists("1.2/1.2.3/1.2.3.5.dcm") and not store.exists("1.2/1.2.3/9.dcm")


def test_publish_refuses_a_key_already_in_the_store(tmp_path: Path) -> None:
    store = FilesystemStore(tmp_path)
    store.publish(_spooled(store, b"one"), "1.2/1.3/1.4.dcm", "insert", "00" * 32)
    with pytest.raises(StorageError, match="exists already"):
        store.publish(_spooled(store, b"two"), "1.2/1.3/1.4.dcm", "insert", "11" * 32)
    assert (tmp_path / "objects/1.2/1.3/1.4.dcm").read_bytes() == b"one"


def test_a_short_write_is_finished(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = FilesystemStore(tmp_path)
    spool = store.spool()
    real = os.write

    def short(fd: int, data: object) -> int:  # what a signal or a nearly full disk does
        if fd == spool.fd:
            return real(fd, memoryview(data).cast("B")[:1000])  # type: ignore[arg-type]
        return real(fd, data)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "write", short)
    data = bytes(range(256)) * 20
    spool.write(memoryview(data))
    spool.close()
    assert spool.size == len(data)
    assert Path(spool.path).read_bytes() == data


def _writebacks(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    calls: list[tuple[int, int]] = []

    def record(fd: int, offset: int, length: int, flags: int) -> int:
        calls.append((offset, length))
        return 0

    monkeypatch.setattr(blobstore, "_sync_file_range", record)
    return calls


@pytest.mark.parametrize("durability", [Durability.FSYNC, Durability.BACKGROUND])
def test_early_writeback_only_where_the_answer_waits_for_the_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, durability: Durability
) -> None:
    calls = _writebacks(monkeypatch)
    with Archive(tmp_path, policy=StoragePolicy(durability=durability)) as archive:
        spool = archive.store.spool()
        chunk = bytes(100 << 10)
        for _ in range(6):
            spool.write(chunk)
        spool.discard()
    if durability is Durability.FSYNC:
        # started every WRITEBACK_STEP bytes, each range once
        assert calls == [(0, 300 << 10), (300 << 10, 300 << 10)]
        assert all(length >= WRITEBACK_STEP for _, length in calls)
    else:
        assert calls == []


def test_stored_as_is_the_record_with_its_key_and_version() -> None:
    record = InstanceRecord(
        sop_instance_uid="1.2.3",
        sop_class_uid="1.2.840.10008.5.1.4.1.1.2",
        blob_key="",
        size=10,
        digest="blake3:aa",
        received_digest="blake3:bb",
        received_transfer_syntax="1.2.840.10008.1.2.1",
        stored_transfer_syntax="1.2.840.10008.1.2.4.80",
        calling_ae_title="A",
        called_ae_title="B",
        received_at=12.5,
        transcode={"path": "NEW_UID"},
        findings=[{"status": 0xB000}],
        synced=False,
        patient_id="P",
        study_instance_uid="1.2",
        series_instance_uid="1.2.4",
        series_number=3,
        instance_number=7,
        original_sop_instance_uid="1.2.9",
        pk=4,
    )
    assert stored_as(record, "k/1.dcm") == dataclasses.replace(record, blob_key="k/1.dcm")
    assert stored_as(record, "k/2.dcm", 3) == dataclasses.replace(
        record, blob_key="k/2.dcm", version=3
    )

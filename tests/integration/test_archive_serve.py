"""The archive over the network: `storecore serve` with real peers, kill -9, a full disk, races."""

from __future__ import annotations

import io
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import FileMetaDataset
from pydicom.uid import generate_uid

from storecore.dataset import read_file_meta
from storecore.scp import StorageSCP
from storecore.scu import StorageSCU
from storecore.storage import Archive, DuplicatePolicy, StoragePolicy

from .conftest import STORESCU_PROPOSE as _PROPOSE
from .conftest import corpus_files, dcmtk, dcmtk_env, free_port

CLI = [sys.executable, "-m", "storecore.cli"]
CT = "1.2.840.10008.5.1.4.1.1.2"


def _config(tmp_path: Path, **storage: object) -> Path:
    lines = ["[storage]", "min_free_bytes = 0"]
    lines += [f"{k} = {v!r}".replace("'", '"') for k, v in storage.items()]
    path = tmp_path / "storecore.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


@contextmanager
def serve(storage: Path, config: Path, *extra: str) -> Iterator[tuple[int, subprocess.Popen[str]]]:
    """`storecore serve` in a subprocess; yields its port and the process."""
    port = free_port()
    proc = subprocess.Popen(
        [
            *CLI,
            "serve",
            "--config",
            str(config),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--storage",
            str(storage),
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "listening" in line, (line, proc.stderr.read() if proc.stderr else "")
        yield port, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.communicate(timeout=60)


def _instances(folder: Path, n: int, size: int = 4096, study: str | None = None) -> list[Path]:
    """`n` CT instances of about `size` bytes, Explicit VR LE, in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    study = study or generate_uid()
    series = generate_uid()
    paths = []
    for i in range(n):
        ds = pydicom.Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.1"
        ds.file_meta.MediaStorageSOPClassUID = CT
        ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.SOPClassUID = CT
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
        ds.PatientID, ds.PatientName, ds.Modality = "P1", "Test^Kill", "CT"
        ds.InstanceNumber = i + 1
        columns = min(size // 2, 512)
        ds.Rows, ds.Columns = max(size // 2 // columns, 1), columns
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.PixelData = os.urandom(ds.Rows * ds.Columns * 2)
        path = folder / f"{i:05d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def _dataset(path: Path) -> tuple[str, bytes]:
    data = path.read_bytes()
    meta = read_file_meta(data)
    return meta.media_storage_sop_instance_uid or "", data[meta.dataset_offset :]


def _storescu(port: int, aec: str, path: Path, ts: str) -> subprocess.CompletedProcess[str]:
    # -R and the file's own syntax first: dcmtk sends the file without conversion.
    # One file per run: storescu -R stops at the first file it cannot read.
    return subprocess.run(
        [dcmtk("storescu"), "-R", _PROPOSE[ts], "-aec", aec, "127.0.0.1", str(port), str(path)],
        env=dcmtk_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_dcmtk_storescu_into_serve_keeps_what_was_sent(tmp_path: Path) -> None:
    """Every pydicom and pydicom-data file, sent by dcmtk to dcmtk (bit-preserving) and to us.

    What dcmtk's storescp writes with +B (bit-preserving) is what dcmtk put on
    the wire: after each file, the archive must hold exactly those dataset
    bytes, and its index the file's keys. Many of these files share a SOP
    Instance UID, so the archive overwrites, as dcmtk's storescp does.
    """
    import data_store

    files = corpus_files() + sorted((Path(data_store.__file__).parent / "data").glob("*.dcm"))
    files = [f for f in files if _uid(f) and _ts(f) in _PROPOSE]
    reference = tmp_path / "dcmtk"
    reference.mkdir()
    ref_port = free_port()
    ref = subprocess.Popen(
        [dcmtk("storescp"), "+xa", "+B", "-od", str(reference), "-aet", "REF", str(ref_port)],
        env=dcmtk_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    storage = tmp_path / "archive"
    compared: set[str] = set()
    try:
        time.sleep(0.3)
        with serve(storage, _config(tmp_path, duplicates="overwrite")) as (port, proc):
            for f in files:
                uid = _uid(f)
                for old in reference.glob(f"*{uid}*"):
                    old.unlink()
                _storescu(ref_port, "REF", f, _ts(f))
                ours = _storescu(port, "STORECORE", f, _ts(f))
                sent = list(reference.glob(f"*{uid}*"))
                if not sent:  # dcmtk could not send it to dcmtk either
                    continue
                assert ours.returncode == 0, (f.name, ours.stderr)
                with sqlite3.connect(f"file:{storage / 'index.sqlite'}?mode=ro", uri=True) as db:
                    key, size, sop_class, study = db.execute(
                        "SELECT blob_key, size, sop_class_uid, study_instance_uid "
                        "FROM instances WHERE sop_instance_uid = ?",
                        (uid,),
                    ).fetchone()
                path = storage / "objects" / key
                assert _dataset(path)[1] == _dataset(sent[0])[1], f.name
                ds = pydicom.dcmread(path, stop_before_pixels=True)
                assert (sop_class, study) == (ds.SOPClassUID, ds.get("StudyInstanceUID")), f.name
                assert size == path.stat().st_size
                compared.add(f.name)
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=60)
    finally:
        ref.terminate()
        ref.wait(30)
    assert proc.returncode == 0, err
    assert "stopped" in out
    assert len(compared) > 100, len(compared)
    with Archive(storage, policy=StoragePolicy(min_free_bytes=0)) as archive:
        assert not archive.recovery
        assert archive.verify().ok
        assert list((storage / "spool").iterdir()) == []


_UIDS: dict[Path, str] = {}


def _ts(path: Path) -> str:
    try:
        return read_file_meta(path.read_bytes()).transfer_syntax_uid or ""
    except Exception:
        return ""


def _uid(path: Path) -> str:
    if path not in _UIDS:
        try:
            _UIDS[path] = read_file_meta(path.read_bytes()).media_storage_sop_instance_uid or ""
        except Exception:
            _UIDS[path] = ""
    return _UIDS[path]


def test_kill_9_during_an_8_association_ingest_loses_nothing_acknowledged(tmp_path: Path) -> None:
    files = _instances(tmp_path / "corpus", 3000)
    storage = tmp_path / "archive"
    outcomes: list = []
    with serve(storage, _config(tmp_path)) as (port, proc):
        sender = threading.Thread(
            target=lambda: outcomes.extend(
                StorageSCU().send(files, "127.0.0.1", port, "STORECORE", associations=8)
            )
        )
        sender.start()
        index = storage / "index.sqlite"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # kill once a few hundred are in
            try:
                with sqlite3.connect(f"file:{index}?mode=ro", uri=True) as db:
                    if db.execute("SELECT count(*) FROM instances").fetchone()[0] >= 300:
                        break
            except sqlite3.Error:
                pass
            time.sleep(0.01)
        proc.kill()
        proc.wait()
        sender.join(120)
    acknowledged = [o for o in outcomes if o.status == 0]
    assert 100 <= len(acknowledged) < len(files), "the kill must land mid-ingest"
    with Archive(storage, policy=StoragePolicy(min_free_bytes=0)) as archive:
        for o in acknowledged:
            row = archive.instance(o.sop_instance_uid)
            assert row is not None, o.sop_instance_uid
            assert _dataset(archive.store.path(row.blob_key))[1] == _dataset(Path(o.path))[1]
        report = archive.verify()
        assert report.ok, report
        assert list((storage / "spool").iterdir()) == []
        print(
            f"\nkill -9 after {len(acknowledged)} acknowledged of {len(files)}: "
            f"{sum(1 for _ in archive.instances())} indexed, recovery {archive.recovery}"
        )


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 6 MiB tmpfs: a real full disk (needs root, which CI has)."""
    mount = tmp_path / "small"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.fail("the disk-full test mounts a tmpfs: run as root (CI does)")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_disk_full_answers_a700_and_corrupts_nothing(tmp_path: Path, small_fs: Path) -> None:
    files = _instances(tmp_path / "corpus", 24, size=512 * 1024)
    policy = StoragePolicy(min_free_bytes=0, reservation_bytes=0)
    with Archive(small_fs / "archive", policy=policy) as archive:
        scp = StorageSCP(archive.sink(), host="127.0.0.1", port=0, ae_title="STORECORE")
        with scp:
            outcomes = StorageSCU().send(files, "127.0.0.1", scp.address[1], "STORECORE")
        statuses = {o.status for o in outcomes}
        assert statuses == {0x0000, 0xA700}, [(o.status, o.comment) for o in outcomes]
        ok = {o.sop_instance_uid for o in outcomes if o.status == 0}
        assert {r.sop_instance_uid for r in archive.instances()} == ok
        assert archive.verify().ok
        assert list((small_fs / "archive" / "spool").iterdir()) == []
        full = [o.comment for o in outcomes if o.status == 0xA700]
        assert all(c and ("space" in c or "disk full" in c) for c in full), full
        # space freed by deleting one instance lets the next store succeed
        archive.delete(next(iter(ok)))
        archive.delete(sorted(ok)[-1])
    with Archive(small_fs / "archive", policy=policy) as archive:
        assert archive.store_file(files[-1]).status == 0
        assert archive.verify().ok


def test_two_associations_racing_on_one_uid(tmp_path: Path) -> None:
    """Pairs of different instances with one SOP Instance UID, sent at once on two associations."""
    a_files, b_files = [], []
    for n in range(20):
        uid = generate_uid()
        for folder, files in (("a", a_files), ("b", b_files)):
            ds = pydicom.dcmread(io.BytesIO(_instances(tmp_path / "t" / folder, 1)[0].read_bytes()))
            ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = uid
            path = tmp_path / folder / f"{n}.dcm"
            path.parent.mkdir(exist_ok=True)
            ds.save_as(path, enforce_file_format=True)
            files.append(path)
    policy = StoragePolicy(min_free_bytes=0, duplicates=DuplicatePolicy.REJECT)
    with Archive(tmp_path / "archive", policy=policy) as archive:
        scp = StorageSCP(archive.sink(), host="127.0.0.1", port=0, ae_title="STORECORE")
        results: dict[str, list] = {}
        with scp:
            port = scp.address[1]
            threads = [
                threading.Thread(
                    target=lambda k=k, f=f: results.__setitem__(
                        k, StorageSCU().send(f, "127.0.0.1", port, "STORECORE")
                    )
                )
                for k, f in (("a", a_files), ("b", b_files))
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        for n in range(20):
            pair = sorted([results["a"][n].status, results["b"][n].status])
            assert pair == [0x0000, 0x0111], pair
        assert sum(1 for _ in archive.instances()) == 20
        assert archive.verify().ok


def test_serve_config_errors_and_archive_commands(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[storage]\nduplicate = 'keep'\n")
    run = subprocess.run([*CLI, "serve", "--config", str(bad)], capture_output=True, text=True)
    assert run.returncode == 2
    assert "unknown key storage.duplicate" in run.stderr
    bad.write_text("[storage]\ndurability = 'sometimes'\n")
    run = subprocess.run([*CLI, "serve", "--config", str(bad)], capture_output=True, text=True)
    assert run.returncode == 2
    assert "storage.durability = 'sometimes': choose fsync or background" in run.stderr

    files = _instances(tmp_path / "corpus", 3, study="1.2.826.0.1.3680043.8.498.1")
    storage = tmp_path / "archive"
    archive = [*CLI, "archive"]
    imp = subprocess.run(
        [*archive, "import", "--storage", str(storage), *map(str, files)],
        capture_output=True,
        text=True,
    )
    assert imp.returncode == 0, imp.stderr
    assert imp.stdout.count(": 0x0000") == 3
    ls = subprocess.run([*archive, "ls", "--storage", str(storage)], capture_output=True, text=True)
    assert "1.2.826.0.1.3680043.8.498.1  P1" in ls.stdout and "3 instances" in ls.stdout
    ok = subprocess.run(
        [*archive, "verify", "--storage", str(storage)], capture_output=True, text=True
    )
    assert ok.returncode == 0 and "3 instances checked: 0 missing" in ok.stdout
    next((storage / "objects").rglob("*.dcm")).unlink()
    broken = subprocess.run(
        [*archive, "verify", "--storage", str(storage)], capture_output=True, text=True
    )
    assert broken.returncode == 1 and "1 missing" in broken.stdout
    fixed = subprocess.run(
        [*archive, "verify", "--repair", "--storage", str(storage)], capture_output=True, text=True
    )
    assert fixed.returncode == 0 and "1 repaired" in fixed.stdout
    export = subprocess.run(
        [
            *archive,
            "export",
            "--storage",
            str(storage),
            "1.2.826.0.1.3680043.8.498.1",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
    )
    assert export.returncode == 0 and "2 files written" in export.stdout
    missing = subprocess.run(
        [*archive, "ls", "--storage", str(tmp_path / "nowhere")], capture_output=True, text=True
    )
    assert missing.returncode == 2 and "not an archive" in missing.stderr

#!/usr/bin/env python3
"""The archive ingest's CPU per instance, without the network (issues 4 and 8).

    PYTHONPATH=src python benchmarks/ingest_cpu.py {ct|small} {fsync|background} N
        [--corpus DIR] [--writeback] [--profile]

Drives :class:`~storecore.storage.ingest.ArchiveSink` as the Storage SCP does
(``begin``, the dataset in 16 KiB ``write`` calls, ``finish``) over N
instances held in memory: ``ct`` the Part 10 files of `--corpus` (the
network corpus's 0.5 MB CTs) or, without it, generated 512x512 CTs; ``small``
generated 4 KB Secondary Capture instances. Prints the wall time, the
thread CPU time per instance (the association's thread: ingest, group commit
as its own leader, index) and the process CPU time including the archive's
close (the background durability's last flush), with the load average.
``--writeback`` forces early writeback (sync_file_range) whatever the
durability; ``--profile`` adds cProfile's top 25 by internal time.

For an A/B of a change, run it with ``PYTHONPATH`` pointing at a copy of the
old ``src`` and at the new one alternately, in one session. Give each run a
``TMPDIR`` of its own made at the filesystem's top (``mkdir /scratch-N``): the
archive a run deletes at its end leaves thousands of inodes that ext4 without
a journal (this machine's root) checks on every create for the next 1-6
minutes (60 s, or 360 while the inode table is unwritten; ``_netpeers.settle``
says more, and ``sync`` then dropping the page cache as root ends it at
once), which made a second run in the same folder twice as slow as the
first; a new top-level folder lands in another block group.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import tempfile
import time

import pydicom
from pydicom.dataset import FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from storecore.dataset.part10 import read_file_meta
from storecore.storage import Archive, StoragePolicy
from storecore.storage.policy import Durability
from storecore.storage.sink import StoreRequest

CHUNK = 16 * 1024  # the PDVs of a 16 KiB PDU (dcmtk's default Maximum Length)
CT = "1.2.840.10008.5.1.4.1.1.2"
SC = "1.2.840.10008.5.1.4.1.1.7"


def generated(i: int, study: str, series: str, *, size: int) -> bytes:
    """A conformant-enough image of `size` x `size` 16-bit pixels."""
    ds = pydicom.Dataset()
    uid = generate_uid()
    sop_class = pydicom.uid.UID(CT if size > 64 else SC)
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.file_meta.MediaStorageSOPInstanceUID = uid
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, uid
    ds.Modality, ds.PatientName, ds.PatientID = "CT" if sop_class == CT else "OT", "Doe^J", "P1"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
    ds.StudyDate, ds.SeriesNumber, ds.InstanceNumber = "20260101", 1, i + 1
    ds.Rows = ds.Columns = size
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    ds.PixelData = bytes(size * size * 2)
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kind", choices=("ct", "small"))
    parser.add_argument("durability", choices=("fsync", "background"))
    parser.add_argument("n", type=int)
    parser.add_argument("--corpus", help="a folder of CT Part 10 files (ct)")
    parser.add_argument("--writeback", action="store_true", help="force early writeback")
    parser.add_argument("--profile", action="store_true", help="cProfile's top 25")
    args = parser.parse_args()

    if args.kind == "ct" and args.corpus:
        names = sorted(os.listdir(args.corpus))[: args.n]
        blobs = []
        for name in names:
            with open(os.path.join(args.corpus, name), "rb") as f:
                blobs.append(f.read())
    else:
        study, series = generate_uid(), generate_uid()
        size = 512 if args.kind == "ct" else 40
        blobs = [generated(i, study, series, size=size) for i in range(args.n)]
    items = []
    for blob in blobs:
        meta = read_file_meta(blob)
        assert meta.transfer_syntax_uid is not None
        request = StoreRequest(
            sop_class_uid=meta.media_storage_sop_class_uid or "",
            sop_instance_uid=meta.media_storage_sop_instance_uid or "",
            transfer_syntax_uid=meta.transfer_syntax_uid,
            calling_ae_title="BENCH",
            called_ae_title="STORECORE",
            message_id=1,
        )
        view = memoryview(blob)[meta.dataset_offset :]
        items.append((request, [view[i : i + CHUNK] for i in range(0, len(view), CHUNK)]))

    n = len(items)
    policy = StoragePolicy(durability=Durability(args.durability))
    with tempfile.TemporaryDirectory() as tmp:
        process = time.process_time()
        with Archive(tmp, policy=policy) as archive:
            if args.writeback:
                archive.store.writeback = True  # type: ignore[attr-defined]
            sink = archive.sink()
            profile = cProfile.Profile() if args.profile else None
            start, cpu = time.perf_counter(), time.thread_time()
            if profile is not None:
                profile.enable()
            for request, chunks in items:
                handle = sink.begin(request)
                for chunk in chunks:
                    handle.write(chunk)
                result = handle.finish()
                if result.status != 0:
                    raise SystemExit(f"0x{result.status:04X} {result.comment}")
            if profile is not None:
                profile.disable()
            wall, cpu = time.perf_counter() - start, time.thread_time() - cpu
        process = time.process_time() - process
    print(
        f"{args.kind} {args.durability} n={n}: wall {wall / n * 1e6:.0f} us, "
        f"thread CPU {cpu / n * 1e6:.0f} us, process CPU with the close "
        f"{process / n * 1e6:.0f} us per instance; load {os.getloadavg()[0]:.2f}"
    )
    if profile is not None:
        pstats.Stats(profile).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()

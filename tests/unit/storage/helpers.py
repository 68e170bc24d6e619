"""Instances made on the fly for the archive tests (pydicom writes them; storecore reads)."""

from __future__ import annotations

import io
from pathlib import Path

import pydicom
from pydicom.dataset import FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

CT = "1.2.840.10008.5.1.4.1.1.2"


def make_instance(
    *,
    sop_instance_uid: str | None = None,
    study: str = "1.2.3.4",
    series: str = "1.2.3.4.5",
    patient_id: str = "PID-1",
    name: str = "Doe^John",
    ts: str = ExplicitVRLittleEndian,
    pixels: bytes = b"\x00\x01" * 64,
    comment: str = "",
) -> bytes:
    """A small CT instance as a Part 10 file."""
    ds = pydicom.Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ts
    ds.file_meta.MediaStorageSOPClassUID = CT
    ds.file_meta.MediaStorageSOPInstanceUID = sop_instance_uid or generate_uid()
    ds.SOPClassUID = CT
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = study
    ds.SeriesInstanceUID = series
    ds.StudyDate = "20260101"
    ds.Modality = "CT"
    ds.PatientName = name
    ds.PatientID = patient_id
    ds.SeriesNumber = 3
    ds.InstanceNumber = 7
    if comment:
        ds.ImageComments = comment
    ds.Rows, ds.Columns = 8, 8
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
    ds.PixelRepresentation = 0
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.PixelData = pixels
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True, implicit_vr=ts == "1.2.840.10008.1.2")
    return out.getvalue()


def write_instance(folder: Path, **kwargs: object) -> Path:
    data = make_instance(**kwargs)  # type: ignore[arg-type]
    uid = pydicom.dcmread(io.BytesIO(data)).SOPInstanceUID
    path = folder / f"{uid}.dcm"
    folder.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def dataset_bytes(path: Path) -> bytes:
    """The dataset bytes of a Part 10 file (after its File Meta)."""
    from storecore.dataset import read_file_meta

    data = path.read_bytes()
    return data[read_file_meta(data).dataset_offset :]

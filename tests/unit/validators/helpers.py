"""Instances for the validator tests: a CT Image that conforms, changed one attribute at a time.

pydicom writes them (it is the oracle here, never on the validated path).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pydicom
from pydicom.dataset import FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

CT = "1.2.840.10008.5.1.4.1.1.2"
#: DELETE as a value removes the attribute
DELETE = object()


def conformant_ct(**changes: Any) -> pydicom.Dataset:
    """A CT Image (PS3.3 A.3) with every Type 1 and 2 attribute of its mandatory modules."""
    ds = pydicom.Dataset()
    uid = generate_uid()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = CT
    ds.file_meta.MediaStorageSOPInstanceUID = uid
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.SOPClassUID = CT
    ds.SOPInstanceUID = uid
    ds.StudyDate, ds.StudyTime = "20260101", "101010"
    ds.AccessionNumber = "A1"
    ds.Modality = "CT"
    ds.Manufacturer = "storecore"
    ds.ReferringPhysicianName = ""
    ds.PatientName = "Doe^Jane"
    ds.PatientID = "PID-1"
    ds.PatientBirthDate = ""
    ds.PatientSex = "F"
    ds.SliceThickness = "1.0"
    ds.KVP = "120"
    ds.PatientPosition = "HFS"
    ds.StudyInstanceUID = "1.2.826.0.1.3680043.8.498.1"
    ds.SeriesInstanceUID = "1.2.826.0.1.3680043.8.498.1.1"
    ds.StudyID = "1"
    ds.SeriesNumber = 1
    ds.AcquisitionNumber = 1
    ds.InstanceNumber = 1
    ds.ImagePositionPatient = [0, 0, 0]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.FrameOfReferenceUID = "1.2.826.0.1.3680043.8.498.1.2"
    ds.PositionReferenceIndicator = ""
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = 8, 8
    ds.PixelSpacing = [0.5, 0.5]
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
    ds.PixelRepresentation = 0
    ds.RescaleIntercept, ds.RescaleSlope = "-1024", "1"
    ds.PixelData = b"\x00\x01" * 64
    for keyword, value in changes.items():
        if value is DELETE:
            delattr(ds, keyword)
        else:
            setattr(ds, keyword, value)
    return ds


def to_bytes(ds: pydicom.Dataset, *, implicit: bool = False) -> bytes:
    out = io.BytesIO()
    if implicit:
        ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2"
    ds.save_as(out, enforce_file_format=True, implicit_vr=implicit)
    return out.getvalue()


def write(folder: Path, ds: pydicom.Dataset, name: str | None = None, **kw: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (name or f"{ds.SOPInstanceUID}.dcm")
    path.write_bytes(to_bytes(ds, **kw))
    return path

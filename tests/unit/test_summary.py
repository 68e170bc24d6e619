"""The summary: keys, character sets, pixel data location, chunked file reading."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import FileMetaDataset
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, generate_uid

from storecore.dataset import summarize, summarize_file
from storecore.errors import DatasetError


def _ct(
    ts: str = ExplicitVRLittleEndian,
    *,
    charset: str | None = None,
    name: str = "Doe^John",
    big_private: int = 0,
) -> bytes:
    ds = pydicom.Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ts
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    if charset:
        ds.SpecificCharacterSet = charset
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = "CT"
    ds.PatientName = name
    ds.PatientID = "PID-1"
    if big_private:
        ds.add_new(0x00290010, "LO", "ACME")
        ds.add_new(0x00291001, "OB", bytes(big_private))
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.NumberOfFrames = "2"
    ds.Rows, ds.Columns = 4, 3
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 1
    ds.PixelData = np.arange(24, dtype=">i2" if ts == ExplicitVRBigEndian else "<i2").tobytes()
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


@pytest.mark.parametrize("ts", [ExplicitVRLittleEndian, ExplicitVRBigEndian])
def test_keys(ts: str) -> None:
    data = _ct(ts)
    ds = pydicom.dcmread(io.BytesIO(data))
    s = summarize(data)
    assert s.sop_instance_uid == ds.SOPInstanceUID
    assert s.study_instance_uid == ds.StudyInstanceUID
    assert (s.rows, s.columns, s.bits_allocated, s.bits_stored) == (4, 3, 16, 12)
    assert (s.pixel_representation, s.samples_per_pixel, s.number_of_frames) == (1, 1, 2)
    assert s.patient_name == "Doe^John" and s.patient_id == "PID-1"
    assert s.transfer_syntax_uid == ts
    assert data[s.pixel_data_offset : s.pixel_data_offset + s.pixel_data_length] == ds.PixelData


@pytest.mark.parametrize(
    ("charset", "name"),
    [("ISO_IR 100", "Müller^Jürgen"), ("ISO_IR 192", "山田^太郎"), ("ISO_IR 144", "Иванов^Иван")],
)
def test_patient_name_decoded_with_the_character_set(charset: str, name: str) -> None:
    s = summarize(_ct(charset=charset, name=name))
    assert s.patient_name == name and s.specific_character_set == (charset,)


def test_iso_2022_goes_through_pydicom() -> None:
    name = "Yamada^Tarou=山田^太郎=やまだ^たろう"
    s = summarize(_ct(charset="\\ISO 2022 IR 87", name=name))
    assert s.patient_name == name


def test_file_read_in_chunks_stops_at_pixel_data(tmp_path: Path) -> None:
    # a 200 KB private element before the pixel data: more than one 64 KiB read
    data = _ct(big_private=200_000)
    path = tmp_path / "big.dcm"
    path.write_bytes(data)
    assert summarize_file(path) == summarize(data)


def test_not_dicom(tmp_path: Path) -> None:
    path = tmp_path / "x.dcm"
    path.write_bytes(b"hello" * 100)
    with pytest.raises(DatasetError, match="not a DICOM Part 10 file"):
        summarize_file(path)

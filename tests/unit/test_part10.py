"""Part 10 files: preamble, File Meta Information, writing without re-encoding (PS3.10 7.1)."""

from __future__ import annotations

import io
import struct

import pydicom
import pytest

from storecore.dataset import (
    IMPLEMENTATION_CLASS_UID,
    IMPLEMENTATION_VERSION_NAME,
    encode_file_meta,
    read_file_meta,
    summarize,
    write_part10,
)
from storecore.errors import DatasetError

CT = "1.2.840.10008.5.1.4.1.1.2"
EXPLICIT = "1.2.840.10008.1.2.1"
IMPLICIT = "1.2.840.10008.1.2"


def _dataset() -> bytes:
    """A tiny implicit VR dataset: SOP Class/Instance UID, Modality."""

    def im(g: int, e: int, v: bytes) -> bytes:
        return struct.pack("<HHI", g, e, len(v)) + v

    return (
        im(0x0008, 0x0016, CT.encode() + b"\x00")
        + im(0x0008, 0x0018, b"1.2.3.4\x00")
        + im(0x0008, 0x0060, b"CT")
    )


def test_encode_then_read_round_trip() -> None:
    header = encode_file_meta(CT, "1.2.3.4", IMPLICIT, source_ae_title="MODALITY")
    meta = read_file_meta(header + _dataset())
    assert meta.transfer_syntax_uid == IMPLICIT
    assert meta.media_storage_sop_class_uid == CT
    assert meta.media_storage_sop_instance_uid == "1.2.3.4"
    assert meta.implementation_class_uid == IMPLEMENTATION_CLASS_UID
    assert meta.implementation_version_name == IMPLEMENTATION_VERSION_NAME
    assert meta.source_application_entity_title == "MODALITY"
    assert meta.dataset_offset == len(header)
    assert meta.has_preamble


def test_pydicom_reads_what_we_write_and_the_dataset_bytes_are_untouched() -> None:
    out = io.BytesIO()
    n = write_part10(
        out,
        [_dataset()[:10], _dataset()[10:]],
        sop_class_uid=CT,
        sop_instance_uid="1.2.3.4",
        transfer_syntax_uid=IMPLICIT,
    )
    data = out.getvalue()
    assert n == len(data)
    assert data.endswith(_dataset())
    ds = pydicom.dcmread(io.BytesIO(data))
    assert ds.file_meta.TransferSyntaxUID == IMPLICIT
    assert ds.file_meta.MediaStorageSOPInstanceUID == "1.2.3.4"
    assert ds.Modality == "CT"
    # group length matches what pydicom computes
    assert ds.file_meta.FileMetaInformationGroupLength == len(data) - len(_dataset()) - 132 - 12


def test_group_length_mismatch_is_strict() -> None:
    header = bytearray(encode_file_meta(CT, "1.2.3.4", IMPLICIT))
    struct.pack_into("<I", header, 132 + 8, 10)  # wrong (0002,0000)
    with pytest.raises(DatasetError, match="Group Length"):
        read_file_meta(bytes(header) + _dataset())
    meta = read_file_meta(bytes(header) + _dataset(), lenient_meta_group_length=True)
    assert meta.dataset_offset == len(header)


def test_no_preamble_is_a_named_leniency() -> None:
    header = encode_file_meta(CT, "1.2.3.4", IMPLICIT)[132:]
    with pytest.raises(DatasetError, match="not a DICOM Part 10 file"):
        read_file_meta(header + _dataset())
    meta = read_file_meta(header + _dataset(), lenient_no_preamble=True)
    assert not meta.has_preamble and meta.dataset_offset == len(header)


def test_missing_transfer_syntax() -> None:
    body = struct.pack("<HH2sH", 2, 2, b"UI", 4) + b"1.2\x00"
    data = b"\x00" * 128 + b"DICM" + body + _dataset()
    with pytest.raises(DatasetError, match="no Transfer Syntax UID") as err:
        read_file_meta(data)
    assert err.value.path == "(0002,0010)"


@pytest.mark.parametrize("uid", ["", "1.02.3", "1..2", "x.1", "1." + "2" * 70])
def test_invalid_uids_are_refused(uid: str) -> None:
    with pytest.raises(DatasetError, match="not a valid UID"):
        encode_file_meta(CT, uid, IMPLICIT)


def test_summarize_a_bare_dataset() -> None:
    s = summarize(_dataset(), IMPLICIT)
    assert (s.sop_class_uid, s.sop_instance_uid, s.modality) == (CT, "1.2.3.4", "CT")
    assert s.pixel_data_tag is None and s.rows is None and s.specific_character_set == ()

"""Seed corpora of the atheris harnesses, built at run time (never committed).

The seeds are pydicom's own test files (``pydicom/data/test_files``), truncated
to their first 4 KiB, plus a few small datasets built here with pydicom for
what those files lack (defined-length items, nested and private sequences, UN
of undefined length, encapsulated pixel data). Nothing here imports storecore:
the seeds must not depend on the code under test.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

SEED_LIMIT = 4096
_PART10_MAGIC_AT = 128

#: (implicit VR, little endian) of the three native encodings.
ENCODINGS = ((True, True), (False, True), (False, False))


def pydicom_test_files() -> list[Path]:
    """pydicom's bundled test files (``*.dcm``, recursively), sorted by name."""
    import pydicom.data

    root = Path(pydicom.data.__file__).parent / "test_files"
    return sorted(p for p in root.rglob("*.dcm") if p.is_file())


def _dataset_offset(head: bytes) -> int:
    """Offset of the dataset after the File Meta Information, read with pydicom."""
    from pydicom.filebase import DicomBytesIO
    from pydicom.filereader import _read_file_meta_info, read_preamble

    if head[_PART10_MAGIC_AT : _PART10_MAGIC_AT + 4] != b"DICM":
        return 0  # a bare dataset (the *NoMeta test files)
    fp = DicomBytesIO(head)
    try:
        read_preamble(fp, False)
        _read_file_meta_info(fp)
    except Exception:  # a truncated or broken meta header: seed the whole head
        return 0
    return fp.tell()


def _synthetic_datasets() -> Iterator[tuple[bool, bool, bytes]]:
    """Small datasets with the structures pydicom's test files lack, in each encoding."""
    from pydicom.dataset import Dataset
    from pydicom.encaps import encapsulate
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_dataset

    def nested() -> Dataset:
        inner = Dataset()
        inner.CodeValue = "121"
        inner.CodingSchemeDesignator = "DCM"
        inner.is_undefined_length_sequence_item = True
        item = Dataset()
        item.ReferencedSOPInstanceUID = "1.2.3.4"
        item.ConceptNameCodeSequence = [inner, Dataset()]
        ds = Dataset()
        ds.PatientName = "Doe^John"
        ds.Rows = 2
        ds.Columns = 2
        ds.ReferencedImageSequence = [item, Dataset()]
        ds["ReferencedImageSequence"].is_undefined_length = True
        block = ds.private_block(0x0009, "STORECORE FUZZ", create=True)
        block.add_new(0x01, "LO", "private")
        block.add_new(0x02, "US", [1, 2, 3])
        block.add_new(0x03, "OB", b"\x01\x02\x03\x04")
        ds.add_new(0x00280100, "US", 16)
        ds.add_new(0x00280103, "US", 0)
        ds.add_new(0x7FE00010, "OW", bytes(range(8)))
        return ds

    def encapsulated() -> Dataset:
        ds = Dataset()
        ds.SOPInstanceUID = "1.2.3"
        ds.add_new(0x00280100, "US", 8)
        ds.add_new(0x7FE00010, "OB", encapsulate([b"\xff\xd8ab", b"cd\xff\xd9"]))
        ds["PixelData"].is_undefined_length = True
        return ds

    for build in (nested, encapsulated):
        for implicit, little in ENCODINGS:
            if build is encapsulated and not little:
                continue  # pydicom refuses big endian encapsulation (non-conformant)
            fp = DicomBytesIO()
            fp.is_implicit_VR = implicit
            fp.is_little_endian = little
            write_dataset(fp, build())
            yield implicit, little, fp.getvalue()
    # UN of undefined length: an Implicit VR Little Endian sequence inside (PS3.5 6.2.2)
    item = b"\x08\x00\x00\x01\x02\x00\x00\x0012"
    un = (
        b"\x09\x00\x10\x00LO\x06\x00FUZZ  "
        + b"\x09\x00\x01\x10UN\x00\x00\xff\xff\xff\xff"
        + b"\xfe\xff\x00\xe0\xff\xff\xff\xff"
        + item
        + b"\xfe\xff\x0d\xe0\x00\x00\x00\x00"
        + b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"
    )
    yield False, True, un


def scanner_seeds() -> Iterator[bytes]:
    """Seeds of fuzz_scanner: a chunking byte, then a dataset's first bytes."""
    for i, path in enumerate(pydicom_test_files()):
        with open(path, "rb") as f:
            head = f.read(SEED_LIMIT + 1024)
        body = head[_dataset_offset(head) :][:SEED_LIMIT]
        if body:
            yield bytes([(37 * i) & 0xFF]) + body
    for i, (_implicit, _little, body) in enumerate(_synthetic_datasets()):
        yield bytes([i & 0x0F]) + body


def part10_seeds() -> Iterator[bytes]:
    """Seeds of fuzz_part10: Part 10 files' first 4 KiB, and the synthetic datasets as files."""
    for path in pydicom_test_files():
        with open(path, "rb") as f:
            yield f.read(SEED_LIMIT)
    uids = {
        (True, True): b"1.2.840.10008.1.2\x00",
        (False, True): b"1.2.840.10008.1.2.1\x00",
        (False, False): b"1.2.840.10008.1.2.2\x00",
    }
    for implicit, little, body in _synthetic_datasets():
        yield _part10(uids[implicit, little], body)


def _part10(ts_uid: bytes, body: bytes) -> bytes:
    """A minimal Part 10 file around `body` (PS3.10 Section 7.1), built by hand."""
    import struct

    def element(elem: int, vr: bytes, value: bytes) -> bytes:
        if vr in (b"OB",):
            return struct.pack("<HH2sHI", 2, elem, vr, 0, len(value)) + value
        return struct.pack("<HH2sH", 2, elem, vr, len(value)) + value

    group = (
        element(0x0001, b"OB", b"\x00\x01")
        + element(0x0002, b"UI", b"1.2.840.10008.5.1.4.1.1.7\x00")
        + element(0x0003, b"UI", b"1.2.3.4\x00")
        + element(0x0010, b"UI", ts_uid)
    )
    length = element(0x0000, b"UL", struct.pack("<I", len(group)))
    return b"\x00" * 128 + b"DICM" + length + group + body


def network_seeds() -> Iterator[bytes]:
    """Seeds of fuzz_network: a chunking byte, then a PDU stream an acceptor could receive."""
    import struct

    from storecore.dimse import C_ECHO_RQ, C_STORE_RQ, encode_command, fragment
    from storecore.ul import Policy, build_request, encode_pdu
    from storecore.ul.pdu import A_ABORT, A_RELEASE_RQ

    policy = Policy(ae_title="FUZZ", max_pdu_length=16384)
    rq = encode_pdu(
        build_request(
            policy, "STORECORE", [("1.2.840.10008.5.1.4.1.1.7", ("1.2.840.10008.1.2.1",))]
        )
    )
    store = encode_command(
        C_STORE_RQ(
            MessageID=3,
            AffectedSOPClassUID="1.2.840.10008.5.1.4.1.1.7",
            AffectedSOPInstanceUID="1.2.3.4",
        )
    )
    echo = encode_command(C_ECHO_RQ(MessageID=1))

    def pdata(command: bytes, dataset: bytes | None, maximum: int) -> bytes:
        out = b"".join(h + bytes(p) for h, p in fragment(1, command, maximum, command=True))
        if dataset is not None:
            out += b"".join(h + bytes(p) for h, p in fragment(1, dataset, maximum, command=False))
        return out

    dataset = struct.pack("<HH2sH", 0x0008, 0x0016, b"UI", 26) + b"1.2.840.10008.5.1.4.1.1.7\x00"
    for i, maximum in enumerate((64, 512, 16384)):
        yield bytes([i]) + rq + pdata(echo, None, maximum) + encode_pdu(A_RELEASE_RQ())
        yield bytes([i + 8]) + rq + pdata(store, dataset * 20, maximum) + encode_pdu(A_ABORT())
    yield b"\x00" + rq


def pump_seeds() -> Iterator[bytes]:
    """Seeds of fuzz_pump: P-DATA-TF PDUs of a data set on context 1, then what may follow."""

    def pdv(context: int, mch: int, data: bytes) -> bytes:
        return (len(data) + 2).to_bytes(4, "big") + bytes([context, mch]) + data

    def pdata(*items: bytes) -> bytes:
        body = b"".join(items)
        return b"\x04\x00" + len(body).to_bytes(4, "big") + body

    data = bytes(range(256)) * 4
    release = bytes.fromhex("05000000000400000000")
    yield pdata(pdv(1, 2, data))
    yield pdata(pdv(1, 0, data[:100]), pdv(1, 0, data[100:300])) + pdata(pdv(1, 2, data[300:]))
    yield pdata(pdv(1, 0, data)) + pdata(pdv(1, 2, b"")) + release
    yield pdata(pdv(1, 0, data)) + pdata(pdv(1, 3, b"\x00" * 10))  # a command inside
    yield pdata(pdv(1, 2, data), pdv(1, 0, b"after the last"))
    yield pdata(pdv(3, 2, data))  # another context
    yield pdata(pdv(1, 0, data))[:-7]  # cut short


def _command(*elements: tuple[int, bytes]) -> bytes:
    """An Implicit VR Little Endian group 0000 with its Command Group Length, by hand."""
    import struct

    def element(tag: int, value: bytes) -> bytes:
        return struct.pack("<HHI", 0, tag, len(value)) + value

    body = b"".join(element(tag, value) for tag, value in elements)
    return element(0x0000, struct.pack("<I", len(body))) + body


def command_seeds() -> Iterator[bytes]:
    """Seeds of fuzz_command: a limit byte, then a command set of each message (PS3.7 9.3, 10.3)."""
    import struct

    def us(value: int) -> bytes:
        return struct.pack("<H", value)

    ct = b"1.2.840.10008.5.1.4.1.1.2\x00"
    commitment = b"1.2.840.10008.1.20.1"
    instance = b"1.2.840.10008.1.20.1.1\x00"
    commands = [
        # C-ECHO-RQ, C-ECHO-RSP
        _command(
            (0x0002, b"1.2.840.10008.1.1\x00"),
            (0x0100, us(0x0030)),
            (0x0110, us(1)),
            (0x0800, us(0x0101)),
        ),
        _command(
            (0x0002, b"1.2.840.10008.1.1\x00"),
            (0x0100, us(0x8030)),
            (0x0120, us(1)),
            (0x0800, us(0x0101)),
            (0x0900, us(0)),
            (0x0902, b"echo"),
        ),
        # C-STORE-RQ, plain and from a C-MOVE; C-STORE-RSP, success and failure
        _command(
            (0x0002, ct),
            (0x0100, us(0x0001)),
            (0x0110, us(7)),
            (0x0700, us(0)),
            (0x0800, us(0x0001)),
            (0x1000, b"1.2.3.4\x00"),
        ),
        _command(
            (0x0002, ct),
            (0x0100, us(0x0001)),
            (0x0110, us(7)),
            (0x0700, us(2)),
            (0x0800, us(0x0001)),
            (0x1000, b"1.2.3.4.5\x00"),
            (0x1030, b"MOVESCU "),
            (0x1031, us(3)),
        ),
        _command(
            (0x0002, ct),
            (0x0100, us(0x8001)),
            (0x0120, us(7)),
            (0x0800, us(0x0101)),
            (0x0900, us(0)),
            (0x1000, b"1.2.3.4\x00"),
        ),
        _command(
            (0x0100, us(0x8001)),
            (0x0120, us(7)),
            (0x0800, us(0x0101)),
            (0x0900, us(0xC000)),
            (0x0901, b"\x10\x00\x10\x00\x08\x00\x18\x00"),
            (0x0902, b"cannot understand"),
        ),
        # N-EVENT-REPORT-RQ/RSP, N-ACTION-RQ/RSP (Storage Commitment, PS3.4 J.3)
        _command(
            (0x0002, commitment),
            (0x0100, us(0x0100)),
            (0x0110, us(9)),
            (0x0800, us(0x0001)),
            (0x1000, instance),
            (0x1002, us(1)),
        ),
        _command(
            (0x0002, commitment),
            (0x0100, us(0x8100)),
            (0x0120, us(9)),
            (0x0800, us(0x0101)),
            (0x0900, us(0)),
            (0x0903, us(2)),
            (0x1000, instance),
            (0x1002, us(1)),
        ),
        _command(
            (0x0003, commitment),
            (0x0100, us(0x0130)),
            (0x0110, us(5)),
            (0x0800, us(0x0001)),
            (0x1001, instance),
            (0x1008, us(1)),
        ),
        _command(
            (0x0002, commitment),
            (0x0100, us(0x8130)),
            (0x0120, us(5)),
            (0x0800, us(0x0101)),
            (0x0900, us(0x0115)),
            (0x1000, instance),
            (0x1008, us(1)),
        ),
    ]
    for i, data in enumerate(commands):
        for limit in (0, 6):  # the default limit, and 26 bytes (PS3.5 7.1.1)
            yield bytes([i + limit]) + data


def write_corpus(directory: Path, seeds: Iterator[bytes]) -> int:
    """Write `seeds` into `directory` (named by content hash); return how many."""
    directory.mkdir(parents=True, exist_ok=True)
    n = 0
    for seed in seeds:
        (directory / hashlib.sha1(seed).hexdigest()).write_bytes(seed)
        n += 1
    return n

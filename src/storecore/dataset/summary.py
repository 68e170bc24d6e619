"""The keys an archive indexes, read in one pass that stops before the pixel data.

:func:`summarize` never builds pydicom objects: the C scanner skips every
element but the summary keys, whose values it captures, and stops at the
first top-level Pixel Data element (PS3.5 Section 8), recording where it starts.
"""

from __future__ import annotations

import mmap
import os
import struct
from collections.abc import Callable
from typing import NamedTuple

from storecore import _deflate
from storecore._ext._scanner import Scanner as _CScanner
from storecore._typing import Buffer
from storecore.dataset.part10 import dataset_start
from storecore.errors import DatasetError
from storecore.limits import DEFAULT_LIMITS, Limits
from storecore.uid import TransferSyntax, transfer_syntax

__all__ = ["Summary", "summarize", "summarize_file", "SUMMARY_TAGS"]

#: The captured keys, in capture order (index = position).
SUMMARY_TAGS: tuple[int, ...] = (
    0x00080005,  # Specific Character Set
    0x00080016,  # SOP Class UID
    0x00080018,  # SOP Instance UID
    0x00080060,  # Modality
    0x00100010,  # Patient's Name
    0x00100020,  # Patient ID
    0x0020000D,  # Study Instance UID
    0x0020000E,  # Series Instance UID
    0x00280002,  # Samples per Pixel
    0x00280004,  # Photometric Interpretation
    0x00280008,  # Number of Frames
    0x00280010,  # Rows
    0x00280011,  # Columns
    0x00280100,  # Bits Allocated
    0x00280101,  # Bits Stored
    0x00280103,  # Pixel Representation
)
_PIXEL_TAGS = 0x7FE00008  # Float Pixel Data, Double Float Pixel Data, Pixel Data: all >= this
_READ_CHUNK = 64 * 1024
# The first read: most headers end within 16 KiB, and a smaller read is cheaper.
_FIRST_READ = 16 * 1024
_UNDEFINED = 0xFFFFFFFF


class Summary(NamedTuple):
    """The keys of one instance (the Patient/Study/Series/Instance levels and image shape).

    String attributes are None when absent; image attributes are None when absent.
    ``pixel_data_offset`` is the offset of the Pixel Data value in the scanned
    buffer (or file; for a deflated dataset, in the inflated dataset),
    ``pixel_data_length`` its encoded length (None when encapsulated, i.e.
    undefined length), ``pixel_data_tag`` the element found. An immutable
    named tuple: it is built once per received instance, on the hot path.
    """

    sop_class_uid: str | None
    sop_instance_uid: str | None
    study_instance_uid: str | None
    series_instance_uid: str | None
    patient_id: str | None
    patient_name: str | None
    modality: str | None
    specific_character_set: tuple[str, ...]
    rows: int | None
    columns: int | None
    samples_per_pixel: int | None
    bits_allocated: int | None
    bits_stored: int | None
    pixel_representation: int | None
    photometric_interpretation: str | None
    number_of_frames: int | None
    transfer_syntax_uid: str
    dataset_offset: int
    pixel_data_tag: int | None
    pixel_data_offset: int | None
    pixel_data_length: int | None


# Python codecs of the single-byte and UTF-8 character sets (PS3.3 C.12.1.1.2);
# ISO 2022 code extensions go through pydicom's decoder.
_SIMPLE_CHARSETS = {
    "": "ascii",
    "ISO_IR 6": "ascii",
    "ISO_IR 100": "latin_1",
    "ISO_IR 101": "iso8859_2",
    "ISO_IR 109": "iso8859_3",
    "ISO_IR 110": "iso8859_4",
    "ISO_IR 144": "iso8859_5",
    "ISO_IR 127": "iso8859_6",
    "ISO_IR 126": "iso8859_7",
    "ISO_IR 138": "iso8859_8",
    "ISO_IR 148": "iso8859_9",
    "ISO_IR 203": "iso8859_15",
    "ISO_IR 13": "shift_jis",
    "ISO_IR 166": "tis_620",
    "ISO_IR 192": "utf_8",
    "GB18030": "GB18030",
    "GBK": "GBK",
}


def _str(raw: bytes | None) -> str | None:
    if raw is None:
        return None
    return raw.rstrip(b"\x00 ").decode("ascii", "replace")


def _decode_text(raw: bytes | None, charsets: tuple[str, ...]) -> str | None:
    if raw is None:
        return None
    raw = raw.rstrip(b"\x00 ")
    if len(charsets) <= 1:
        codec = _SIMPLE_CHARSETS.get(charsets[0] if charsets else "")
        if codec is not None:
            return raw.decode(codec, "replace")
    # ISO 2022 code extensions (PS3.5 6.1.2.5): rare, so pydicom is imported lazily
    from pydicom.charset import convert_encodings, decode_bytes

    try:
        encodings = convert_encodings([c or "ISO_IR 6" for c in charsets])
        return str(decode_bytes(raw, encodings, {0x5E, 0x3D}))
    except (LookupError, ValueError):
        # a Specific Character Set no codec knows (PS3.3 C.12.1.1.2 lists the
        # defined terms): keep the bytes readable rather than refuse the instance
        return raw.decode("latin_1")


def _us(raw: bytes | None, big: bool) -> int | None:
    if raw is None or len(raw) < 2:
        return None
    return int(struct.unpack(">H" if big else "<H", raw[:2])[0])


def _is(raw: bytes | None) -> int | None:
    if raw is None:
        return None
    text = raw.strip(b"\x00 ")
    try:
        return int(text.split(b"\\")[0]) if text else None
    except ValueError:
        return None


def _build(scanner: _CScanner, ts: TransferSyntax, dataset_offset: int, base: int) -> Summary:
    (
        charset,
        sop_class,
        sop_instance,
        modality,
        name,
        pid,
        study,
        series,
        samples,
        photometric,
        frames,
        rows,
        columns,
        bits_allocated,
        bits_stored,
        pixel_rep,
    ) = scanner.captures()  # in SUMMARY_TAGS order
    big = not ts.little_endian
    charset_raw = _str(charset)
    charsets = tuple(v.strip() for v in charset_raw.split("\\")) if charset_raw else ()
    stopped = scanner.stopped_at
    pixel_tag: int | None = None
    pixel_offset: int | None = None
    pixel_length: int | None = None
    if stopped is not None:
        pixel_tag = stopped.tag
        pixel_offset = base + stopped.value_offset
        pixel_length = None if stopped.length == _UNDEFINED else stopped.length
    return Summary(
        sop_class_uid=_str(sop_class),
        sop_instance_uid=_str(sop_instance),
        study_instance_uid=_str(study),
        series_instance_uid=_str(series),
        patient_id=_decode_text(pid, charsets),
        patient_name=_decode_text(name, charsets),
        modality=_str(modality),
        specific_character_set=charsets,
        rows=_us(rows, big),
        columns=_us(columns, big),
        samples_per_pixel=_us(samples, big),
        bits_allocated=_us(bits_allocated, big),
        bits_stored=_us(bits_stored, big),
        pixel_representation=_us(pixel_rep, big),
        photometric_interpretation=_str(photometric),
        number_of_frames=_is(frames),
        transfer_syntax_uid=ts.uid,
        dataset_offset=dataset_offset,
        pixel_data_tag=pixel_tag,
        pixel_data_offset=pixel_offset,
        pixel_data_length=pixel_length,
    )


def _scanner(ts: TransferSyntax, limits: Limits, lenient_odd_length: bool) -> _CScanner:
    return _CScanner(
        ts.implicit_vr,
        not ts.little_endian,
        max_element_length=limits.max_element_length,
        max_sequence_depth=limits.max_sequence_depth,
        lenient_odd_length=lenient_odd_length,
        tokens=False,
        stop_tag=_PIXEL_TAGS,
        capture=SUMMARY_TAGS,
        max_captured_value=limits.max_captured_value,
    )


def summarize(
    buffer: Buffer,
    transfer_syntax_uid: str | TransferSyntax | None = None,
    *,
    limits: Limits = DEFAULT_LIMITS,
    lenient_odd_length: bool = False,
) -> Summary:
    """Summarize a Part 10 file's bytes, or a bare dataset in a given syntax.

    Parameters
    ----------
    buffer : bytes-like
        A whole Part 10 file (when `transfer_syntax_uid` is None) or a dataset.
    transfer_syntax_uid : str or TransferSyntax, optional
        The dataset's transfer syntax; None means `buffer` is a Part 10 file.

    Raises
    ------
    DatasetError
        The bytes before the pixel data are not a valid dataset.

    References
    ----------
    PS3.5 Sections 7 and 8; PS3.10 Section 7.1.
    """
    with memoryview(buffer) as view:  # released on every exit: callers may close an mmap
        return _summarize(view, transfer_syntax_uid, limits, lenient_odd_length)


def _summarize(
    view: memoryview,
    transfer_syntax_uid: str | TransferSyntax | None,
    limits: Limits,
    lenient_odd_length: bool,
) -> Summary:
    if transfer_syntax_uid is None:
        ts_uid, offset = dataset_start(view)
        ts = transfer_syntax(ts_uid)
    else:
        ts = (
            transfer_syntax_uid
            if isinstance(transfer_syntax_uid, TransferSyntax)
            else transfer_syntax(transfer_syntax_uid)
        )
        offset = 0
    scanner = _scanner(ts, limits, lenient_odd_length)
    if ts.deflated:
        # inflated only as far as the pixel data, as summarize_file does
        _feed_deflated(scanner, lambda: b"", view[offset:], limits.max_inflated_length)
        return _build(scanner, ts, offset, 0)  # offsets refer to the inflated dataset
    scanner.feed(view[offset:])
    scanner.close()
    return _build(scanner, ts, offset, offset)


def summarize_file(
    path: str | os.PathLike[str],
    *,
    limits: Limits = DEFAULT_LIMITS,
    lenient_odd_length: bool = False,
) -> Summary:
    """Summarize a Part 10 file, reading only up to its pixel data.

    The file is read in 64 KiB chunks until the scanner reaches the top-level
    Pixel Data element, so a 1 GB image costs one or two reads.
    """
    with open(path, "rb", buffering=0) as f:
        head = f.read(_FIRST_READ)
        try:
            ts_uid, dataset_offset = dataset_start(memoryview(head))
        except DatasetError:
            if len(head) < _FIRST_READ or head[128:132] != b"DICM":
                raise
            # a meta header longer than the first chunk: map the whole file
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
                return summarize(m, limits=limits, lenient_odd_length=lenient_odd_length)
        ts = transfer_syntax(ts_uid)
        scanner = _scanner(ts, limits, lenient_odd_length)
        if ts.deflated:
            _feed_deflated(
                scanner,
                lambda: f.read(_READ_CHUNK),
                memoryview(head)[dataset_offset:],
                limits.max_inflated_length,
            )
            return _build(scanner, ts, dataset_offset, 0)
        scanner.feed(memoryview(head)[dataset_offset:])
        while not scanner.done:
            chunk = f.read(_READ_CHUNK)
            if not chunk:
                break
            scanner.feed(chunk)
        scanner.close()
        return _build(scanner, ts, dataset_offset, dataset_offset)


def _feed_deflated(
    scanner: _CScanner, read: Callable[[], bytes], first: Buffer, limit: int
) -> None:
    """Inflate (PS3.5 A.5) only as far as the scanner needs: it stops at the pixel data.

    `first` is the deflated data at hand; `read` returns more, or b"" at the end.
    """
    inflater = _deflate.decompressobj()
    pending: Buffer = first
    while not scanner.done:
        try:
            out = inflater.decompress(pending, _READ_CHUNK)
        except _deflate.ERRORS as exc:
            raise DatasetError(f"deflated dataset is corrupt: {exc}", scanner.offset) from None
        if out:
            if scanner.offset + len(out) > limit:
                raise DatasetError(
                    f"deflated dataset inflates past {limit} bytes (Limits.max_inflated_length)",
                    scanner.offset,
                )
            scanner.feed(out)
            if scanner.done:
                break
        pending = inflater.unconsumed_tail
        if not pending:
            if inflater.eof:
                break
            pending = read()
            if not pending:
                raise DatasetError("deflated dataset ends before its end", scanner.offset)
    scanner.close()

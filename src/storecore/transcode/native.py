"""Native rewriting between the four uncompressed transfer syntaxes.

Implicit VR Little Endian, Explicit VR Little Endian, Explicit VR Big Endian
(retired, still received) and Deflated Explicit VR Little Endian, in any
direction. The byte work is :func:`storecore._ext._native.transcode_native`;
this layer adds deflate (PS3.5 Annex A.5) and Part 10 files.
"""

from __future__ import annotations

import mmap
import os
import struct
import tempfile
from collections.abc import Callable
from pathlib import Path

from storecore import __version__, _deflate
from storecore._ext._native import transcode_native
from storecore._typing import Buffer
from storecore.dataset._scan import inflate_to
from storecore.dataset.part10 import encode_file_meta, read_file_meta
from storecore.errors import DatasetError, TranscodeError
from storecore.limits import DEFAULT_LIMITS, Limits
from storecore.transcode.records import TranscodePath, TranscodeRecord
from storecore.uid import TransferSyntax, transfer_syntax

__all__ = ["transcode_dataset", "transcode_part10", "transcode_file", "NATIVE_CODEC"]

NATIVE_CODEC = f"storecore.native {__version__}"
# Below this size a file is read in one call; above it, mapped (flat memory).
_MMAP_THRESHOLD = 64 * 1024 * 1024


def _native(ts: str | TransferSyntax) -> TransferSyntax:
    t = ts if isinstance(ts, TransferSyntax) else transfer_syntax(ts)
    if not t.native:
        raise TranscodeError(
            f"{t.name} ({t.uid}) is not a native syntax: compressed transcoding is "
            "the transcoding matrix's job, not the native rewriter's"
        )
    return t


def transcode_dataset(
    source: Buffer,
    source_ts: str | TransferSyntax,
    target_ts: str | TransferSyntax,
    write: Callable[[Buffer], object],
    *,
    limits: Limits = DEFAULT_LIMITS,
    lenient_odd_length: bool = False,
) -> int:
    """Rewrite one dataset into another native transfer syntax.

    Parameters
    ----------
    source : bytes-like
        The whole dataset (an mmap keeps memory flat for large ones).
    source_ts, target_ts : str or TransferSyntax
        Native syntaxes (UID or keyword).
    write : callable
        Receives the output in order; it must consume each chunk before it
        returns (buffers are reused), as ``file.write`` does.

    Returns
    -------
    int
        Bytes given to `write`.

    Raises
    ------
    TranscodeError
        A syntax is not native, or the output cannot be encoded.
    DatasetError
        The source is not a valid dataset in `source_ts`.

    References
    ----------
    PS3.5 Sections 6.2.2, 7.1, 7.3, Annex A.1-A.5.
    """
    src = _native(source_ts)
    dst = _native(target_ts)
    if src.deflated:
        # inflated into an anonymous file and mapped: flat memory for any size,
        # bounded by Limits.max_inflated_length
        with tempfile.TemporaryFile(prefix="storecore-inflated-") as spool:
            size = inflate_to(source, spool.write, limits.max_inflated_length)
            spool.flush()
            if size == 0:
                return transcode_dataset(
                    b"",
                    _native("1.2.840.10008.1.2.1"),
                    dst,
                    write,
                    limits=limits,
                    lenient_odd_length=lenient_odd_length,
                )
            try:
                inflated = mmap.mmap(spool.fileno(), 0, access=mmap.ACCESS_READ)
            except OSError as exc:  # no address space left for the map
                raise TranscodeError(f"cannot map the inflated dataset: {exc}") from None
            with inflated:
                return transcode_dataset(
                    inflated,
                    _native("1.2.840.10008.1.2.1"),
                    dst,
                    write,
                    limits=limits,
                    lenient_odd_length=lenient_odd_length,
                )
    sink = write
    compressor = None
    compressed = 0
    if dst.deflated:
        compressor = _deflate.compressobj()

        def sink(chunk: Buffer) -> None:
            nonlocal compressed
            data = compressor.compress(chunk)
            if data:
                compressed += len(data)
                write(data)

    n = transcode_native(
        source,
        src.implicit_vr,
        not src.little_endian,
        dst.implicit_vr,
        not dst.little_endian,
        sink,
        max_element_length=limits.max_element_length,
        max_sequence_depth=limits.max_sequence_depth,
        lenient_odd_length=lenient_odd_length,
    )
    if compressor is not None:
        tail = compressor.flush()
        write(tail)
        return compressed + len(tail)
    return int(n)


def _codec(src: TransferSyntax, dst: TransferSyntax) -> str:
    if src.deflated or dst.deflated:
        return f"{NATIVE_CODEC} + {_deflate.BACKEND} deflate"
    return NATIVE_CODEC


def transcode_part10(
    source: Buffer,
    target_ts: str | TransferSyntax,
    write: Callable[[Buffer], object],
    *,
    limits: Limits = DEFAULT_LIMITS,
    lenient_odd_length: bool = False,
) -> TranscodeRecord:
    """Transcode a whole Part 10 file held in a buffer, writing the new file to `write`.

    The File Meta Information is written anew (the target Transfer Syntax UID,
    storecore's Implementation Class UID; the SOP Class/Instance UID and the
    Source AE Title kept), then the rewritten dataset.

    Returns
    -------
    TranscodeRecord
        Path SUPPORTED: native rewriting keeps the SOP Instance UID.
    """
    dst = _native(target_ts)
    with memoryview(source) as view:
        meta = read_file_meta(view)
        src = _native(meta.transfer_syntax_uid)
        header = encode_file_meta(
            meta.media_storage_sop_class_uid,
            meta.media_storage_sop_instance_uid,
            dst.uid,
            source_ae_title=meta.source_application_entity_title,
        )
        with view[meta.dataset_offset :] as dataset:
            # PS3.10 7.1: File Meta elements (group 0002) only in the header. One
            # past the header's group length would be read back as File Meta
            # once the dataset is rewritten in another syntax: refused.
            if len(dataset) >= 2 and not src.deflated:
                group = struct.unpack("<H" if src.little_endian else ">H", dataset[:2])[0]
                if group == 0x0002:
                    raise DatasetError(
                        "a group 0002 (File Meta) element follows the File Meta Information "
                        "group length, in the data set (PS3.10 7.1)",
                        meta.dataset_offset,
                    )
            write(header)
            n = transcode_dataset(
                dataset, src, dst, write, limits=limits, lenient_odd_length=lenient_odd_length
            )
            bytes_in = len(dataset)
    uid = meta.media_storage_sop_instance_uid or None
    return TranscodeRecord(
        source_ts=src.uid,
        target_ts=dst.uid,
        path=TranscodePath.SUPPORTED,
        codec=_codec(src, dst),
        original_sop_instance_uid=uid,
        sop_instance_uid=uid,
        bytes_in=bytes_in,
        bytes_out=n,
    )


def transcode_file(
    source_path: str | os.PathLike[str],
    target_path: str | os.PathLike[str],
    target_ts: str | TransferSyntax,
    *,
    limits: Limits = DEFAULT_LIMITS,
    lenient_odd_length: bool = False,
) -> TranscodeRecord:
    """Transcode a Part 10 file into another native syntax, atomically.

    The output is written to a temporary file beside `target_path` and renamed
    into place only when complete, so a failure leaves no partial file. Files
    over 64 MiB are mapped rather than read, so memory stays flat.
    """
    target = Path(target_path)
    fd, tmp = tempfile.mkstemp(prefix=".storecore-", dir=target.parent)
    try:
        with open(source_path, "rb", buffering=0) as f, os.fdopen(fd, "wb") as out:
            if os.fstat(f.fileno()).st_size > _MMAP_THRESHOLD:
                with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
                    record = transcode_part10(
                        m,
                        target_ts,
                        out.write,
                        limits=limits,
                        lenient_odd_length=lenient_odd_length,
                    )
            else:
                record = transcode_part10(
                    f.read(),
                    target_ts,
                    out.write,
                    limits=limits,
                    lenient_odd_length=lenient_odd_length,
                )
        os.replace(tmp, target)
    except BaseException:
        os.unlink(tmp)
        raise
    return record

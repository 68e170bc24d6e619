"""Native rewriting between the four uncompressed transfer syntaxes.

Implicit VR Little Endian, Explicit VR Little Endian, Explicit VR Big Endian
(retired, still received) and Deflated Explicit VR Little Endian, in any
direction. The byte work is :func:`storecore._ext._native.transcode_native`;
this layer adds deflate (PS3.5 Annex A.5) and Part 10 files.
"""

from __future__ import annotations

import mmap
import os
import tempfile
import zlib
from collections.abc import Callable
from pathlib import Path

from storecore import __version__
from storecore._ext._native import transcode_native
from storecore._typing import Buffer
from storecore.dataset._scan import inflate
from storecore.dataset.part10 import encode_file_meta, read_file_meta
from storecore.errors import TranscodeError
from storecore.limits import DEFAULT_LIMITS, Limits
from storecore.transcode.records import TranscodePath, TranscodeRecord
from storecore.uid import TransferSyntax, transfer_syntax

__all__ = ["transcode_dataset", "transcode_file", "NATIVE_CODEC"]

NATIVE_CODEC = f"storecore.native {__version__}"
# Deflate level for Deflated Explicit VR LE output: zlib's default, the
# size/speed balance dcmtk also uses (dcmtk's --compression-level default 6).
_DEFLATE_LEVEL = 6


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
        source = inflate(source)
    sink = write
    compressor = None
    compressed = 0
    if dst.deflated:
        compressor = zlib.compressobj(_DEFLATE_LEVEL, zlib.DEFLATED, -15)

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
    into place only when complete, so a failure leaves no partial file.
    """
    dst = _native(target_ts)
    target = Path(target_path)
    with open(source_path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        meta = read_file_meta(m)
        src = _native(meta.transfer_syntax_uid)
        dataset = memoryview(m)[meta.dataset_offset :]
        bytes_in = len(dataset)
        try:
            fd, tmp = tempfile.mkstemp(prefix=".storecore-", dir=target.parent or ".")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(
                        encode_file_meta(
                            meta.media_storage_sop_class_uid,
                            meta.media_storage_sop_instance_uid,
                            dst.uid,
                            source_ae_title=meta.source_application_entity_title,
                        )
                    )
                    n = transcode_dataset(
                        dataset,
                        src,
                        dst,
                        out.write,
                        limits=limits,
                        lenient_odd_length=lenient_odd_length,
                    )
                os.replace(tmp, target)
            except BaseException:
                os.unlink(tmp)
                raise
        finally:
            dataset.release()
    uid = meta.media_storage_sop_instance_uid or None
    return TranscodeRecord(
        source_ts=src.uid,
        target_ts=dst.uid,
        path=TranscodePath.SUPPORTED,
        codec=NATIVE_CODEC,
        original_sop_instance_uid=uid,
        sop_instance_uid=uid,
        bytes_in=bytes_in,
        bytes_out=n,
    )

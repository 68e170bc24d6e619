"""The transcoding matrix: SUPPORTED / NEW_UID / NOT_SUPPORTED, computed and enforced.

:func:`transcode_path` answers PS3.2 Table N.5-9 for a (source, target,
allow_lossy) triple from the codecs installed (:mod:`.codecs`);
:func:`transcode` carries a Part 10 file out along that path and returns the
new file with its :class:`~storecore.transcode.TranscodeRecord`.

The rules
---------
* Native <-> native: SUPPORTED (:mod:`.native` rewrites the bytes).
* Compressed -> native (decode): SUPPORTED whenever a decoder is installed,
  *including lossy sources*. PS3.3 C.7.6.1.1.5: Lossy Image Compression
  (0028,2110) "01" means the image *has been* subjected to lossy compression,
  and "once this value has been set to 01 it shall not be reset": an image
  decompressed and sent uncompressed keeps 01. Decompression adds no new loss
  (the decoded pixels are the values the lossy instance defines), so the SOP
  Instance UID is kept; storecore copies 0028,2110/2112/2114 unchanged, and
  when a source in one of the inherently lossy JPEG processes (PS3.5 A.4.1)
  lacks 0028,2110 it adds 01 with Method ISO_10918_1, so the loss is not
  forgotten once the syntax no longer shows it. (For JPEG-LS near-lossless,
  JPEG 2000 and HTJ2K the syntax allows lossless coding, so nothing is
  inferred there.)
* Native or compressed -> lossless compressed: SUPPORTED (values kept exactly;
  a lossy source stays marked lossy).
* -> lossy compressed (JPEG Baseline/Extended, JPEG-LS Near-Lossless, JPEG 2000
  (.91)): NEW_UID when ``allow_lossy``, with a new SOP Instance UID, Lossy Image
  Compression 01, Ratio and Method appended to the ones the source had,
  Derivation Description, Source Image Sequence and Image Type DERIVED
  (PS3.3 C.7.6.1.1.5, C.7.6.1.1.2, C.7.6.1.1.3); NOT_SUPPORTED otherwise.
* NOT_SUPPORTED by policy: video (MPEG-2, MPEG-4, HEVC), JPIP Referenced
  Pixel Data (the pixels are not in the Data Set), SMPTE ST 2110 and the two
  retired document packagings; by want of a codec: any other pair whose
  decoder or encoder is not installed (the reason names the package).

The output's non-pixel elements are copied byte for byte by storecore's
scanner (:mod:`._dataset`); no pydicom object is built.
"""

from __future__ import annotations

import math
import os
import struct
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np

from storecore._typing import Buffer
from storecore.dataset.part10 import encode_file_meta, read_file_meta
from storecore.errors import TranscodeError
from storecore.limits import DEFAULT_LIMITS, Limits
from storecore.transcode import _dataset as dsx
from storecore.transcode.codecs import DEFAULT_REGISTRY, Codec, CodecRegistry, FrameInfo
from storecore.transcode.native import transcode_part10
from storecore.transcode.records import LOSSY_DERIVATION, TranscodePath, TranscodeRecord
from storecore.uid import TransferSyntax, is_valid_uid, transfer_syntax

__all__ = ["PathDecision", "transcode", "transcode_path", "matrix"]

_EXPLICIT_LE = "1.2.840.10008.1.2.1"
_POLICY_FAMILIES = {
    "mpeg2": "video syntaxes are not transcoded (policy: re-encoding video is out of scope)",
    "mpeg4": "video syntaxes are not transcoded (policy: re-encoding video is out of scope)",
    "hevc": "video syntaxes are not transcoded (policy: re-encoding video is out of scope)",
    "jpip": "JPIP Referenced Pixel Data: the pixels are not in the Data Set (PS3.5 Section 8.4)",
    "smpte2110": "SMPTE ST 2110: the pixel data travels outside the Data Set",
    "other": "a retired document packaging, not a Data Set encoding storecore transcodes",
}
# Frame start markers, for splitting fragments into frames without an offset table.
_FRAME_START = {
    "jpeg": b"\xff\xd8",
    "jpeg-ls": b"\xff\xd8",
    "jpeg2000": b"\xff\x4f",
    "htj2k": b"\xff\x4f",
}
_LOSSY_JPEG_METHOD = "ISO_10918_1"

# top-level tags read or written (PS3.3 C.7.6.3 Image Pixel, C.7.6.1 General Image)
_IMAGE_TYPE = 0x00080008
_SOP_CLASS_UID = 0x00080016
_SOP_INSTANCE_UID = 0x00080018
_DERIVATION_DESCRIPTION = 0x00082111
_SOURCE_IMAGE_SEQUENCE = 0x00082112
_REFERENCED_SOP_CLASS_UID = 0x00081150
_REFERENCED_SOP_INSTANCE_UID = 0x00081155
_SAMPLES_PER_PIXEL = 0x00280002
_PHOTOMETRIC = 0x00280004
_PLANAR_CONFIGURATION = 0x00280006
_NUMBER_OF_FRAMES = 0x00280008
_ROWS = 0x00280010
_COLUMNS = 0x00280011
_BITS_ALLOCATED = 0x00280100
_BITS_STORED = 0x00280101
_HIGH_BIT = 0x00280102
_PIXEL_REPRESENTATION = 0x00280103
_LOSSY = 0x00282110
_LOSSY_RATIO = 0x00282112
_LOSSY_METHOD = 0x00282114


@dataclass(frozen=True, slots=True)
class PathDecision:
    """One cell of PS3.2 Table N.5-9, with why when it is NOT_SUPPORTED."""

    path: TranscodePath
    reason: str = ""


def _ts(ts: str | TransferSyntax) -> TransferSyntax:
    return ts if isinstance(ts, TransferSyntax) else transfer_syntax(ts)


def _policy(ts: TransferSyntax) -> str | None:
    if ts.family in _POLICY_FAMILIES:
        return f"{ts.name}: {_POLICY_FAMILIES[ts.family]}"
    if ts.pixel_data != "native" and not ts.encapsulated:
        return f"{ts.name}: pixel data is not in the Data Set"
    return None


def _lossy_encoder(codec: Codec, uid: str) -> bool:
    return uid in codec.lossy_encodes


def transcode_path(
    source_ts: str | TransferSyntax,
    target_ts: str | TransferSyntax,
    *,
    allow_lossy: bool = False,
    registry: CodecRegistry = DEFAULT_REGISTRY,
) -> PathDecision:
    """The path a transcode from `source_ts` to `target_ts` takes with the codecs installed.

    Returns
    -------
    PathDecision
        SUPPORTED (the SOP Instance UID is kept), NEW_UID (lossy output, allowed)
        or NOT_SUPPORTED with its reason.

    References
    ----------
    PS3.2 Annex N.5.2.5.1.1 and Table N.5-9; PS3.3 C.7.6.1.1.5.
    """
    src, dst = _ts(source_ts), _ts(target_ts)
    if src.uid == dst.uid:
        return PathDecision(TranscodePath.SUPPORTED)
    for ts in (src, dst):
        reason = _policy(ts)
        if reason:
            return PathDecision(TranscodePath.NOT_SUPPORTED, reason)
    if src.native and dst.native:
        return PathDecision(TranscodePath.SUPPORTED)
    if src.encapsulated and not registry.available(src.uid, "decode"):
        return PathDecision(TranscodePath.NOT_SUPPORTED, registry.missing_reason(src.uid, "decode"))
    if dst.encapsulated:
        encoders = registry.available(dst.uid, "encode")
        if not encoders:
            return PathDecision(
                TranscodePath.NOT_SUPPORTED, registry.missing_reason(dst.uid, "encode")
            )
        if _lossy_encoder(encoders[0], dst.uid):
            if not allow_lossy:
                return PathDecision(
                    TranscodePath.NOT_SUPPORTED,
                    f"{dst.name} output is lossy and lossy output was not allowed (allow_lossy)",
                )
            return PathDecision(TranscodePath.NEW_UID)
    if not src.native and not src.encapsulated:  # pragma: no cover - policy catches these
        return PathDecision(TranscodePath.NOT_SUPPORTED, f"{src.name} has no codec path")
    return PathDecision(TranscodePath.SUPPORTED)


def matrix(
    syntaxes: Sequence[str | TransferSyntax],
    *,
    allow_lossy: bool = False,
    registry: CodecRegistry = DEFAULT_REGISTRY,
) -> dict[tuple[str, str], PathDecision]:
    """Table N.5-9 for every (stored, sent) pair of `syntaxes`."""
    ts = [_ts(t) for t in syntaxes]
    return {
        (a.uid, b.uid): transcode_path(a, b, allow_lossy=allow_lossy, registry=registry)
        for a in ts
        for b in ts
    }


# --------------------------------------------------------------------------
# pixel data


def _dtype(info: FrameInfo) -> np.dtype[Any]:
    size = {8: 1, 16: 2, 32: 4}.get(info.bits_allocated)
    if size is None:
        raise TranscodeError(
            f"Bits Allocated {info.bits_allocated} has no codec path (8, 16 or 32 only)"
        )
    return np.dtype(f"<{'i' if info.signed else 'u'}{size}")


def _shape(info: FrameInfo) -> tuple[int, ...]:
    if info.samples_per_pixel == 1:
        return (info.rows, info.columns)
    return (info.rows, info.columns, info.samples_per_pixel)


def _normalise(arr: np.ndarray, info: FrameInfo) -> np.ndarray:
    """A decoded or read frame as Bits Allocated integers, values within Bits Stored.

    Unsigned bit patterns of a signed image (JPEG, JPEG-LS and RLE have no sign)
    are sign-extended from Bits Stored, as PS3.5 Section 8.1.1 reads them.
    """
    dtype = _dtype(info)
    shape = _shape(info)
    if arr.size != math.prod(shape):
        raise TranscodeError(
            f"decoded frame has {arr.size} samples, the Image Pixel Module says {math.prod(shape)}"
        )
    arr = arr.reshape(shape)
    # in the Bits Allocated width, never through int64 (a 0.5 MB frame would
    # cost four passes over 2 MB): a C cast keeps the low bits (two's
    # complement), a left then arithmetic right shift sign-extends from Bits
    # Stored, a mask clears what lies above it
    v = arr if arr.dtype == dtype else arr.astype(dtype)
    shift = 8 * dtype.itemsize - info.bits_stored
    if shift > 0 and not _within_bits_stored(v, info):
        v = (v << shift) >> shift if info.signed else v & dtype.type((1 << info.bits_stored) - 1)
    return v


def _within_bits_stored(v: np.ndarray, info: FrameInfo) -> bool:
    """True if every value already is what sign extension or masking would make it.

    One or two reading passes (max, min) and no new array: usually the bits
    above Bits Stored are clear (or copies of the sign), and the frame can go
    to the codec as it is, often a view of the file's bytes (PS3.5 8.1.1:
    those bits are not part of the value, so when they are set the values are
    rewritten).
    """
    if v.size == 0:
        return True
    if info.signed:
        half = 1 << (info.bits_stored - 1)
        return bool(v.min() >= -half and v.max() < half)
    return bool(v.max() < (1 << info.bits_stored))


def _info(s: dsx.ScannedDataset) -> FrameInfo:
    bits_allocated = s.us(_BITS_ALLOCATED)
    return FrameInfo(
        rows=s.us(_ROWS),
        columns=s.us(_COLUMNS),
        samples_per_pixel=s.us(_SAMPLES_PER_PIXEL, 1),
        bits_allocated=bits_allocated,
        bits_stored=s.us(_BITS_STORED, bits_allocated),
        pixel_representation=s.us(_PIXEL_REPRESENTATION, 0),
        photometric_interpretation=s.text(_PHOTOMETRIC) or "",
    )


def _native_frames(s: dsx.ScannedDataset, info: FrameInfo, n_frames: int) -> list[np.ndarray]:
    if info.photometric_interpretation.endswith("_422") or info.photometric_interpretation.endswith(
        "_420"
    ):
        raise TranscodeError(
            f"native {info.photometric_interpretation} pixel data is not encoded by this release"
        )
    token = s.tokens[dsx.PIXEL_DATA]
    dtype = _dtype(info)
    per_frame = info.rows * info.columns * info.samples_per_pixel
    if token.length < per_frame * n_frames * dtype.itemsize:
        raise TranscodeError(
            f"Pixel Data holds {token.length} bytes, {n_frames} frame(s) need "
            f"{per_frame * n_frames * dtype.itemsize}"
        )
    flat = np.frombuffer(s.data, dtype, per_frame * n_frames, token.value_offset)
    planar = info.samples_per_pixel > 1 and s.us(_PLANAR_CONFIGURATION, 0) == 1
    frames = []
    for i in range(n_frames):
        f = flat[i * per_frame : (i + 1) * per_frame]
        if planar:  # PS3.3 C.7.6.3.1.3: colour-by-plane
            f = f.reshape(info.samples_per_pixel, info.rows, info.columns).transpose(1, 2, 0)
        frames.append(_normalise(f, info))
    return frames


def _offsets(raw: bytes, size: int) -> list[int]:
    fmt = "<" + ("I" if size == 4 else "Q") * (len(raw) // size)
    return list(struct.unpack(fmt, raw[: len(raw) // size * size]))


def _frame_fragments(
    s: dsx.ScannedDataset, n_frames: int, ts: TransferSyntax
) -> list[list[tuple[int, int]]]:
    """Group the fragments into frames (PS3.5 A.4: the Basic Offset Table, the
    Extended Offset Table (7FE0,0001), or, when both are absent, one fragment per
    frame or each frame's start marker)."""
    frags = s.fragments
    if not frags:
        raise TranscodeError("encapsulated Pixel Data has no fragments")
    if n_frames == 1:
        return [frags]
    if len(frags) == n_frames:
        return [[f] for f in frags]
    if len(frags) < n_frames:
        raise TranscodeError(
            f"{len(frags)} fragment(s) for {n_frames} frames: frames spanning a shared "
            "fragment are not allowed (PS3.5 A.4)"
        )
    eot = s.value(dsx.EXTENDED_OFFSET_TABLE)
    offsets = _offsets(eot, 8) if eot else _offsets(s.offset_table or b"", 4)
    if offsets:
        base = frags[0][0] - 8
        index = {value_offset - 8 - base: i for i, (value_offset, _) in enumerate(frags)}
        starts = [index.get(o) for o in offsets]
        if len(starts) != n_frames or any(i is None for i in starts):
            raise TranscodeError("the offset table does not point at fragment starts")
        bounds = [i for i in starts if i is not None] + [len(frags)]
        return [frags[bounds[k] : bounds[k + 1]] for k in range(n_frames)]
    marker = _FRAME_START.get(ts.family)
    if marker is None:
        raise TranscodeError(
            f"{ts.name}: {len(frags)} fragments for {n_frames} frames and no offset table"
        )
    groups: list[list[tuple[int, int]]] = []
    for off, length in frags:
        if not groups or bytes(s.data[off : off + 2]) == marker:
            groups.append([])
        groups[-1].append((off, length))
    if len(groups) != n_frames:
        raise TranscodeError(
            f"found {len(groups)} frame start markers in the fragments, "
            f"Number of Frames is {n_frames}"
        )
    return groups


def _decode_frames(
    s: dsx.ScannedDataset,
    info: FrameInfo,
    n_frames: int,
    ts: TransferSyntax,
    registry: CodecRegistry,
) -> tuple[list[np.ndarray], list[Codec]]:
    codecs = registry.available(ts.uid, "decode")
    if not codecs:
        raise TranscodeError(registry.missing_reason(ts.uid, "decode"))
    frames: list[np.ndarray] = []
    used: list[Codec] = []
    for group in _frame_fragments(s, n_frames, ts):
        # a one-fragment frame goes to a codec that reads buffers as a view of
        # the file; other codecs get one bytes copy of the frame
        view = s.data[group[0][0] : group[0][0] + group[0][1]] if len(group) == 1 else None
        copied: bytes | None = None
        errors = []
        for codec in codecs:
            if view is not None and codec.decodes_buffers:
                data = cast(bytes, view)  # read through the buffer protocol
            else:
                if copied is None:
                    copied = (
                        bytes(view)
                        if view is not None
                        else b"".join(s.data[o : o + n] for o, n in group)
                    )
                data = copied
            try:
                frames.append(_normalise(codec.decode(ts.uid, data, info), info))
            except Exception as exc:  # the next codec may read what this one cannot
                errors.append(f"{codec.name}: {exc}")
                continue
            if codec not in used:
                used.append(codec)
            break
        else:
            raise TranscodeError(
                f"frame {len(frames) + 1} could not be decoded: " + "; ".join(errors)
            )
    return frames, used


def _decoded_photometric(info: FrameInfo, ts: TransferSyntax) -> str:
    pi = info.photometric_interpretation
    if info.samples_per_pixel == 3:
        # the DCT JPEG decoders convert YCbCr to RGB, OpenJPEG inverts RCT/ICT
        if ts.family == "jpeg" and ts.lossy and pi.startswith("YBR"):
            return "RGB"
        if ts.family in ("jpeg2000", "htj2k") and pi in ("YBR_RCT", "YBR_ICT"):
            return "RGB"
    return pi


# --------------------------------------------------------------------------
# attributes


def _cs(values: list[str]) -> bytes:
    return "\\".join(values).encode("ascii")


def _text_values(s: dsx.ScannedDataset, tag: int) -> list[str]:
    text = s.text(tag)
    return [v.strip() for v in text.split("\\")] if text else []


def new_uid(root: str | None = None) -> str:
    """A new UID: ``2.25.<UUID>`` (PS3.5 B.2), or `root` + "." + digits, at most 64 chars."""
    if root is None:
        return f"2.25.{uuid.uuid4().int}"
    return f"{root.rstrip('.')}.{uuid.uuid4().int}"[:64].rstrip(".")


def _lossy_edits(
    s: dsx.ScannedDataset,
    sop_class: str,
    original: str,
    new: str,
    ratio: float,
    method: str,
    target: TransferSyntax,
) -> dict[int, bytes | None]:
    """NEW_UID attributes (PS3.3 C.7.6.1.1.5, C.7.6.1.1.3, C.7.6.1.1.2)."""
    ratios = [*_text_values(s, _LOSSY_RATIO), f"{ratio:.4g}"[:16]]
    methods = [*_text_values(s, _LOSSY_METHOD), method]
    reference = dsx.element(_REFERENCED_SOP_CLASS_UID, "UI", sop_class.encode()) + dsx.element(
        _REFERENCED_SOP_INSTANCE_UID, "UI", original.encode()
    )
    edits: dict[int, bytes | None] = {
        _SOP_INSTANCE_UID: dsx.element(_SOP_INSTANCE_UID, "UI", new.encode()),
        _LOSSY: dsx.element(_LOSSY, "CS", b"01"),
        _LOSSY_RATIO: dsx.element(_LOSSY_RATIO, "DS", _cs(ratios)),
        _LOSSY_METHOD: dsx.element(_LOSSY_METHOD, "CS", _cs(methods)),
        _DERIVATION_DESCRIPTION: dsx.element(
            _DERIVATION_DESCRIPTION,
            "ST",
            f"{LOSSY_DERIVATION}{target.name}, ratio {ratio:.4g}".encode(),
        ),
        _SOURCE_IMAGE_SEQUENCE: dsx.element(_SOURCE_IMAGE_SEQUENCE, "SQ", dsx.item(reference)),
    }
    image_type = _text_values(s, _IMAGE_TYPE)
    if image_type:
        # C.7.6.1.1.2: value 1 is DERIVED once the pixels derive from another image
        edits[_IMAGE_TYPE] = dsx.element(_IMAGE_TYPE, "CS", _cs(["DERIVED", *image_type[1:]]))
    return edits


# --------------------------------------------------------------------------
# transcode


def _read(source: Buffer | str | os.PathLike[str]) -> bytes | memoryview:
    if isinstance(source, (str, os.PathLike)):
        return Path(source).read_bytes()
    return memoryview(source)


def transcode(
    source: Buffer | str | os.PathLike[str],
    target_ts: str | TransferSyntax,
    *,
    allow_lossy: bool = False,
    uid_root: str | None = None,
    new_sop_instance_uid: str | Callable[[str], str] | None = None,
    registry: CodecRegistry = DEFAULT_REGISTRY,
    limits: Limits = DEFAULT_LIMITS,
) -> tuple[bytes, TranscodeRecord]:
    """Transcode a Part 10 file (bytes or a path) into `target_ts`.

    Parameters
    ----------
    source : bytes-like or path
        The whole Part 10 file.
    target_ts : str or TransferSyntax
        The syntax wanted (UID or keyword).
    allow_lossy : bool
        Allow lossy output (the path is then NEW_UID: a new SOP Instance UID
        under `uid_root`, or ``2.25.<UUID>`` without one).
    new_sop_instance_uid : str or callable, optional
        The SOP Instance UID of a NEW_UID output, or a function of the
        original SOP Instance UID that mints it (the archive derives it from
        the received instance, so that a re-sent instance maps to the same
        one); instead of :func:`new_uid` under `uid_root`. Not used on the
        SUPPORTED paths, where the UID is kept.
    registry : CodecRegistry
        Where codecs are looked up.

    Returns
    -------
    (bytes, TranscodeRecord)
        The new Part 10 file and what was done.

    Raises
    ------
    TranscodeError
        The path is NOT_SUPPORTED (the message gives the reason), a codec is
        missing (the message names the package), or the pixel data cannot be
        read or written. Nothing is returned unchanged or without its pixels.

    References
    ----------
    PS3.2 Table N.5-9; PS3.5 Section 8 and Annex A.4; PS3.3 C.7.6.1.1.5.
    """
    raw = _read(source)
    view = memoryview(raw)
    meta = read_file_meta(view)
    src = _ts(meta.transfer_syntax_uid)
    dst = _ts(target_ts)
    decision = transcode_path(src, dst, allow_lossy=allow_lossy, registry=registry)
    if decision.path is TranscodePath.NOT_SUPPORTED:
        raise TranscodeError(f"NOT_SUPPORTED {src.uid} -> {dst.uid}: {decision.reason}")
    if src.native and dst.native:
        out = bytearray()
        record = transcode_part10(view, dst, out.extend, limits=limits)
        return bytes(out), record

    dataset = view[meta.dataset_offset :]
    if src.uid != _EXPLICIT_LE and src.native:
        explicit = bytearray()
        from storecore.transcode.native import transcode_dataset

        transcode_dataset(dataset, src, _EXPLICIT_LE, explicit.extend, limits=limits)
        dataset = memoryview(bytes(explicit))
    s = dsx.scan_explicit(dataset, limits=limits)
    sop_class = s.text(_SOP_CLASS_UID) or meta.media_storage_sop_class_uid or ""
    original_uid = s.text(_SOP_INSTANCE_UID) or meta.media_storage_sop_instance_uid or ""
    edits: dict[int, dsx.Edit] = {}
    codecs_used: list[Codec] = []
    ratio: float | None = None
    sop_instance_uid = original_uid

    if dsx.PIXEL_DATA in s.tokens:
        info = _info(s)
        n_frames = max(s.integer_string(_NUMBER_OF_FRAMES, 1), 1)
        if src.encapsulated:
            frames, codecs_used = _decode_frames(s, info, n_frames, src, registry)
            photometric = _decoded_photometric(info, src)
        else:
            frames = _native_frames(s, info, n_frames)
            photometric = info.photometric_interpretation
        info = FrameInfo(
            info.rows,
            info.columns,
            info.samples_per_pixel,
            info.bits_allocated,
            info.bits_stored,
            info.pixel_representation,
            photometric,
        )
        pixel_element: list[Buffer]
        if dst.encapsulated:
            pixel_element, encoder, photometric, method, size = _encode_frames(
                frames, info, dst, registry
            )
            codecs_used.append(encoder)
            uncompressed = len(frames) * math.prod(_shape(info)) * _dtype(info).itemsize
            ratio = uncompressed / max(size, 1)
        else:
            # the frames' own buffers, joined once with the rest of the file
            pixel_element = dsx.long_element(
                dsx.PIXEL_DATA,
                "OB" if info.bits_allocated <= 8 else "OW",
                [np.ascontiguousarray(f).data for f in frames],
            )
            method = ""
        edits[dsx.PIXEL_DATA] = pixel_element
        edits[dsx.EXTENDED_OFFSET_TABLE] = None
        edits[dsx.EXTENDED_OFFSET_TABLE_LENGTHS] = None
        if photometric != s.text(_PHOTOMETRIC):
            edits[_PHOTOMETRIC] = dsx.element(_PHOTOMETRIC, "CS", photometric.encode())
        if info.samples_per_pixel > 1:
            # interleaved samples, the only order the codecs give and take
            edits[_PLANAR_CONFIGURATION] = dsx.element(_PLANAR_CONFIGURATION, "US", b"\x00\x00")
        if decision.path is TranscodePath.NEW_UID:
            if new_sop_instance_uid is None:
                sop_instance_uid = new_uid(uid_root)
            elif isinstance(new_sop_instance_uid, str):
                sop_instance_uid = new_sop_instance_uid
            else:
                sop_instance_uid = new_sop_instance_uid(original_uid)
            if not is_valid_uid(sop_instance_uid) or sop_instance_uid == original_uid:
                raise TranscodeError(
                    f"the new SOP Instance UID {sop_instance_uid!r} is not a valid UID "
                    "different from the original (PS3.5 9.1)"
                )
            edits.update(
                _lossy_edits(
                    s, sop_class, original_uid, sop_instance_uid, ratio or 1.0, method, dst
                )
            )
        elif src.lossy and src.family == "jpeg" and s.text(_LOSSY) is None:
            # a DCT JPEG source is lossy by its process (PS3.5 A.4.1): keep that known
            edits[_LOSSY] = dsx.element(_LOSSY, "CS", b"01")
            if s.text(_LOSSY_METHOD) is None:
                edits[_LOSSY_METHOD] = dsx.element(_LOSSY_METHOD, "CS", _LOSSY_JPEG_METHOD.encode())
    elif decision.path is TranscodePath.NEW_UID:
        # no pixels, nothing lossy happened: the instance is the same one
        decision = PathDecision(TranscodePath.SUPPORTED)

    # the body as parts (views of the source, new elements, the codecs'
    # buffers), copied once into the output with the File Meta
    body: list[Buffer] = dsx.rewrite_parts(s, edits)
    if dst.native and dst.uid != _EXPLICIT_LE:
        from storecore.transcode.native import transcode_dataset

        out_body = bytearray()
        transcode_dataset(b"".join(body), _EXPLICIT_LE, dst, out_body.extend, limits=limits)
        body = [out_body]
    header = encode_file_meta(
        meta.media_storage_sop_class_uid or sop_class,
        sop_instance_uid,
        dst.uid,
        source_ae_title=meta.source_application_entity_title,
    )
    output = b"".join([header, *body])
    record = TranscodeRecord(
        source_ts=src.uid,
        target_ts=dst.uid,
        path=decision.path,
        codec=" -> ".join(c.version() for c in codecs_used) or "storecore.matrix (no pixel data)",
        original_sop_instance_uid=original_uid or None,
        sop_instance_uid=sop_instance_uid or None,
        bytes_in=len(view) - meta.dataset_offset,
        bytes_out=len(output) - len(header),
        ratio=ratio,
    )
    return output, record


def _encode_frames(
    frames: list[np.ndarray], info: FrameInfo, dst: TransferSyntax, registry: CodecRegistry
) -> tuple[list[Buffer], Codec, str, str, int]:
    reasons: list[str] = []

    def accept(codec: Codec) -> bool:
        reason = codec.can_encode(dst.uid, info)
        if reason:
            reasons.append(f"{codec.name}: {reason}")
        return reason is None

    try:
        codec = registry.first(dst.uid, "encode", accept)
    except TranscodeError as exc:
        if reasons:  # codecs are installed, none takes this image
            raise TranscodeError(
                f"no installed codec encodes this image into {dst.name}: " + "; ".join(reasons)
            ) from None
        raise exc from None
    encoded = []
    for f in frames:
        try:
            encoded.append(codec.encode(dst.uid, f, info))
        except TranscodeError:
            raise
        except Exception as exc:
            raise TranscodeError(f"{codec.name} could not encode a frame: {exc}") from None
    photometric = (
        encoded[0].photometric_interpretation if encoded else info.photometric_interpretation
    )
    method = encoded[0].lossy_method if encoded else ""
    data = [e.data for e in encoded]
    size = sum(memoryview(d).nbytes for d in data)
    return dsx.encapsulated_pixel_data(data), codec, photometric, method, size

"""The codec registry: pixel codecs keyed by Transfer Syntax UID and direction.

Every codec here wraps a well-kept library; storecore writes no codec of its
own. A codec reports :meth:`Codec.is_available`; asking for one whose library
is missing raises :class:`~storecore.errors.TranscodeError` naming the package
to install. Several codecs for one syntax are tried in an explicit precedence:
user-registered, then ``storecore.codecs`` entry points, then the built-ins
below, which are ordered fastest first.

Why this order (measured on the 512x512 16-bit CT of ``benchmarks/_corpus.py``,
one frame, medians of 20 runs on the 2-core reference machine; reproduce with
``PYTHONPATH=src python3 -m pytest benchmarks/test_bench_codec.py --benchmark-only``):

=====================  ==========================================  =========================
syntax / direction     imagecodecs (first)                         fallback
=====================  ==========================================  =========================
JPEG lossless decode   libjpeg-turbo 3.1 1.4 ms                    pylibjpeg-libjpeg 8.4 ms
JPEG lossless encode   libjpeg-turbo 3.1 7.5 ms                    (none: pydicom has none)
JPEG baseline decode   libjpeg-turbo; matches GDCM/Pillow/dcmtk    pylibjpeg-libjpeg (differs
                                                                   by +-1 on ~1% of pixels)
JPEG-LS decode         CharLS 2.4 4.2 ms                           pyjpegls 4.4, libjpeg 19.5
JPEG-LS encode         CharLS 2.4 5.1 ms                           pyjpegls 7.7 ms
JPEG 2000 decode       OpenJPEG 2.5, 2 threads 18.4 ms             pylibjpeg-openjpeg 31.4 ms
JPEG 2000 encode       OpenJPEG 2.5, 2 threads 20.2 ms (lossless)  pylibjpeg-openjpeg 35.8 ms
HTJ2K decode / encode  OpenJPH 1.2 / 2.2 ms                        pylibjpeg-openjpeg (decode)
RLE decode / encode    (imagecodecs: decode only, 0.24 ms)         pylibjpeg-rle 0.25 / 5.2 ms
=====================  ==========================================  =========================

RLE is the exception: pylibjpeg-rle comes first because it is the only one of
the two that also encodes, and its decoder is as fast. python-gdcm is not
registered: in process it is slower than imagecodecs for every pair but RLE
encoding (ANCHORS: 1.4 ms), and it works on whole datasets, not frames.

References
----------
PS3.5 Section 8.2 and Annex A.4 (encapsulated transfer syntaxes); pylibjpeg's
entry points named by Transfer Syntax UID, the model of this registry.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final, Literal

import numpy as np

from storecore.errors import TranscodeError

__all__ = [
    "Codec",
    "CodecRegistry",
    "Encoded",
    "FrameInfo",
    "DEFAULT_REGISTRY",
    "BUILTIN_CODECS",
]

log = logging.getLogger(__name__)

Direction = Literal["decode", "encode"]

# Transfer Syntax UIDs (PS3.6 Table A-1), by the names PS3.5 Annex A.4 gives.
RLE: Final = "1.2.840.10008.1.2.5"
JPEG_BASELINE: Final = "1.2.840.10008.1.2.4.50"
JPEG_EXTENDED: Final = "1.2.840.10008.1.2.4.51"
JPEG_LOSSLESS: Final = "1.2.840.10008.1.2.4.57"
JPEG_LOSSLESS_SV1: Final = "1.2.840.10008.1.2.4.70"
JPEG_LS_LOSSLESS: Final = "1.2.840.10008.1.2.4.80"
JPEG_LS_NEAR_LOSSLESS: Final = "1.2.840.10008.1.2.4.81"
J2K_LOSSLESS: Final = "1.2.840.10008.1.2.4.90"
J2K: Final = "1.2.840.10008.1.2.4.91"
J2K_MC_LOSSLESS: Final = "1.2.840.10008.1.2.4.92"
J2K_MC: Final = "1.2.840.10008.1.2.4.93"
HTJ2K_LOSSLESS: Final = "1.2.840.10008.1.2.4.201"
HTJ2K_LOSSLESS_RPCL: Final = "1.2.840.10008.1.2.4.202"
HTJ2K: Final = "1.2.840.10008.1.2.4.203"

_JPEG: Final = (JPEG_BASELINE, JPEG_EXTENDED, JPEG_LOSSLESS, JPEG_LOSSLESS_SV1)
_JPEG_LS: Final = (JPEG_LS_LOSSLESS, JPEG_LS_NEAR_LOSSLESS)
_J2K: Final = (J2K_LOSSLESS, J2K)
_HTJ2K: Final = (HTJ2K_LOSSLESS, HTJ2K_LOSSLESS_RPCL, HTJ2K)

#: The lossy encodings' settings: JPEG quality, JPEG-LS NEAR, J2K ratio.
JPEG_QUALITY: Final = 90
JPEG_LS_NEAR: Final = 2
J2K_RATIO: Final = 10.0


@dataclass(frozen=True, slots=True)
class FrameInfo:
    """The Image Pixel Module attributes a codec needs (PS3.3 C.7.6.3)."""

    rows: int
    columns: int
    samples_per_pixel: int
    bits_allocated: int
    bits_stored: int
    pixel_representation: int
    photometric_interpretation: str

    @property
    def signed(self) -> bool:
        return self.pixel_representation == 1


@dataclass(frozen=True, slots=True)
class Encoded:
    """One encoded frame, and the Photometric Interpretation it now has."""

    data: bytes
    photometric_interpretation: str
    #: the Lossy Image Compression Method (0028,2114) defined term; "" if lossless
    lossy_method: str = ""


class Codec:
    """A frame codec from one library, for some syntaxes, in one or both directions.

    Subclasses set the class attributes and implement :meth:`decode` and/or
    :meth:`encode`; :meth:`can_encode` says why a frame format is out of reach.
    """

    #: shown in records and errors, e.g. "imagecodecs.jpeg8"
    name: str = ""
    #: the PyPI distribution to install
    package: str = ""
    #: the modules to import (all must be importable)
    modules: tuple[str, ...] = ()
    decodes: frozenset[str] = frozenset()
    encodes: frozenset[str] = frozenset()
    #: target syntaxes this codec encodes lossily (the output path is NEW_UID)
    lossy_encodes: frozenset[str] = frozenset()

    _available: bool | None = None

    def is_available(self) -> bool:
        """True if the library can be imported (checked once, without importing)."""
        if self._available is None:
            self._available = all(importlib.util.find_spec(m) is not None for m in self.modules)
        return self._available

    def require(self) -> None:
        """Raise TranscodeError naming the package when the library is missing."""
        if not self.is_available():
            raise TranscodeError(
                f"codec {self.name} needs the {self.package!r} package: "
                f"pip install {self.package} (or storecore[codecs])"
            )

    def version(self) -> str:
        try:
            return f"{self.name} ({self.package} {importlib.metadata.version(self.package)})"
        except importlib.metadata.PackageNotFoundError:
            return self.name

    def handles(self, uid: str, direction: Direction) -> bool:
        return uid in (self.decodes if direction == "decode" else self.encodes)

    def can_encode(self, uid: str, info: FrameInfo) -> str | None:
        """None if frames of `info` can be encoded into `uid`, else why not."""
        return None

    def decode(self, uid: str, data: bytes, info: FrameInfo) -> np.ndarray:
        """One frame's compressed bytes -> (rows, columns[, samples]) array."""
        raise NotImplementedError

    def encode(self, uid: str, frame: np.ndarray, info: FrameInfo) -> Encoded:
        """One (rows, columns[, samples]) array, values within Bits Stored -> bytes."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<Codec {self.name}>"


def _module(name: str) -> Any:
    return importlib.import_module(name)


# --------------------------------------------------------------------------
# imagecodecs: libjpeg-turbo, CharLS, OpenJPEG, OpenJPH (all release the GIL)


class ImagecodecsJPEG(Codec):
    """JPEG through libjpeg-turbo 3 (8/12-bit DCT, lossless processes 14 and 14 SV1)."""

    name = "imagecodecs.jpeg8"
    package = "imagecodecs"
    modules = ("imagecodecs",)
    decodes = frozenset(_JPEG)
    encodes = frozenset({JPEG_BASELINE, JPEG_EXTENDED, JPEG_LOSSLESS, JPEG_LOSSLESS_SV1})
    lossy_encodes = frozenset({JPEG_BASELINE, JPEG_EXTENDED})

    def can_encode(self, uid: str, info: FrameInfo) -> str | None:
        if info.samples_per_pixel not in (1, 3):
            return f"JPEG encodes 1 or 3 samples per pixel, not {info.samples_per_pixel}"
        if uid == JPEG_BASELINE and info.bits_stored > 8:
            return f"JPEG Baseline encodes 8 bits, not Bits Stored {info.bits_stored}"
        if uid == JPEG_EXTENDED and info.bits_stored > 12:
            return f"JPEG Extended encodes at most 12 bits, not Bits Stored {info.bits_stored}"
        if info.bits_stored > 16:
            return f"JPEG lossless encodes at most 16 bits, not Bits Stored {info.bits_stored}"
        if uid in (JPEG_LOSSLESS, JPEG_LOSSLESS_SV1) and info.bits_stored < 2:
            return "JPEG lossless needs at least 2 bits"
        return None

    def decode(self, uid: str, data: bytes, info: FrameInfo) -> np.ndarray:
        ic = _module("imagecodecs")
        if uid in (JPEG_LOSSLESS, JPEG_LOSSLESS_SV1) or info.samples_per_pixel == 1:
            # lossless JPEG carries no colour transform (PS3.5 A.4.1 and
            # libjpeg-turbo refuse one); JPEG marks nothing else reliably.
            return np.asarray(ic.jpeg8_decode(data, colorspace=None))
        if info.photometric_interpretation == "RGB":
            # PS3.5 A.4.1 / PS3.3 C.7.6.3.1.2: RGB means no colour transform was
            # applied, whatever the JFIF default would suggest
            return np.asarray(ic.jpeg8_decode(data, colorspace="RGB", outcolorspace="RGB"))
        # YBR_FULL(_422): libjpeg-turbo converts YCbCr to RGB (as dcmdjpeg, GDCM
        # and Pillow do); the output's Photometric Interpretation becomes RGB
        return np.asarray(ic.jpeg8_decode(data))

    def encode(self, uid: str, frame: np.ndarray, info: FrameInfo) -> Encoded:
        ic = _module("imagecodecs")
        rgb = info.samples_per_pixel == 3
        if uid in (JPEG_LOSSLESS, JPEG_LOSSLESS_SV1):
            # process 14, selection value 1 (valid for both syntaxes); no colour
            # transform, so the Photometric Interpretation stays as it is
            data = ic.jpeg8_encode(
                _unsigned(frame, info),
                lossless=True,
                predictor=1,
                bitspersample=max(info.bits_stored, 2),
                colorspace="RGB" if rgb else None,
                outcolorspace="RGB" if rgb else None,
            )
            return Encoded(bytes(data), info.photometric_interpretation)
        if rgb and info.photometric_interpretation != "RGB":
            raise TranscodeError(
                f"JPEG lossy encoding of {info.photometric_interpretation} is not supported "
                "(RGB or MONOCHROME sources only)"
            )
        data = ic.jpeg8_encode(
            _unsigned(frame, info),
            level=JPEG_QUALITY,
            bitspersample=8 if uid == JPEG_BASELINE else 12,
            colorspace="RGB" if rgb else None,
            outcolorspace="YCbCr" if rgb else None,
            # 4:2:2, the subsampling PS3.3 C.7.6.3.1.2 names (YBR_FULL_422);
            # libjpeg-turbo's default 4:2:0 has no DICOM name
            subsampling="422" if rgb else None,
        )
        return Encoded(
            bytes(data), "YBR_FULL_422" if rgb else info.photometric_interpretation, "ISO_10918_1"
        )


class ImagecodecsJPEGLS(Codec):
    """JPEG-LS through CharLS 2.4."""

    name = "imagecodecs.jpegls"
    package = "imagecodecs"
    modules = ("imagecodecs",)
    decodes = frozenset(_JPEG_LS)
    encodes = frozenset(_JPEG_LS)
    lossy_encodes = frozenset({JPEG_LS_NEAR_LOSSLESS})

    def can_encode(self, uid: str, info: FrameInfo) -> str | None:
        reason = _jpegls_can_encode(info)
        if reason is None and info.bits_stored not in (8, 16):
            # imagecodecs codes the precision P of the dtype; P must be Bits
            # Stored for readers (pydicom, dcmtk) to sign-extend a signed image:
            # pyjpegls, next in precedence, sets it
            return f"imagecodecs codes 8 or 16 bits, not Bits Stored {info.bits_stored}"
        return reason

    def decode(self, uid: str, data: bytes, info: FrameInfo) -> np.ndarray:
        return np.asarray(_module("imagecodecs").jpegls_decode(data))

    def encode(self, uid: str, frame: np.ndarray, info: FrameInfo) -> Encoded:
        ic = _module("imagecodecs")
        near = JPEG_LS_NEAR if uid == JPEG_LS_NEAR_LOSSLESS else 0
        data = ic.jpegls_encode(_unsigned(frame, info, contiguous=True), level=near)
        return Encoded(bytes(data), info.photometric_interpretation, "ISO_14495_1" if near else "")


class ImagecodecsJ2K(Codec):
    """JPEG 2000 Part 1 through OpenJPEG 2.5, on both cores."""

    name = "imagecodecs.jpeg2k"
    package = "imagecodecs"
    modules = ("imagecodecs",)
    decodes = frozenset(_J2K)
    # lossless only: imagecodecs' lossy "level" is OpenJPEG's distortion
    # (PSNR) target, not a compression ratio; the lossy .91 encoder is
    # pylibjpeg-openjpeg's, which takes the ratio (J2K_RATIO) itself
    encodes = frozenset({J2K_LOSSLESS})

    def can_encode(self, uid: str, info: FrameInfo) -> str | None:
        if info.bits_stored > 24:
            return f"JPEG 2000 encodes at most 24 bits here, not Bits Stored {info.bits_stored}"
        if info.samples_per_pixel not in (1, 3):
            return f"JPEG 2000 encodes 1 or 3 samples per pixel, not {info.samples_per_pixel}"
        return None

    def decode(self, uid: str, data: bytes, info: FrameInfo) -> np.ndarray:
        return np.asarray(_module("imagecodecs").jpeg2k_decode(data, numthreads=2))

    def encode(self, uid: str, frame: np.ndarray, info: FrameInfo) -> Encoded:
        ic = _module("imagecodecs")
        # no multiple-component transform: RGB stays RGB, so the Photometric
        # Interpretation needs no YBR_RCT/YBR_ICT rewrite (PS3.5 A.4.4 allows it)
        data = ic.jpeg2k_encode(
            _masked(frame, info, contiguous=True),
            level=0,
            codecformat="J2K",
            reversible=True,
            mct=False,
            bitspersample=info.bits_stored,
            numthreads=2,
        )
        return Encoded(bytes(data), info.photometric_interpretation)


class ImagecodecsHTJ2K(Codec):
    """High-Throughput JPEG 2000 (Part 15) through OpenJPH."""

    name = "imagecodecs.htj2k"
    package = "imagecodecs"
    modules = ("imagecodecs",)
    decodes = frozenset(_HTJ2K)
    encodes = frozenset({HTJ2K_LOSSLESS})

    def can_encode(self, uid: str, info: FrameInfo) -> str | None:
        if info.samples_per_pixel != 1:
            return "HTJ2K encoding is offered for one sample per pixel only in this release"
        if info.bits_stored not in (8, 16) or info.bits_allocated != info.bits_stored:
            return "HTJ2K encoding is offered for Bits Stored equal to Bits Allocated (8/16) only"
        return None

    def decode(self, uid: str, data: bytes, info: FrameInfo) -> np.ndarray:
        return np.asarray(_module("imagecodecs").htj2k_decode(data))

    def encode(self, uid: str, frame: np.ndarray, info: FrameInfo) -> Encoded:
        data = _module("imagecodecs").htj2k_encode(np.ascontiguousarray(frame), reversible=True)
        return Encoded(bytes(data), info.photometric_interpretation)


class ImagecodecsRLE(Codec):
    """DICOM RLE (PS3.5 Annex G) decoding through imagecodecs."""

    name = "imagecodecs.dicomrle"
    package = "imagecodecs"
    modules = ("imagecodecs",)
    decodes = frozenset({RLE})

    def decode(self, uid: str, data: bytes, info: FrameInfo) -> np.ndarray:
        dtype = _dtype(info).newbyteorder(">") if info.bits_allocated > 8 else _dtype(info)
        # segments are most significant byte first (Annex G.2); imagecodecs
        # returns them reassembled in the order of the dtype it is given
        raw = _module("imagecodecs").dicomrle_decode(data, dtype.str)
        return _planar(np.frombuffer(raw, dtype), info)


# --------------------------------------------------------------------------
# pylibjpeg and its plugins, pyjpegls


class PylibjpegRLE(Codec):
    """DICOM RLE through pylibjpeg-rle (Rust), both directions."""

    name = "pylibjpeg-rle"
    package = "pylibjpeg-rle"
    modules = ("rle",)
    decodes = frozenset({RLE})
    encodes = frozenset({RLE})

    def can_encode(self, uid: str, info: FrameInfo) -> str | None:
        if info.bits_allocated not in (8, 16, 32):
            return f"RLE encodes Bits Allocated 8, 16 or 32, not {info.bits_allocated}"
        if info.photometric_interpretation == "YBR_FULL_422":
            return "RLE cannot carry YBR_FULL_422 (PS3.5 Annex G.2 / PS3.3 C.7.6.3.1.2)"
        return None

    def decode(self, uid: str, data: bytes, info: FrameInfo) -> np.ndarray:
        utils = _module("rle.utils")
        n = info.rows * info.columns
        raw = utils.decode_frame(data, n, info.bits_allocated, "<")
        # planes one after another, each little endian after this call
        return _planar(np.frombuffer(raw, _dtype(info)), info)

    def encode(self, uid: str, frame: np.ndarray, info: FrameInfo) -> Encoded:
        utils = _module("rle.utils")
        arr = np.ascontiguousarray(frame.astype(_dtype(info).newbyteorder("<"), copy=False))
        data = utils.encode_frame(
            arr.tobytes(),
            info.rows,
            info.columns,
            info.samples_per_pixel,
            info.bits_allocated,
            "<",
        )
        return Encoded(bytes(data), info.photometric_interpretation)


class PylibjpegLibjpeg(Codec):
    """JPEG and JPEG-LS decoding through pylibjpeg-libjpeg (Thomas Richter's libjpeg)."""

    name = "pylibjpeg-libjpeg"
    package = "pylibjpeg-libjpeg"
    modules = ("libjpeg",)
    decodes = frozenset(_JPEG + _JPEG_LS)

    def decode(self, uid: str, data: bytes, info: FrameInfo) -> np.ndarray:
        # colour_transform 1: YCbCr -> RGB for colour DCT frames, as libjpeg-turbo does
        transform = (
            1
            if uid in (JPEG_BASELINE, JPEG_EXTENDED)
            and info.samples_per_pixel == 3
            and info.photometric_interpretation != "RGB"
            else 0
        )
        return np.asarray(_module("libjpeg").decode(data, colour_transform=transform))


class PylibjpegOpenjpeg(Codec):
    """JPEG 2000 and HTJ2K through pylibjpeg-openjpeg (OpenJPEG 2.5)."""

    name = "pylibjpeg-openjpeg"
    package = "pylibjpeg-openjpeg"
    modules = ("openjpeg",)
    decodes = frozenset(_J2K + _HTJ2K)
    encodes = frozenset(_J2K)
    lossy_encodes = frozenset({J2K})

    def can_encode(self, uid: str, info: FrameInfo) -> str | None:
        if info.bits_stored > 24 or info.samples_per_pixel not in (1, 3):
            return "JPEG 2000 (pylibjpeg-openjpeg) encodes 1 or 3 samples of up to 24 bits"
        return None

    def decode(self, uid: str, data: bytes, info: FrameInfo) -> np.ndarray:
        return np.asarray(_module("openjpeg").decode(data))

    def encode(self, uid: str, frame: np.ndarray, info: FrameInfo) -> Encoded:
        lossless = uid == J2K_LOSSLESS
        data = _module("openjpeg").encode(
            _masked(frame, info, contiguous=True),
            bits_stored=info.bits_stored,
            photometric_interpretation=0 if info.samples_per_pixel == 1 else 1,
            use_mct=False,
            compression_ratios=None if lossless else [J2K_RATIO],
            codec_format=0,
        )
        return Encoded(
            bytes(data), info.photometric_interpretation, "" if lossless else "ISO_15444_1"
        )


class Pyjpegls(Codec):
    """JPEG-LS through pyjpegls (CharLS)."""

    name = "pyjpegls"
    package = "pyjpegls"
    modules = ("jpeg_ls",)
    decodes = frozenset(_JPEG_LS)
    encodes = frozenset(_JPEG_LS)
    lossy_encodes = frozenset({JPEG_LS_NEAR_LOSSLESS})

    def can_encode(self, uid: str, info: FrameInfo) -> str | None:
        return _jpegls_can_encode(info)

    def decode(self, uid: str, data: bytes, info: FrameInfo) -> np.ndarray:
        raw, params = _module("jpeg_ls").decode_buffer(data)
        dtype = np.uint8 if params["bits_per_sample"] <= 8 else np.uint16
        shape = (params["height"], params["width"], params["components"])
        if params["interleave_mode"] == 0 and params["components"] > 1:
            arr = np.frombuffer(raw, dtype).reshape(shape[2], shape[0], shape[1])
            return arr.transpose(1, 2, 0)
        return np.frombuffer(raw, dtype).reshape(shape)

    def encode(self, uid: str, frame: np.ndarray, info: FrameInfo) -> Encoded:
        near = JPEG_LS_NEAR if uid == JPEG_LS_NEAR_LOSSLESS else 0
        arr = _unsigned(frame, info, contiguous=True)
        if info.bits_stored > 8 and arr.dtype == np.uint8:
            arr = arr.astype(np.uint16)
        data = _module("jpeg_ls").encode_buffer(
            arr.tobytes(),
            info.rows,
            info.columns,
            info.samples_per_pixel,
            info.bits_stored,  # the precision P readers sign-extend from
            lossy_error=near,
            interleave_mode=0 if info.samples_per_pixel == 1 else 2,
        )
        return Encoded(bytes(data), info.photometric_interpretation, "ISO_14495_1" if near else "")


# --------------------------------------------------------------------------
# frame helpers


def _jpegls_can_encode(info: FrameInfo) -> str | None:
    if info.bits_stored > 16 or info.bits_stored < 2:
        return f"JPEG-LS encodes 2 to 16 bits, not Bits Stored {info.bits_stored}"
    if info.samples_per_pixel not in (1, 3):
        return f"JPEG-LS encodes 1 or 3 samples per pixel, not {info.samples_per_pixel}"
    return None


def _dtype(info: FrameInfo) -> np.dtype[Any]:
    size = {8: 1, 16: 2, 32: 4}.get(info.bits_allocated)
    if size is None:
        raise TranscodeError(f"Bits Allocated {info.bits_allocated} has no codec path")
    return np.dtype(f"<{'i' if info.signed else 'u'}{size}")


def _planar(flat: np.ndarray, info: FrameInfo) -> np.ndarray:
    if info.samples_per_pixel == 1:
        return flat.reshape(info.rows, info.columns)
    return flat.reshape(info.samples_per_pixel, info.rows, info.columns).transpose(1, 2, 0)


def _unsigned(frame: np.ndarray, info: FrameInfo, *, contiguous: bool = False) -> np.ndarray:
    """Values as the unsigned Bits Stored pattern (JPEG and JPEG-LS have no sign:
    a signed image is coded as its two's complement bits, PS3.5 A.4.1/A.4.3)."""
    if info.bits_stored <= 8:
        dtype: type[np.unsignedinteger[Any]] = np.uint8
    elif info.bits_stored <= 16:
        dtype = np.uint16
    else:
        dtype = np.uint32
    mask = (1 << info.bits_stored) - 1
    out = (frame.astype(np.int64) & mask).astype(dtype)
    return np.ascontiguousarray(out)


def _masked(frame: np.ndarray, info: FrameInfo, *, contiguous: bool = False) -> np.ndarray:
    """Values within Bits Stored, signed or not as Pixel Representation says
    (JPEG 2000 codes the sign itself)."""
    if not info.signed:
        return _unsigned(frame, info, contiguous=contiguous)
    dtype = np.int8 if info.bits_stored <= 8 else np.int16 if info.bits_stored <= 16 else np.int32
    out = frame.astype(dtype, copy=False)
    return np.ascontiguousarray(out) if contiguous else out


# --------------------------------------------------------------------------
# the registry

#: The built-ins, in precedence order within each syntax: fastest first.
BUILTIN_CODECS: Final[tuple[Codec, ...]] = (
    ImagecodecsJPEG(),
    PylibjpegLibjpeg(),
    ImagecodecsJPEGLS(),
    Pyjpegls(),
    ImagecodecsHTJ2K(),
    ImagecodecsJ2K(),
    PylibjpegOpenjpeg(),
    PylibjpegRLE(),
    ImagecodecsRLE(),
)

ENTRY_POINT_GROUP: Final = "storecore.codecs"


class CodecRegistry:
    """Codecs by (Transfer Syntax UID, direction), in explicit precedence.

    Precedence: codecs given to :meth:`register` (most recent first), then the
    ``storecore.codecs`` entry points (loaded on first look-up; each names a
    :class:`Codec` subclass or instance), then the built-ins. A plug-in that
    fails to load is logged and left out: it never breaks a look-up.
    """

    def __init__(
        self, builtins: Iterable[Codec] = BUILTIN_CODECS, *, entry_points: bool = True
    ) -> None:
        self._user: list[Codec] = []
        self._plugins: list[Codec] | None = None if entry_points else []
        self._builtins = list(builtins)

    def register(self, codec: Codec) -> None:
        """Add a codec ahead of every other one for the syntaxes it handles."""
        self._user.insert(0, codec)

    def _load_plugins(self) -> list[Codec]:
        if self._plugins is None:
            plugins: list[Codec] = []
            for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
                try:
                    obj = ep.load()
                    plugins.append(obj() if isinstance(obj, type) else obj)
                except Exception as exc:  # a broken plug-in is a status, not a crash
                    log.warning("codec entry point %s failed to load: %s", ep.name, exc)
            self._plugins = plugins
        return self._plugins

    def codecs(self, uid: str, direction: Direction) -> list[Codec]:
        """Every codec for (uid, direction), installed or not, in precedence order."""
        every = self._user + self._load_plugins() + self._builtins
        return [c for c in every if c.handles(uid, direction)]

    def available(self, uid: str, direction: Direction) -> list[Codec]:
        """The installed codecs for (uid, direction), in precedence order."""
        return [c for c in self.codecs(uid, direction) if c.is_available()]

    def missing_reason(self, uid: str, direction: Direction) -> str:
        """Why no codec is available: the packages that would provide one."""
        packages = list(dict.fromkeys(c.package for c in self.codecs(uid, direction)))
        if not packages:
            return f"no codec {direction}s {uid}"
        return f"no codec to {direction} {uid} is installed: pip install {' or '.join(packages)}"

    def first(
        self, uid: str, direction: Direction, accept: Callable[[Codec], bool] | None = None
    ) -> Codec:
        """The first available codec (that `accept` takes); TranscodeError naming the packages."""
        for codec in self.available(uid, direction):
            if accept is None or accept(codec):
                return codec
        raise TranscodeError(self.missing_reason(uid, direction))


#: The process-wide registry the matrix consults by default.
DEFAULT_REGISTRY: Final = CodecRegistry()

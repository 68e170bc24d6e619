"""The codec registry: pixel codecs keyed by Transfer Syntax UID and direction.

Every codec here wraps a well-kept library; storecore writes no codec of its
own. A codec reports :meth:`Codec.is_available`; asking for one whose library
is missing raises :class:`~storecore.errors.TranscodeError` naming the package
to install. Several codecs for one syntax are tried in an explicit precedence:
user-registered, then ``storecore.codecs`` entry points, then the built-ins
below, which are ordered fastest first.

Why this order (per syntax and direction; measured by
``benchmarks/codec_compare.py`` on the 512x512 16-bit CT of
``benchmarks/_corpus.py``, file to file, medians of interleaved rounds on the
2-core reference machine; the figures of one run are in benchmarks/README.md,
"Codecs"):

=====================  =============================================  ==========================
syntax / direction     first                                          then
=====================  =============================================  ==========================
JPEG lossless decode   imagecodecs (libjpeg-turbo 3.1) 1.4 ms         pylibjpeg-libjpeg 8-13 ms
JPEG lossless encode   imagecodecs (libjpeg-turbo 3.1) 7.6 ms         (python-gdcm: 10.3 ms)
JPEG baseline decode   imagecodecs; matches GDCM/Pillow/dcmtk         pylibjpeg-libjpeg (differs
                                                                      by +-1 on ~1% of pixels)
JPEG-LS decode         imagecodecs (CharLS 2.4) 4.5 ms                pyjpegls 3.9-4.4 (CharLS
                                                                      2.x: the same coder),
                                                                      pylibjpeg-libjpeg 23 ms
JPEG-LS encode         imagecodecs (CharLS 2.4) 4.9 ms                pyjpegls 7.7 ms (and any
                                                                      Bits Stored)
JPEG 2000 decode       imagecodecs (OpenJPEG 2.5, 2 threads) 19.5 ms  pylibjpeg-openjpeg 27.5 ms
JPEG 2000 encode       imagecodecs (OpenJPEG 2.5) 30 ms (lossless)    pylibjpeg-openjpeg (lossy)
HTJ2K decode / encode  imagecodecs (OpenJPH) 1.2 / 2.2 ms             pylibjpeg-openjpeg (decode)
RLE decode             imagecodecs 0.22 ms                            pylibjpeg-rle 0.30 ms
RLE encode             python-gdcm 1.0 ms                             pylibjpeg-rle 4.5 ms
=====================  =============================================  ==========================

pylibjpeg-libjpeg comes last wherever it appears: it is the slowest decoder of
every syntax it reads (it once came before CharLS for JPEG-LS, at 5x the time).
python-gdcm is registered for RLE encoding only, the one pair where it is the
fastest library (imagecodecs has no DICOM RLE encoder: ``dicomrle_encode``
raises NotImplementedError); it is optional: without it pylibjpeg-rle encodes.
No installed library encodes JPEG 2000 Part 2 multi-component (OpenJPEG,
OpenJPH and GDCM code Part 1/15 only): those targets are NOT_SUPPORTED with
that reason (:data:`NO_ENCODER`).

References
----------
PS3.5 Section 8.2 and Annex A.4 (encapsulated transfer syntaxes); pylibjpeg's
entry points named by Transfer Syntax UID, the model of this registry.
"""

from __future__ import annotations

import ctypes
import importlib
import importlib.metadata
import importlib.util
import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final, Literal

import numpy as np

from storecore._typing import Buffer
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

#: Lossy Image Compression Method (0028,2114) defined terms, by lossy target
#: syntax (PS3.3 C.7.6.1.1.5.1)
LOSSY_METHOD: Final = {
    JPEG_BASELINE: "ISO_10918_1",
    JPEG_EXTENDED: "ISO_10918_1",
    JPEG_LS_NEAR_LOSSLESS: "ISO_14495_1",
    J2K: "ISO_15444_1",
    J2K_MC: "ISO_15444_2",
    HTJ2K: "ISO_15444_15",
}

#: Why no built-in encodes these syntaxes (the matrix's NOT_SUPPORTED reason).
NO_ENCODER: Final = {
    uid: "no installed library encodes JPEG 2000 Part 2 multi-component transforms "
    "(OpenJPEG, OpenJPH and GDCM encode Part 1 and Part 15 only)"
    for uid in (J2K_MC_LOSSLESS, J2K_MC)
}


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

    #: the codestream: bytes, or a view of the library's own buffer (kept alive
    #: by the view), copied once when the file is assembled
    data: Buffer
    photometric_interpretation: str
    #: the Lossy Image Compression Method (0028,2114) defined term; "" if lossless
    lossy_method: str = ""


class Codec:
    """A frame codec from one library, for some syntaxes, in one or both directions.

    Subclasses set the class attributes and implement :meth:`decode` and/or
    :meth:`_encode` (the library call: one frame in, its bytes out);
    :meth:`encode` wraps those bytes with the output's Photometric
    Interpretation and, for a lossy target, its Lossy Image Compression
    Method. :meth:`can_encode` says why a frame format is out of reach.
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
    #: decode() reads its data through the buffer protocol: the matrix hands it
    #: a view of the file's fragment instead of a bytes copy
    decodes_buffers: bool = False

    _available: bool | None = None
    _version: str | None = None

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
        """The name and the package's version, as records show it (looked up once:
        importlib.metadata parses the distribution's METADATA, ~0.2 ms a call)."""
        if self._version is None:
            try:
                version = importlib.metadata.version(self.package)
                self._version = f"{self.name} ({self.package} {version})"
            except importlib.metadata.PackageNotFoundError:
                self._version = self.name
        return self._version

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
        lossy = uid in self.lossy_encodes
        data = self._encode(uid, frame, info)
        return Encoded(
            data if isinstance(data, (bytes, memoryview)) else bytes(data),
            self.encoded_photometric(uid, info),
            LOSSY_METHOD[uid] if lossy else "",
        )

    def _encode(self, uid: str, frame: np.ndarray, info: FrameInfo) -> Buffer:
        """The library call of :meth:`encode`: one frame's codestream."""
        raise NotImplementedError

    def encoded_photometric(self, uid: str, info: FrameInfo) -> str:
        """The Photometric Interpretation of the encoded frames (PS3.5 8.2)."""
        return info.photometric_interpretation

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
    decodes_buffers = True  # imagecodecs reads any contiguous buffer
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
        if (
            uid in self.lossy_encodes
            and info.samples_per_pixel == 3
            and info.photometric_interpretation != "RGB"
        ):
            return (
                f"JPEG lossy encoding of {info.photometric_interpretation} is not supported "
                "(RGB or MONOCHROME sources only)"
            )
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

    def encoded_photometric(self, uid: str, info: FrameInfo) -> str:
        if uid in self.lossy_encodes and info.samples_per_pixel == 3:
            return "YBR_FULL_422"
        # lossless: no colour transform, the Photometric Interpretation stays
        return info.photometric_interpretation

    def _encode(self, uid: str, frame: np.ndarray, info: FrameInfo) -> Buffer:
        ic = _module("imagecodecs")
        rgb = info.samples_per_pixel == 3
        if uid in (JPEG_LOSSLESS, JPEG_LOSSLESS_SV1):
            # process 14, selection value 1 (valid for both syntaxes)
            return ic.jpeg8_encode(  # type: ignore[no-any-return]
                _unsigned(frame, info),
                lossless=True,
                predictor=1,
                bitspersample=max(info.bits_stored, 2),
                colorspace="RGB" if rgb else None,
                outcolorspace="RGB" if rgb else None,
            )
        return ic.jpeg8_encode(  # type: ignore[no-any-return]
            _unsigned(frame, info),
            level=JPEG_QUALITY,
            bitspersample=8 if uid == JPEG_BASELINE else 12,
            colorspace="RGB" if rgb else None,
            outcolorspace="YCbCr" if rgb else None,
            # 4:2:2, the subsampling PS3.3 C.7.6.3.1.2 names (YBR_FULL_422);
            # libjpeg-turbo's default 4:2:0 has no DICOM name
            subsampling="422" if rgb else None,
        )


class ImagecodecsJPEGLS(Codec):
    """JPEG-LS through CharLS 2.4."""

    name = "imagecodecs.jpegls"
    package = "imagecodecs"
    modules = ("imagecodecs",)
    decodes_buffers = True  # imagecodecs reads any contiguous buffer
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

    def _encode(self, uid: str, frame: np.ndarray, info: FrameInfo) -> Buffer:
        near = JPEG_LS_NEAR if uid == JPEG_LS_NEAR_LOSSLESS else 0
        return _module("imagecodecs").jpegls_encode(  # type: ignore[no-any-return]
            _unsigned(frame, info), level=near
        )


class ImagecodecsJ2K(Codec):
    """JPEG 2000 Part 1 through OpenJPEG 2.5, on both cores."""

    name = "imagecodecs.jpeg2k"
    package = "imagecodecs"
    modules = ("imagecodecs",)
    decodes_buffers = True  # imagecodecs reads any contiguous buffer
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

    def _encode(self, uid: str, frame: np.ndarray, info: FrameInfo) -> Buffer:
        # no multiple-component transform: RGB stays RGB, so the Photometric
        # Interpretation needs no YBR_RCT/YBR_ICT rewrite (PS3.5 A.4.4 allows it)
        return _module("imagecodecs").jpeg2k_encode(  # type: ignore[no-any-return]
            _masked(frame, info),
            level=0,
            codecformat="J2K",
            reversible=True,
            mct=False,
            bitspersample=info.bits_stored,
            numthreads=2,
        )


class ImagecodecsHTJ2K(Codec):
    """High-Throughput JPEG 2000 (Part 15) through OpenJPH.

    Every target is coded reversibly: .201 and .202 are lossless only, and
    .203 allows lossless coding at the sender's discretion (PS3.5 10.18), so
    no HTJ2K output needs a new SOP Instance UID.
    """

    name = "imagecodecs.htj2k"
    package = "imagecodecs"
    modules = ("imagecodecs",)
    decodes_buffers = True  # imagecodecs reads any contiguous buffer
    decodes = frozenset(_HTJ2K)
    encodes = frozenset(_HTJ2K)

    def can_encode(self, uid: str, info: FrameInfo) -> str | None:
        if info.samples_per_pixel != 1:
            # OpenJPH through imagecodecs applies the colour transform to 3
            # samples (the output would be YBR_RCT), and without it does not
            # round-trip: one sample only, until that is checked
            return "HTJ2K encoding is offered for one sample per pixel only in this release"
        if info.bits_stored not in (8, 16) or info.bits_allocated != info.bits_stored:
            return "HTJ2K encoding is offered for Bits Stored equal to Bits Allocated (8/16) only"
        return None

    def decode(self, uid: str, data: bytes, info: FrameInfo) -> np.ndarray:
        return np.asarray(_module("imagecodecs").htj2k_decode(data))

    def _encode(self, uid: str, frame: np.ndarray, info: FrameInfo) -> Buffer:
        ic = _module("imagecodecs")
        if uid == HTJ2K_LOSSLESS_RPCL:
            # PS3.5 10.18: RPCL progression (OpenJPH's default order), TLM
            # marker segments, and enough decompositions for the lowest
            # resolution to be at most 64 pixels wide and high
            side = max(info.rows, info.columns)
            levels = max(5, math.ceil(math.log2(side / 64)) if side > 64 else 0)
            return ic.htj2k_encode(  # type: ignore[no-any-return]
                np.ascontiguousarray(frame), reversible=True, tlm=True, resolutions=levels
            )
        return ic.htj2k_encode(  # type: ignore[no-any-return]
            np.ascontiguousarray(frame), reversible=True
        )


class ImagecodecsRLE(Codec):
    """DICOM RLE (PS3.5 Annex G) decoding through imagecodecs."""

    name = "imagecodecs.dicomrle"
    package = "imagecodecs"
    modules = ("imagecodecs",)
    decodes_buffers = True  # imagecodecs reads any contiguous buffer
    decodes = frozenset({RLE})

    def decode(self, uid: str, data: bytes, info: FrameInfo) -> np.ndarray:
        dtype = _dtype(info).newbyteorder(">") if info.bits_allocated > 8 else _dtype(info)
        # segments are most significant byte first (Annex G.2); imagecodecs
        # returns them reassembled in the order of the dtype it is given
        raw = _module("imagecodecs").dicomrle_decode(data, dtype.str)
        return _planar(np.frombuffer(raw, dtype), info)


# --------------------------------------------------------------------------
# python-gdcm: RLE encoding only (its fastest pair; see the module's table)


class GdcmRLE(Codec):
    """DICOM RLE encoding through GDCM's gdcm::RLECodec (python-gdcm).

    The codec is called directly (``RLECodec.Code``, data element in, data
    element out), not through ``ImageChangeTransferSyntax`` on an Image:
    that is the same coder with an Image's set-up around it (0.06 ms a
    frame), and an Image owned by Python and referenced by
    ImageChangeTransferSyntax aborts the process when either is freed first
    (gdcm::Object's reference count check). Data elements are values: no
    reference counting is involved.
    """

    name = "python-gdcm.rle"
    package = "python-gdcm"
    modules = ("gdcm",)
    encodes = frozenset({RLE})

    def can_encode(self, uid: str, info: FrameInfo) -> str | None:
        reason = _rle_can_encode(info)
        size = info.rows * info.columns * info.samples_per_pixel * info.bits_allocated // 8
        if reason is None and size % 2:
            # GDCM pads an odd-length frame to even length, and its RLE codec
            # then throws a C++ exception ("partition % dims[1] == 0",
            # gdcmRLECodec.cxx) that SWIG lets through to std::terminate: the
            # whole process would abort. pylibjpeg-rle, next, takes the frame.
            return f"GDCM's RLE codec cannot encode a frame of odd length ({size} bytes)"
        return reason

    def _encode(self, uid: str, frame: np.ndarray, info: FrameInfo) -> Buffer:
        gdcm = _module("gdcm")
        pi = gdcm.PhotometricInterpretation.GetPIType(info.photometric_interpretation)
        if pi == gdcm.PhotometricInterpretation.PI_END:
            raise TranscodeError(
                f"GDCM knows no Photometric Interpretation {info.photometric_interpretation!r}"
            )
        codec = gdcm.RLECodec()
        codec.SetNumberOfDimensions(2)
        codec.SetDimensions((info.columns, info.rows, 1))
        codec.SetPhotometricInterpretation(gdcm.PhotometricInterpretation(pi))
        codec.SetPixelFormat(
            gdcm.PixelFormat(
                info.samples_per_pixel,
                info.bits_allocated,
                info.bits_stored,
                info.bits_stored - 1,
                info.pixel_representation,
            )
        )
        codec.SetPlanarConfiguration(0)  # the frame is interleaved (rows, columns, samples)
        element = gdcm.DataElement(gdcm.Tag(0x7FE0, 0x0010))
        # SWIG takes bytes only: one copy in (GDCM then copies it into its ByteValue)
        element.SetByteStringValue(_native_bytes(frame, info))
        out = gdcm.DataElement()
        if not codec.Code(element, out):
            raise TranscodeError("GDCM's RLE codec refused the frame")
        del element
        fragments = out.GetSequenceOfFragments()
        if fragments is None or fragments.GetNumberOfFragments() != 1:
            raise TranscodeError("GDCM's RLE codec did not give one fragment for one frame")
        value = fragments.GetFragment(0).GetByteValue()
        length = int(str(value.GetLength()))
        # no copy out: a view of GDCM's buffer, which lives as long as `out`,
        # held by the view's ctypes array; SWIG's GetBuffer() would decode the
        # bytes to str and back (three passes, 4 ms on a 0.9 MB RGB frame),
        # ctypes.string_at copy them once more than the file's assembly does
        array = (ctypes.c_char * length).from_address(int(value.GetVoidPointer()))
        array._gdcm_owner = out  # type: ignore[attr-defined]
        return memoryview(array).cast("B")


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
        return _rle_can_encode(info)

    def decode(self, uid: str, data: bytes, info: FrameInfo) -> np.ndarray:
        utils = _module("rle.utils")
        n = info.rows * info.columns
        raw = utils.decode_frame(data, n, info.bits_allocated, "<")
        # planes one after another, each little endian after this call
        return _planar(np.frombuffer(raw, _dtype(info)), info)

    def _encode(self, uid: str, frame: np.ndarray, info: FrameInfo) -> Buffer:
        return _module("rle.utils").encode_frame(  # type: ignore[no-any-return]
            _native_bytes(frame, info),
            info.rows,
            info.columns,
            info.samples_per_pixel,
            info.bits_allocated,
            "<",
        )


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

    def _encode(self, uid: str, frame: np.ndarray, info: FrameInfo) -> Buffer:
        return _module("openjpeg").encode(  # type: ignore[no-any-return]
            _masked(frame, info),
            bits_stored=info.bits_stored,
            photometric_interpretation=0 if info.samples_per_pixel == 1 else 1,
            use_mct=False,
            compression_ratios=None if uid == J2K_LOSSLESS else [J2K_RATIO],
            codec_format=0,
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

    def _encode(self, uid: str, frame: np.ndarray, info: FrameInfo) -> Buffer:
        arr = _unsigned(frame, info)
        if info.bits_stored > 8 and arr.dtype == np.uint8:
            arr = arr.astype(np.uint16)
        return _module("jpeg_ls").encode_buffer(  # type: ignore[no-any-return]
            arr.tobytes(),
            info.rows,
            info.columns,
            info.samples_per_pixel,
            info.bits_stored,  # the precision P readers sign-extend from
            lossy_error=JPEG_LS_NEAR if uid == JPEG_LS_NEAR_LOSSLESS else 0,
            interleave_mode=0 if info.samples_per_pixel == 1 else 2,
        )


# --------------------------------------------------------------------------
# frame helpers


def _jpegls_can_encode(info: FrameInfo) -> str | None:
    if info.bits_stored > 16 or info.bits_stored < 2:
        return f"JPEG-LS encodes 2 to 16 bits, not Bits Stored {info.bits_stored}"
    if info.samples_per_pixel not in (1, 3):
        return f"JPEG-LS encodes 1 or 3 samples per pixel, not {info.samples_per_pixel}"
    return None


def _rle_can_encode(info: FrameInfo) -> str | None:
    if info.bits_allocated not in (8, 16, 32):
        return f"RLE encodes Bits Allocated 8, 16 or 32, not {info.bits_allocated}"
    if info.photometric_interpretation == "YBR_FULL_422":
        return "RLE cannot carry YBR_FULL_422 (PS3.5 Annex G.2 / PS3.3 C.7.6.3.1.2)"
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


def _native_bytes(frame: np.ndarray, info: FrameInfo) -> bytes:
    """The frame as native little endian Bits Allocated words, samples interleaved."""
    return np.ascontiguousarray(frame, dtype=_dtype(info)).tobytes()


def _unsigned(frame: np.ndarray, info: FrameInfo) -> np.ndarray:
    """Values as the unsigned Bits Stored pattern (JPEG and JPEG-LS have no sign:
    a signed image is coded as its two's complement bits, PS3.5 A.4.1/A.4.3).

    Done in the frame's own width (a view, a wrapping cast, a mask): no int64
    copy of the frame.
    """
    bits = info.bits_stored
    dtype = np.dtype(np.uint8 if bits <= 8 else np.uint16 if bits <= 16 else np.uint32)
    if frame.dtype.itemsize == dtype.itemsize and frame.dtype.kind in "iu":
        out = frame.view(dtype)  # the same bits, read unsigned
    else:
        out = frame.astype(dtype)  # C casts wrap: the low bits, two's complement
    if bits < 8 * dtype.itemsize and frame.dtype.kind == "i":
        # the sign's copies above Bits Stored go; an unsigned frame's values
        # are already within Bits Stored (encode's contract, the matrix's
        # _normalise): no pass over it
        out = out & dtype.type((1 << bits) - 1)
    return np.ascontiguousarray(out)


def _masked(frame: np.ndarray, info: FrameInfo) -> np.ndarray:
    """Values within Bits Stored, signed or not as Pixel Representation says
    (JPEG 2000 codes the sign itself)."""
    if not info.signed:
        return _unsigned(frame, info)
    dtype = np.int8 if info.bits_stored <= 8 else np.int16 if info.bits_stored <= 16 else np.int32
    return np.ascontiguousarray(frame, dtype=dtype)


# --------------------------------------------------------------------------
# the registry

#: The built-ins, in precedence order within each syntax and direction:
#: fastest first (the module's table). Each codec is listed where its
#: fastest pair ranks; a codec's slower pairs may thus come before a faster
#: codec of another syntax, which no look-up sees.
BUILTIN_CODECS: Final[tuple[Codec, ...]] = (
    ImagecodecsJPEG(),
    ImagecodecsJPEGLS(),
    Pyjpegls(),
    ImagecodecsHTJ2K(),
    ImagecodecsJ2K(),
    PylibjpegOpenjpeg(),
    ImagecodecsRLE(),
    GdcmRLE(),
    PylibjpegRLE(),
    PylibjpegLibjpeg(),
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
            if direction == "encode" and uid in NO_ENCODER:
                return f"{uid}: {NO_ENCODER[uid]}"
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

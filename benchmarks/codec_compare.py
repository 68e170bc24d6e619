"""Codecs side by side: storecore against pydicom + its fastest plugin and python-gdcm.

Run from the repository root::

    PYTHONPATH=src python3 benchmarks/codec_compare.py [--rounds 7] [--round-time 0.2]

Two images, generated in a temporary directory: the 512x512 16-bit signed CT
of ``_corpus.py`` and a 640x480 8-bit RGB picture (``rgb_pixels``: smooth
shading, edges and sensor noise, so that every codec has real work). For each
transfer syntax and direction, file in -> file out, in one process:

* storecore: ``storecore.transcode.transcode(path, ts)``, its bytes written out;
* pydicom 3: ``dcmread``, ``compress``/``decompress`` with each installed
  plugin (pylibjpeg, gdcm, pyjpegls, pillow, its own RLE), ``save_as``; the
  fastest plugin of the calibration is timed and named in the table;
* python-gdcm: ``ImageReader``, ``ImageChangeTransferSyntax``, ``ImageWriter``
  (gdcmconv's image path).

Every decoder reads the same input: storecore's encoding of the image. JPEG
Baseline is timed on an 8-bit image (the CT windowed to 8 bits, and the RGB
picture). Every output is checked
once before timing: a lossless output must read back (pydicom, its default
plugins) as the original pixels; a JPEG Baseline output within 10 of them on
average and, decoded, equal to GDCM's decoding of the same file. Timing is
``compare.py``'s: interleaved rounds, rotated order, medians of the mean time
per call. The target: each pair at least as fast as the faster of pydicom and
gdcm in the same run (ANCHORS.md's anchors, measured here again).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.pixels import get_decoder, get_encoder
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage

from _corpus import ct_dataset, ct_pixels, write_ct
from _peers import gdcm, unlink
from _peers import gdcm_image_transcode as gdcm_call
from compare import Op, environment, median_ms, run
from storecore.transcode import transcode

EXPLICIT_LE = str(ExplicitVRLittleEndian)
RLE = "1.2.840.10008.1.2.5"
JPEG_BASELINE = "1.2.840.10008.1.2.4.50"
JPEG_SV1 = "1.2.840.10008.1.2.4.70"
JPEG_LS = "1.2.840.10008.1.2.4.80"
J2K = "1.2.840.10008.1.2.4.90"
HTJ2K = "1.2.840.10008.1.2.4.201"

#: image -> the syntaxes timed on it, by the names the table uses
SYNTAXES = {
    "ct": {
        "RLE": RLE,
        "JPEG Lossless SV1": JPEG_SV1,
        "JPEG-LS lossless": JPEG_LS,
        "JPEG 2000 lossless": J2K,
        "HTJ2K lossless": HTJ2K,
    },
    "ct8": {"JPEG Baseline": JPEG_BASELINE},
    "rgb": {
        "RLE": RLE,
        "JPEG Lossless SV1": JPEG_SV1,
        "JPEG Baseline": JPEG_BASELINE,
        "JPEG-LS lossless": JPEG_LS,
        "JPEG 2000 lossless": J2K,
    },
}
IMAGES = {"ct": "512x512 16-bit CT", "ct8": "512x512 8-bit CT", "rgb": "640x480 8-bit RGB"}


def ct8_pixels() -> np.ndarray:
    """The CT in a soft-tissue window (W 400, L 40), as 8-bit values."""
    window = (ct_pixels().astype(np.float64) - (40 - 200)) * (255 / 400)
    return np.clip(np.rint(window), 0, 255).astype(np.uint8)


def rgb_pixels(rows: int = 480, columns: int = 640, seed: int = 20240611) -> np.ndarray:
    """A photograph-like RGB image: shading, a few hard-edged shapes, noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:rows, 0:columns].astype(np.float64)
    r = 120 + 80 * np.sin(x / 97.0) * np.cos(y / 53.0)
    g = 100 + 90 * np.cos((x + y) / 150.0)
    b = 60 + 0.25 * x
    image = np.stack([r, g, b], axis=-1)
    image[(x - 420) ** 2 + (y - 200) ** 2 < 90**2] = (230, 40, 30)  # a red disc
    image[300:420, 60:260] = (20, 160, 200)  # a blue box
    image[100:110, :] = 245  # a white bar
    image += rng.normal(0.0, 4.0, size=image.shape)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def write_rgb(path: Path, pixels: np.ndarray) -> Path:
    """A Secondary Capture RGB instance in Explicit VR Little Endian."""
    ds = Dataset()
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = "2.25.31415926535897932384626433832795.9.1"
    ds.StudyInstanceUID = "2.25.31415926535897932384626433832795.9.2"
    ds.SeriesInstanceUID = "2.25.31415926535897932384626433832795.9.3"
    ds.PatientName = "Colour^Test"
    ds.PatientID = "RGB-0001"
    ds.Modality = "OT"
    ds.ConversionType = "WSD"
    ds.SamplesPerPixel = 3
    ds.PhotometricInterpretation = "RGB"
    ds.PlanarConfiguration = 0
    ds.Rows, ds.Columns = pixels.shape[:2]
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.PixelData = pixels.tobytes()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    pydicom.dcmwrite(path, ds, enforce_file_format=True)
    return path


def _write_ct8(path: Path) -> Path:
    pixels = ct8_pixels()
    ds = ct_dataset(0, pixels)
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    for keyword in ("SmallestImagePixelValue", "LargestImagePixelValue"):
        if keyword in ds:
            delattr(ds, keyword)
    write_ct(path, ds, EXPLICIT_LE, pixels)  # the File Meta; Pixel Data is 16-bit there
    ds.PixelData = pixels.tobytes()
    ds["PixelData"].VR = "OB"
    ds.save_as(path, enforce_file_format=True)
    return path


# --- the three implementations: path in, path out ------------------------------


def storecore_call(src: Path, dst: Path, ts: str) -> None:
    data, _ = transcode(src, ts, allow_lossy=ts == JPEG_BASELINE)
    dst.write_bytes(data)


def pydicom_call(src: Path, dst: Path, ts: str, plugin: str) -> None:
    ds = pydicom.dcmread(src)
    if ts == EXPLICIT_LE:
        ds.decompress(decoding_plugin=plugin, generate_instance_uid=False)
    else:
        ds.compress(ts, encoding_plugin=plugin, generate_instance_uid=False)
    ds.save_as(dst, enforce_file_format=True)


def _pixels(path: Path, plugin: str = "") -> np.ndarray:
    ds = pydicom.dcmread(path)
    if plugin:
        ds.pixel_array_options(decoding_plugin=plugin)
    return ds.pixel_array


def check(out: Path, target: str, original: np.ndarray, who: str, lossy_from: Path | None) -> None:
    """Raise AssertionError unless `out` holds the image, in `target`.

    `lossy_from`: the JPEG Baseline file the pair reads or writes; its pixels
    are then within 10 of the original on average, and equal to GDCM's
    decoding of that file (libjpeg-turbo and GDCM's IJG agree bit for bit);
    in colour within 1, as GDCM leaves YBR_FULL to pydicom, whose float
    YCbCr -> RGB rounds 0.01% of samples the other way from libjpeg-turbo's
    integer tables.
    """
    ds = pydicom.dcmread(out)
    assert ds.file_meta.TransferSyntaxUID == target, f"{who}: {ds.file_meta.TransferSyntaxUID}"
    got = _pixels(out)
    if lossy_from is None:
        assert np.array_equal(got, original), f"{who}: pixels differ"
        return
    diff = np.abs(got.astype(np.int64) - original.astype(np.int64)).mean()
    assert diff < 10, f"{who}: JPEG Baseline mean error {diff:.1f}"
    if gdcm is not None:
        ref = _pixels(lossy_from, "gdcm").astype(np.int64)
        tolerance = 1 if got.ndim == 3 else 0
        worst = np.abs(got.astype(np.int64) - ref).max()
        assert worst <= tolerance, f"{who}: {worst} from GDCM's decoding"


@dataclass
class Pair:
    image: str
    name: str
    direction: str  # "encode" or "decode"
    op: Op
    plugin: str = ""  # pydicom's fastest plugin


def _fastest_plugin(
    plugins: tuple[str, ...], call: Callable[[str], None]
) -> tuple[str, dict[str, str]]:
    """The plugin with the least time of three calls, and why the others failed."""
    best, best_t, failed = "", float("inf"), {}
    for plugin in plugins:
        try:
            call(plugin)
            t = min(_timed(call, plugin) for _ in range(3))
        except Exception as exc:  # a plugin that cannot do this pair is not an anchor
            failed[plugin] = f"{type(exc).__name__}: {exc}"[:120]
            continue
        if t < best_t:
            best, best_t = plugin, t
    return best, failed


def _timed(call: Callable[[str], None], plugin: str) -> float:
    t0 = time.perf_counter()
    call(plugin)
    return time.perf_counter() - t0


def build_pairs(root: Path) -> tuple[list[Pair], list[str]]:
    """Every (image, syntax, direction) with its checked calls; notes on what failed."""
    images = {
        "ct": (write_ct(root / "ct.dcm", ct_dataset(), EXPLICIT_LE, ct_pixels()), ct_pixels()),
        "ct8": (_write_ct8(root / "ct8.dcm"), ct8_pixels()),
        "rgb": (write_rgb(root / "rgb.dcm", rgb_pixels()), rgb_pixels()),
    }
    pairs: list[Pair] = []
    notes: list[str] = []
    dst = root / "out.dcm"
    for image, (native, original) in images.items():
        for name, ts in SYNTAXES[image].items():
            encoded = root / f"{image}-{ts}.dcm"
            storecore_call(native, encoded, ts)
            lossy = ts == JPEG_BASELINE
            for direction, src, target, registry in (
                ("encode", native, ts, get_encoder),
                ("decode", encoded, EXPLICIT_LE, get_decoder),
            ):
                lossy_from = None if not lossy else dst if direction == "encode" else encoded
                calls: dict[str, Callable[[], object]] = {}
                label = f"{IMAGES[image]}, {name} {direction}"
                storecore_call(src, dst, target)
                check(dst, target, original, f"storecore {label}", lossy_from)
                calls["storecore"] = lambda s=src, t=target: storecore_call(s, dst, t)
                try:
                    plugins = registry(ts).available_plugins
                except NotImplementedError:
                    plugins = ()
                plugin, failed = _fastest_plugin(
                    plugins, lambda p, s=src, t=target: pydicom_call(s, dst, t, p)
                )
                notes += [f"pydicom/{p} {label}: {why}" for p, why in failed.items()]
                if plugin:
                    pydicom_call(src, dst, target, plugin)
                    check(dst, target, original, f"pydicom/{plugin} {label}", lossy_from)
                    calls["pydicom"] = lambda s=src, t=target, p=plugin: pydicom_call(s, dst, t, p)
                if gdcm is not None:
                    try:
                        gdcm_call(src, dst, target)
                        check(dst, target, original, f"gdcm {label}", lossy_from)
                        calls["gdcm"] = lambda s=src, t=target: gdcm_call(s, dst, t)
                    except (RuntimeError, AssertionError) as exc:
                        notes.append(f"gdcm {label}: {exc}")
                op = Op(label, "codec", calls, setup=lambda: unlink(dst))
                pairs.append(Pair(image, name, direction, op, plugin))
    return pairs, notes


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}" if v < 10 else f"{v:.1f}"


def report(pairs: list[Pair], rounds: int) -> str:
    lines = [
        "| image | pair | storecore ms | pydicom + fastest plugin ms | python-gdcm ms "
        "| best anchor / storecore | target: >= 1.0x |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    met = 0
    for p in pairs:
        sc = median_ms(p.op, "storecore")
        pd = median_ms(p.op, "pydicom")
        gd = median_ms(p.op, "gdcm")
        anchors = [v for v in (pd, gd) if v is not None]
        best = min(anchors) if anchors else None
        ratio = best / sc if best and sc else None
        ok = ratio is None or ratio >= 1.0
        met += ok
        verdict = "- (no anchor)" if ratio is None else "met" if ok else "**missed**"
        plugin = f" ({p.plugin})" if p.plugin else " (no encoder)" if pd is None else ""
        lines.append(
            f"| {IMAGES[p.image]} | {p.name} {p.direction} | {_fmt(sc)} | {_fmt(pd)}{plugin} "
            f"| {_fmt(gd)} | {'-' if ratio is None else f'{ratio:.2f}x'} | {verdict} |"
        )
    lines.append("")
    lines.append(
        f"{met} of {len(pairs)} pairs at least as fast as the best anchor; medians of "
        f"{rounds} interleaved rounds; file in -> file out; '-' = that library has no "
        "codec for the pair."
    )
    return "\n".join(lines)


def _storecore_steps(
    src: Path, dst: Path, ts: str, codec: Any, frame: Any, info: Any
) -> list[float]:
    """storecore's codec call alone, then the whole transcode() and its write (s)."""
    unlink(dst)
    t0 = time.perf_counter()
    codec.encode(ts, frame, info)
    t1 = time.perf_counter()
    data, _ = transcode(src, ts)
    t2 = time.perf_counter()
    dst.write_bytes(data)
    t3 = time.perf_counter()
    return [t1 - t0, t2 - t1, t3 - t2]


def _gdcm_steps(src: Path, dst: Path, ts: str) -> list[float]:
    """gdcm_call's three steps, timed apart (s)."""
    unlink(dst)
    t0 = time.perf_counter()
    reader = gdcm.ImageReader()
    reader.SetFileName(str(src))
    reader.Read()
    t1 = time.perf_counter()
    change = gdcm.ImageChangeTransferSyntax()
    change.SetTransferSyntax(gdcm.TransferSyntax(gdcm.TransferSyntax.GetTSType(ts)))
    change.SetInput(reader.GetImage())
    change.Change()
    t2 = time.perf_counter()
    writer = gdcm.ImageWriter()
    writer.SetFileName(str(dst))
    writer.SetFile(reader.GetFile())
    writer.SetImage(change.GetOutput())
    writer.Write()
    t3 = time.perf_counter()
    return [t1 - t0, t2 - t1, t3 - t2]


def where_time_goes(root: Path, calls: int) -> str:
    """For each lossless encode pair, storecore's codec call alone, its whole transcode()
    (the codec call included) and its write, against GDCM's three steps
    (ImageReader.Read, ImageChangeTransferSyntax.Change, ImageWriter.Write): which part of
    a gap is the codec, which the path around it."""
    from storecore.dataset.part10 import read_file_meta
    from storecore.transcode import _dataset as dsx
    from storecore.transcode import matrix
    from storecore.transcode.codecs import DEFAULT_REGISTRY

    images = {
        "ct": write_ct(root / "ct.dcm", ct_dataset(), EXPLICIT_LE, ct_pixels()),
        "rgb": write_rgb(root / "rgb.dcm", rgb_pixels()),
    }
    dst = root / "split.dcm"
    lines = [
        "| image | encode | storecore: codec call alone | transcode() | write "
        "| GDCM: Read | Change | Write |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for image, src in images.items():
        raw = src.read_bytes()
        view = memoryview(raw)
        scanned = dsx.scan_explicit(view[read_file_meta(view).dataset_offset :])
        info = matrix._info(scanned)
        frame = matrix._native_frames(scanned, info, 1)[0]
        for name, ts in SYNTAXES[image].items():
            if ts in (JPEG_BASELINE, HTJ2K):
                continue  # no GDCM anchor
            codec = next(
                c
                for c in DEFAULT_REGISTRY.available(ts, "encode")
                if c.can_encode(ts, info) is None
            )
            sc: list[list[float]] = []
            gd: list[list[float]] = []
            for _ in range(calls):  # interleaved: both see the same machine
                sc.append(_storecore_steps(src, dst, ts, codec, frame, info))
                if gdcm is not None:
                    gd.append(_gdcm_steps(src, dst, ts))
            medians = [statistics.median(c) * 1e3 for c in zip(*sc, strict=True)]
            medians += [statistics.median(c) * 1e3 for c in zip(*gd, strict=True)] or [None] * 3
            lines.append(
                f"| {IMAGES[image]} | {name} ({codec.name}) | "
                + " | ".join(_fmt(v) for v in medians)
                + " |"
            )
    lines.append("")
    lines.append(f"medians of {calls} interleaved calls, ms")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (default 7)")
    parser.add_argument(
        "--round-time", type=float, default=0.2, help="seconds per batch (default 0.2)"
    )
    parser.add_argument(
        "--where",
        type=int,
        metavar="CALLS",
        default=0,
        help="instead of the table: where each encode pair's time goes (storecore's codec "
        "call and the rest, GDCM's read, change and write), over CALLS calls",
    )
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")  # pydicom's warnings on plugin options
    if args.where:
        with tempfile.TemporaryDirectory(prefix="storecore-codecs-") as tmp:
            print(f"# where the encode time goes\n\n{environment()}\n", flush=True)
            print(where_time_goes(Path(tmp), args.where))
            print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")
        return 0
    with tempfile.TemporaryDirectory(prefix="storecore-codecs-") as tmp:
        print(f"# storecore codecs side by side\n\n{environment()}\n", flush=True)
        pairs, notes = build_pairs(Path(tmp))
        print("outputs checked; timing ...\n", file=sys.stderr, flush=True)
        for p in pairs:
            print(f"  {p.op.name}", file=sys.stderr, flush=True)
            run(p.op, args.rounds, args.round_time)
        print(report(pairs, args.rounds))
        print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")
        if notes:
            print("\nNot timed (the library refused the pair or its output failed the check):")
            for note in notes:
                print(f"- {note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

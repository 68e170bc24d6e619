"""The built-in validators: checks for every Storage SOP Class, and per-IOD module checks.

``common`` runs for every instance (registered for ``*``); ``iod`` for the SOP
Classes of the IODs in :mod:`._iod_table` (see :data:`COVERED_SOP_CLASSES`).

They run on every received instance, cache-cold (its pixel data has just
gone through the caches), so each check first asks a quick test whether it has
anything to say: a set comparison for presence, and for emptiness, UIDs and
Enumerated Values the C functions of :mod:`storecore._ext._validate`, which
read the tokens and bytes. A quick test answers only "certainly nothing to
report"; anything else runs the exact check (the Python below, the
reference), so the findings are the same either way.
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Iterator
from typing import NamedTuple

from storecore._ext import _validate
from storecore.dataset import TokenKind
from storecore.uid import (
    NON_PATIENT_OBJECT_STORAGE_SOP_CLASSES,
    is_valid_uid,
)
from storecore.validators._enumerated import BY_IOD, COMMON, EnumRow
from storecore.validators._iod_table import IODS, MODULES, SOP_CLASS_IOD
from storecore.validators._protocol import Context, Finding, Severity
from storecore.validators._view import InstanceView

__all__ = ["COVERED_SOP_CLASSES", "common", "iod", "KNOWN_CHARACTER_SETS"]

E = Severity.ERROR

#: SOP Class UID -> IOD key, for the SOP Classes the ``iod`` validator checks.
COVERED_SOP_CLASSES: dict[str, str] = dict(SOP_CLASS_IOD)

_NON_PATIENT = frozenset(c.uid for c in NON_PATIENT_OBJECT_STORAGE_SOP_CLASSES)

#: PS3.3 C.12.1.1.2, Tables C.12-2 (single-byte, no extensions), C.12-3 (with
#: extensions), C.12-4 (multi-byte with extensions), C.12-5 (multi-byte, no
#: extensions).
KNOWN_CHARACTER_SETS: frozenset[str] = frozenset(
    [
        "ISO_IR 100", "ISO_IR 101", "ISO_IR 109", "ISO_IR 110", "ISO_IR 144",
        "ISO_IR 127", "ISO_IR 126", "ISO_IR 138", "ISO_IR 148", "ISO_IR 203",
        "ISO_IR 13", "ISO_IR 166",
        "ISO 2022 IR 6", "ISO 2022 IR 100", "ISO 2022 IR 101", "ISO 2022 IR 109",
        "ISO 2022 IR 110", "ISO 2022 IR 144", "ISO 2022 IR 127", "ISO 2022 IR 126",
        "ISO 2022 IR 138", "ISO 2022 IR 148", "ISO 2022 IR 203", "ISO 2022 IR 13",
        "ISO 2022 IR 166",
        "ISO 2022 IR 87", "ISO 2022 IR 159", "ISO 2022 IR 149", "ISO 2022 IR 58",
        "ISO_IR 192", "GB18030", "GBK",
    ]
)  # fmt: skip

_SOP_CLASS = 0x00080016
_SOP_INSTANCE = 0x00080018
_CHARSET = 0x00080005
_PIXEL_DATA = 0x7FE00010
_ROWS, _COLUMNS, _SAMPLES, _BITS, _FRAMES, _PHOTOMETRIC = (
    0x00280010, 0x00280011, 0x00280002, 0x00280100, 0x00280008, 0x00280004,
)  # fmt: skip

#: The Patient, Study and Series IE keys every stored instance carries (PS3.4
#: B.1.1 names the IEs; the types are those of the modules that hold them).
_IE_KEYS: tuple[tuple[int, str, str, str, str], ...] = (
    (0x00100010, "Patient's Name", "2", "patient", "PS3.3 C.7.1.1"),
    (0x00100020, "Patient ID", "2", "patient", "PS3.3 C.7.1.1"),
    (0x0020000D, "Study Instance UID", "1", "general-study", "PS3.3 C.7.2.1"),
    (0x0020000E, "Series Instance UID", "1", "general-series", "PS3.3 C.7.3.1"),
    (0x00080060, "Modality", "1", "general-series", "PS3.3 C.7.3.1"),
)
_CHECKED_BY_COMMON = frozenset({_SOP_CLASS, _SOP_INSTANCE, *(k[0] for k in _IE_KEYS)})
_IE_TAGS = tuple(k[0] for k in _IE_KEYS)
_IE_TYPE_1 = tuple(k[0] for k in _IE_KEYS if k[2] == "1")
_KNOWN_CHARACTER_SETS_ASCII = frozenset(v.encode("ascii") for v in KNOWN_CHARACTER_SETS)

# the quick tests (module attributes: the tests replace them to run the exact checks alone)
_common_clean = _validate.common_clean
_iod_clean = _validate.iod_clean


def _missing(tag: int, name: str, typ: str, module: str, ref: str) -> Finding:
    return Finding(E, f"Type {typ} {name} missing", tag, module, ref)


def _presence(
    view: InstanceView, tag: int, name: str, typ: str, module: str, ref: str
) -> Finding | None:
    if tag not in view:
        return _missing(tag, name, typ, module, ref)
    if typ == "1" and view.is_empty(tag):
        return Finding(E, f"Type 1 {name} empty", tag, module, ref)
    return None


# ---------------------------------------------------------------- common


def common(view: InstanceView, context: Context) -> Iterator[Finding]:
    """Checks for every Storage SOP Class.

    - SOP Class/Instance UIDs present and the command's (PS3.4 B.2.3; for a
      file, the File Meta's, PS3.10 7.1);
    - every top-level UID well formed (PS3.5 9.1);
    - the Patient, Study and Series IE keys (PS3.4 B.1.1; PS3.3 C.7.1.1, C.7.2.1,
      C.7.3.1), except for the Non-Patient Object classes (PS3.4 Annex GG);
    - Specific Character Set values known (PS3.3 C.12.1.1.2);
    - native pixel data as long as Rows x Columns x Samples x Bits Allocated x
      Frames says (PS3.5 8.1.1, 8.2), encapsulated pixel data well formed
      (PS3.5 A.4).
    """
    sop_class = context.sop_class_uid
    patient = sop_class not in _NON_PATIENT
    if _common_clean(
        view._top, view._head, view.big_endian, view.transfer_syntax.encapsulated,
        _ascii(sop_class), _ascii(context.sop_instance_uid),
        _IE_TAGS if patient else (), _IE_TYPE_1 if patient else (),
        _KNOWN_CHARACTER_SETS_ASCII,
    ):  # fmt: skip
        return
    ref = "PS3.4 B.2.3"
    for tag, what, expected in (
        (_SOP_CLASS, "SOP Class UID", context.sop_class_uid),
        (_SOP_INSTANCE, "SOP Instance UID", context.sop_instance_uid),
    ):
        value = view.text(tag)
        if not value:
            yield Finding(E, f"Type 1 {what} missing", tag, "sop-common", "PS3.3 C.12.1")
        elif expected and value != expected:
            yield Finding(E, f"{what} {value} is not the command's {expected}", tag, "", ref)
    yield from _uid_syntax(view)
    if patient:
        for tag, name, typ, module, mref in _IE_KEYS:
            found = _presence(view, tag, name, typ, module, mref)
            if found is not None:
                yield found
    yield from _charset(view)
    yield from _pixel_data(view)


def _ascii(uid: str) -> bytes | None:
    return uid.encode("ascii") if uid.isascii() else None


def _uid_syntax(view: InstanceView) -> Iterator[Finding]:
    for t in view.top_level():
        if t.vr != "UI" or t.kind != TokenKind.ELEMENT or t.length == 0:
            continue
        for uid in view.values(t.tag):
            if uid and not is_valid_uid(uid):
                yield Finding(E, f"UID {uid[:32]!r} is not a valid UID", t.tag, "", "PS3.5 9.1")


def _charset(view: InstanceView) -> Iterator[Finding]:
    raw = view.text(_CHARSET)
    if not raw:
        return
    for i, term in enumerate(v.strip() for v in raw.split("\\")):
        if term == "" and i == 0:
            continue  # an empty first value: the default repertoire (C.12.1.1.2)
        if term not in KNOWN_CHARACTER_SETS:
            yield Finding(
                E, f"unknown Specific Character Set {term!r}", _CHARSET, "sop-common",
                "PS3.3 C.12.1.1.2",
            )  # fmt: skip


def _pixel_data(view: InstanceView) -> Iterator[Finding]:
    t = view.token(_PIXEL_DATA)
    if t is None:
        return
    ts = view.transfer_syntax
    if t.kind == TokenKind.ENCAPSULATED_START:
        if not ts.encapsulated:
            yield Finding(
                E, "encapsulated Pixel Data in a native transfer syntax", _PIXEL_DATA, "",
                "PS3.5 A.4",
            )  # fmt: skip
            return
        yield from _encapsulated(view)
        return
    if ts.encapsulated and t.length != 0:
        yield Finding(
            E, "native Pixel Data in an encapsulated transfer syntax", _PIXEL_DATA, "",
            "PS3.5 A.4",
        )  # fmt: skip
        return
    if ts.encapsulated:
        return
    rows, cols = view.uint(_ROWS), view.uint(_COLUMNS)
    samples, bits = view.uint(_SAMPLES), view.uint(_BITS)
    if None in (rows, cols, samples, bits):
        return  # the missing attribute is reported by the module checks
    assert rows is not None and cols is not None and samples is not None and bits is not None
    frames = view.uint(_FRAMES) or 1
    per_pixel = samples
    if samples == 3 and view.text(_PHOTOMETRIC) == "YBR_FULL_422":
        # PS3.3 C.7.6.3.1.2: native YBR_FULL_422 is sampled horizontally by
        # two, Y1 Y2 CB CR for each pair of pixels: two samples a pixel
        per_pixel = 2
    total_bits = rows * cols * per_pixel * bits * frames
    expected = (total_bits + 7) // 8
    padded = expected + (expected & 1)  # PS3.5 8.1.1: even length, one padding byte
    if t.length not in (expected, padded):
        yield Finding(
            E,
            f"Pixel Data is {t.length} bytes, expected {padded} "
            f"({rows}x{cols}x{per_pixel}x{bits} bits x{frames})",
            _PIXEL_DATA, "image-pixel", "PS3.5 8.1.1",
        )  # fmt: skip


def _encapsulated(view: InstanceView) -> Iterator[Finding]:
    bot, frags = view.fragments()
    ref = "PS3.5 A.4"
    if not frags:
        yield Finding(E, "encapsulated Pixel Data has no fragment", _PIXEL_DATA, "", ref)
        return
    frames = view.uint(_FRAMES) or 1
    if len(frags) < frames:
        yield Finding(E, f"{len(frags)} fragments for {frames} frames", _PIXEL_DATA, "", ref)
    if bot is None or bot.length == 0:
        return
    if bot.length != 4 * frames:
        yield Finding(
            E, f"Basic Offset Table has {bot.length // 4} offsets for {frames} frames",
            _PIXEL_DATA, "", ref,
        )  # fmt: skip
        return
    # PS3.5 A.4: offsets from the first byte of the first fragment's Item tag
    raw = view._read(bot.value_offset, bot.length)
    fmt = (">" if view.big_endian else "<") + f"{frames}I"
    offsets = struct.unpack(fmt, raw)
    starts = {f.offset - frags[0].offset for f in frags}
    if offsets[0] != 0 or any(o not in starts for o in offsets):
        yield Finding(
            E, "Basic Offset Table does not point at fragment starts", _PIXEL_DATA, "", ref
        )
    elif any(b <= a for a, b in itertools.pairwise(offsets)):
        yield Finding(E, "Basic Offset Table offsets not increasing", _PIXEL_DATA, "", ref)


# ---------------------------------------------------------------- per IOD


def iod(view: InstanceView, context: Context) -> Iterator[Finding]:
    """Type 1 and Type 2 attributes of the IOD's mandatory modules, and Enumerated Values.

    The IOD is the one of the command's SOP Class (PS3.3 Annex A); the modules
    and their attributes are those of :mod:`._iod_table` (PS3.3 Annex C), the
    values those of :mod:`._enumerated`. Attributes ``common`` checks are skipped.
    """
    key = SOP_CLASS_IOD.get(context.sop_class_uid)
    if key is None:
        return
    plan = _PLANS.get(key)
    if plan is None:
        plan = _PLANS[key] = _plan(key)
    top = view._top
    if _iod_clean(top, view._head, view.big_endian, plan.required, plan.type_1, plan.allowed):
        return
    for tag, keyword, typ, module, ref in plan.rows:
        if tag not in top:
            yield _missing(tag, keyword, typ, module, ref)
        elif typ == "1" and view.is_empty(tag):
            yield Finding(E, f"Type 1 {keyword} empty", tag, module, ref)
    for row in plan.enums:
        if row[0] in top:
            found = _enumerated(view, row)
            if found is not None:
                yield found


class _Plan(NamedTuple):
    """An IOD's checks, compiled once (PS3.3 Annex A, C)."""

    #: (tag, keyword, type, module, reference) in module order
    rows: tuple[tuple[int, str, str, str, str], ...]
    #: the tags of `rows` (Type 1 and 2: present)
    required: tuple[int, ...]
    #: the Type 1 tags of `rows` (not empty either)
    type_1: tuple[int, ...]
    #: the Enumerated Value rows
    enums: tuple[EnumRow, ...]
    #: the same for the quick test: (tag, index or -1, values as bytes, as str)
    allowed: tuple[tuple[int, int, frozenset[bytes], frozenset[str]], ...]


_PLANS: dict[str, _Plan] = {}


def _plan(key: str) -> _Plan:
    # the IOD's attributes once, in module order, without those `common` checks
    _, section, modules = IODS[key]
    seen: set[int] = set(_CHECKED_BY_COMMON)
    rows = []
    for module in modules:
        for tag, keyword, typ in MODULES[module]:
            if tag not in seen:
                seen.add(tag)
                rows.append((tag, keyword, typ, module, f"PS3.3 {section}"))
    enums = COMMON + BY_IOD.get(key, ())
    allowed = tuple(
        (
            tag,
            -1 if index is None else index,
            # a value that is not ASCII is never what the exact check decodes
            frozenset(v.encode("ascii") for v in values if v.isascii()),
            values,
        )
        for tag, _, index, values, _ in enums
    )
    return _Plan(
        tuple(rows),
        tuple(r[0] for r in rows),
        tuple(r[0] for r in rows if r[2] == "1"),
        enums,
        allowed,
    )


def _enumerated(view: InstanceView, row: EnumRow) -> Finding | None:
    tag, keyword, index, allowed, ref = row
    t = view.token(tag)
    if t is None or t.kind != TokenKind.ELEMENT or t.length == 0:
        return None
    if t.vr in ("US", "SS", "xs", "UL"):
        number = view.uint(tag)
        values = [] if number is None else [str(number)]
    else:
        values = view.values(tag)
    picked = values if index is None else values[index : index + 1]
    for value in picked:
        if value and value not in allowed:
            which = "" if index is None else f" value {index + 1}"
            return Finding(
                E, f"{keyword}{which} {value[:24]!r} is not an Enumerated Value", tag, "", ref
            )
    return None

"""``storecore dump`` against pydicom, on pydicom's test files and pydicom-data.

For each file both read, the dump's lines (tag, VR, keyword, value) must be
pydicom's elements, in order, recursively through sequence items; text values
must be the raw value without its padding, numbers and tags pydicom's decoded
values, short binary values the raw bytes. The scanner's own differential test
(test_scanner_vs_pydicom.py) covers what the dump does not print (offsets,
fragments, files both refuse).
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydicom
import pytest
from pydicom.dataelem import RawDataElement

from storecore.dataset.dump import dump_lines
from storecore.errors import DatasetError, UnknownUIDError

from ..conftest import CORPUS

_ELEMENT = re.compile(
    r"^(?P<indent> *)\((?P<g>[0-9A-F]{4}),(?P<e>[0-9A-F]{4})\) (?P<vr>\S+) +(?P<length>\S+) "
    r"(?P<keyword>\S+) +(?P<value>.*)$"
)
_ITEM = re.compile(r"^(?P<indent> *)\(FFFE,E000\) item #\d+")
_FRAGMENT = re.compile(r"^ *\(FFFE,E000\) (Basic Offset Table|fragment #\d+), \d+ bytes$")
_TEXT = {"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM", "UC"}
_TEXT |= {"UI", "UR", "UT"}
_NUMBERS = {"US", "SS", "UL", "SL", "FL", "FD", "UV", "SV"}


@dataclass
class Line:
    tag: int
    vr: str
    keyword: str
    value: str
    items: list[list[Line]] = field(default_factory=list)


def parse(lines: list[str]) -> tuple[list[Line], list[Line]]:
    """The dump's File Meta and data set, nested by indentation."""
    sections: list[list[Line]] = []
    stack: list[list[Line]] = []
    for text in lines:
        if text.startswith("#"):
            sections.append([])
            stack = [sections[-1]]
            continue
        if _FRAGMENT.match(text):
            continue  # encapsulated pixel data: pydicom has it as one value
        item = _ITEM.match(text)
        if item:
            depth = len(item["indent"]) // 2  # an item is at an odd depth, 2 * level + 1
            del stack[(depth - 1) // 2 + 1 :]
            stack[-1][-1].items.append([])
            stack.append(stack[-1][-1].items[-1])
            continue
        m = _ELEMENT.match(text)
        assert m, f"unparsable line {text!r}"
        del stack[len(m["indent"]) // 4 + 1 :]  # an element is at depth 2 * level
        tag = int(m["g"] + m["e"], 16)
        stack[-1].append(Line(tag, m["vr"], m["keyword"], m["value"]))
    meta, dataset = sections
    return meta, dataset


def _number(text: str) -> float:
    return float(text)


def _values(value: Any) -> list[Any]:
    """pydicom's value as a list (VM 0: empty)."""
    if value is None or value == "":
        return []
    if isinstance(value, list | tuple | pydicom.multival.MultiValue):
        return list(value)
    return [value]


def check_value(line: Line, raw: bytes | None, value: Any, vr: str, where: str) -> None:
    shown = line.value
    if vr in _TEXT and raw is not None:
        if not raw.isascii():
            return  # the dump decodes by the character set; pydicom's raw bytes are compared
        text = raw.decode("ascii").rstrip(" \0")
        text = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)
        assert shown == f"[{text}]", where
    elif vr in _NUMBERS and shown.startswith("[") and not isinstance(value, bytes):
        expected = _values(value)
        got = [_number(x) for x in shown[1:-1].split("\\")] if shown != "[]" else []
        assert len(got) == len(expected), where
        for a, b in zip(got, expected, strict=True):
            assert a == b or (math.isnan(a) and math.isnan(b)), where
    elif vr == "AT" and shown.startswith("[") and shown != "[]":
        expected = _values(value)
        assert shown[1:-1] == "\\".join(f"({t >> 16:04X},{t & 0xFFFF:04X})" for t in expected)
    elif shown.startswith("[") and raw is not None:  # a short binary value, in hex
        assert shown == "[" + "\\".join(f"{b:02x}" for b in raw) + "]", where


def compare(lines: list[Line], ds: pydicom.Dataset, where: str) -> None:
    tags = [int(t) for t in ds.keys()]  # noqa: SIM118 (iterating a Dataset converts values)
    assert [line.tag for line in lines] == tags, f"{where}: tags"
    for line in lines:
        tag = f"{where}({line.tag >> 16:04X},{line.tag & 0xFFFF:04X})"
        stored = ds.get_item(line.tag)
        raw = stored.value if isinstance(stored, RawDataElement) else None
        elem = ds[line.tag]
        if elem.keyword:
            assert line.keyword == elem.keyword, tag
        if line.vr == "UN" and elem.VR != "UN":
            continue  # pydicom replaces UN by the dictionary's VR; the dump shows the file's
        if line.vr.isupper():  # lower case: the dictionary's ambiguous VR, left as such
            assert line.vr == elem.VR, tag
        if elem.VR == "SQ":
            assert len(line.items) == len(elem.value), f"{tag}: items"
            for n, (item, item_ds) in enumerate(zip(line.items, elem.value, strict=True)):
                compare(item, item_ds, f"{tag}[{n}].")
            continue
        if isinstance(raw, bytes) or raw is None:
            check_value(line, raw, elem.value, elem.VR, tag)


def _cases() -> list[Path]:
    return [p for p in CORPUS if p.suffix == ".dcm" and p.stat().st_size < 8 << 20]


@pytest.mark.parametrize("path", _cases(), ids=lambda p: p.name)
def test_dump_equals_pydicom(path: Path) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(path)
    except Exception:
        return  # refused by pydicom; the scanner's differential test covers these
    try:
        lines = list(dump_lines(path.read_bytes(), width=0, lenient_odd_length=True))
    except (DatasetError, UnknownUIDError):
        return  # refused by the scanner: test_scanner_vs_pydicom.py says which and why
    meta, dataset = parse(lines)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        compare(meta, ds.file_meta, "meta ")
        compare(dataset, ds, "")

#!/usr/bin/env python3
"""Generate src/storecore/validators/_iod_table.py from PS3.3's IOD and module tables.

The built-in per-IOD validator checks, for every Mandatory (M) module of an
IOD, that its top-level Type 1 attributes are present with a value and its
Type 2 attributes are present (PS3.5 Section 7.4). The tables are the machine-
readable PS3.3 that highdicom ships (``highdicom/_standard/*.json``, MIT,
itself generated from the standard's DocBook: the IOD Module tables of PS3.3
Annex A and the module attribute tables of Annex C, macros expanded). Run
this script again after upgrading highdicom (``pip install highdicom``), or
point it at the folder of those JSON files:

    python3 tools/gen_iod_table.py [HIGHDICOM_STANDARD_DIR]

Only the IODs listed in ``IODS`` below are emitted: the ones the agreement
tests against dciodvfy cover. Conditional (C) and User Option (U) modules are
left out: their presence needs the condition evaluated. Within a module only
top-level attributes of Type 1 and 2 are kept; when two mandatory modules of
one IOD name the same attribute, the stricter type wins (e.g. the CT Image
Module makes Samples per Pixel Type 1, as the Image Pixel Module does).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "src" / "storecore" / "validators" / "_iod_table.py"

#: IOD key (highdicom's, from the PS3.3 section id) -> PS3.3 section of the IOD.
IODS: dict[str, str] = {
    "computed-radiography-image": "A.2",
    "ct-image": "A.3",
    "mr-image": "A.4",
    "nuclear-medicine-image": "A.5",
    "ultrasound-image": "A.6",
    "ultrasound-multi-frame-image": "A.7",
    "secondary-capture-image": "A.8.1",
    "multi-frame-single-bit-secondary-capture-image": "A.8.2",
    "multi-frame-grayscale-byte-secondary-capture-image": "A.8.3",
    "multi-frame-grayscale-word-secondary-capture-image": "A.8.4",
    "multi-frame-true-color-secondary-capture-image": "A.8.5",
    "x-ray-angiographic-image": "A.14",
    "x-ray-radiofluoroscopic-image": "A.16",
    "rt-image": "A.17",
    "rt-dose": "A.18",
    "rt-structure-set": "A.19",
    "rt-plan": "A.20",
    "positron-emission-tomography-image": "A.21",
    "digital-x-ray-image": "A.26",
    "digital-mammography-x-ray-image": "A.27",
    "basic-text-sr": "A.35.1",
    "enhanced-sr": "A.35.2",
    "comprehensive-sr": "A.35.3",
    "comprehensive-3d-sr": "A.35.13",
    "extensible-sr": "A.35.21",
    "enhanced-mr-image": "A.36.2",
    "enhanced-ct-image": "A.38.1",
    "encapsulated-pdf": "A.45.1",
    "segmentation": "A.51",
}

_TYPE_RANK = {"1": 0, "2": 1}

#: Top-level attributes the flattened tables list as Type 1/2 but that PS3.3
#: requires only conditionally, left out with the reason.
EXCLUDE: dict[str, dict[str, str]] = {
    # C.17.3: the SR Document Content Module includes the Document Content
    # Macro (Table C.17-5), whose content item macros (Table 10-2 family:
    # numeric, code, spatial and temporal coordinates, composite, table) apply
    # only for the matching Value Type; at the root only Value Type is Type 1
    # (Concept Name Code Sequence and Continuity of Content are 1C).
    "sr-document-content": {
        k: "content item macro, conditional on Value Type (PS3.3 C.17.3)"
        for k in (
            "ReferencedSOPSequence",
            "ContinuityOfContent",
            "TemporalRangeType",
            "ConceptCodeSequence",
            "MeasuredValueSequence",
            "TabulatedValuesSequence",
            "GraphicData",
            "GraphicType",
            "ReferencedFrameOfReferenceUID",
        )
    },
}


def _title(key: str) -> str:
    words = {"ct": "CT", "mr": "MR", "rt": "RT", "sr": "SR", "pdf": "PDF", "x-ray": "X-Ray"}
    key = key.replace("x-ray", "x_ray")
    return " ".join(words.get(w.replace("x_ray", "x-ray"), w.capitalize()) for w in key.split("-"))


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        folder = Path(argv[1])
    else:
        import highdicom

        folder = Path(highdicom.__file__).parent / "_standard"
    sop_iod: dict[str, str] = json.loads((folder / "sop_class_iod_map.json").read_text())
    iod_modules: dict[str, list[dict[str, str]]] = json.loads(
        (folder / "iod_module_map.json").read_text()
    )
    module_attrs: dict[str, list[dict[str, object]]] = json.loads(
        (folder / "module_attribute_map.json").read_text()
    )
    from pydicom.datadict import tag_for_keyword

    modules_used: dict[str, list[tuple[int, str, str]]] = {}
    iods: dict[str, tuple[str, str, tuple[str, ...]]] = {}
    for iod, section in IODS.items():
        mandatory = tuple(m["key"] for m in iod_modules[iod] if m["usage"] == "M")
        iods[iod] = (_title(iod), section, mandatory)
        for key in mandatory:
            if key in modules_used:
                continue
            rows: dict[int, tuple[str, str]] = {}
            for attr in module_attrs[key]:
                if attr["path"] or attr["type"] not in _TYPE_RANK:
                    continue
                keyword = str(attr["keyword"])
                if keyword in EXCLUDE.get(key, {}):
                    continue
                tag = tag_for_keyword(keyword)
                if tag is None:
                    raise SystemExit(f"{key}: {keyword} is not in pydicom's dictionary")
                old = rows.get(tag)
                if old is None or _TYPE_RANK[str(attr["type"])] < _TYPE_RANK[old[1]]:
                    rows[tag] = (keyword, str(attr["type"]))
            modules_used[key] = [(t, k, ty) for t, (k, ty) in sorted(rows.items())]
    sops = {uid: iod for uid, iod in sop_iod.items() if iod in IODS}
    lines = [
        '"""Mandatory modules of the covered IODs and their Type 1/2 top-level attributes.',
        "",
        "Generated by tools/gen_iod_table.py from PS3.3 (Annex A IOD Module tables,",
        "Annex C module attribute tables, as highdicom ships them); do not edit.",
        '"""',
        "",
        "# generated, do not edit",
        "",
        "from __future__ import annotations",
        "",
        "#: module key -> ((tag, keyword, type), ...), top-level Type 1 and 2 only",
        "MODULES: dict[str, tuple[tuple[int, str, str], ...]] = {",
    ]
    for key in sorted(modules_used):
        lines.append(f"    {key!r}: (")
        for tag, keyword, typ in modules_used[key]:
            lines.append(f"        (0x{tag:08X}, {keyword!r}, {typ!r}),")
        lines.append("    ),")
    lines += [
        "}",
        "",
        "#: IOD key -> (name, PS3.3 section, mandatory module keys)",
        "IODS: dict[str, tuple[str, str, tuple[str, ...]]] = {",
    ]
    for key, (name, section, mandatory) in iods.items():
        lines.append(f"    {key!r}: (")
        lines.append(f"        {name!r},")
        lines.append(f"        {section!r},")
        lines.append("        (")
        lines += [f"            {m!r}," for m in mandatory]
        lines.append("        ),")
        lines.append("    ),")
    lines += ["}", "", "#: SOP Class UID -> IOD key", "SOP_CLASS_IOD: dict[str, str] = {"]
    lines += [f"    {uid!r}: {iod!r}," for uid, iod in sorted(sops.items())]
    lines += ["}", ""]
    text = "\n".join(lines)
    if not re.search(r"'1\.2\.840\.10008\.5\.1\.4\.1\.1\.2'", text):
        raise SystemExit("CT Image Storage missing: wrong input?")
    OUT.write_text(text)
    try:  # the project's formatter, so that a regenerated table diffs cleanly
        import subprocess

        subprocess.run(["ruff", "format", "-q", str(OUT)], check=False)
    except OSError:
        pass
    print(f"wrote {OUT} ({len(modules_used)} modules, {len(iods)} IODs, {len(sops)} SOP Classes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

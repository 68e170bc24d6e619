"""``storecore validate FILES...``: the validators as a linter.

Prints one line per finding, ``FILE: severity (gggg,eeee): message (module,
reference) [validator]``, and exits 0 when no file has an error, 1 when one
has (or, with ``--warnings-as-errors``, a warning), 2 when a file cannot be
read as DICOM. The File Meta stands for the C-STORE command (PS3.10 7.1).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from storecore.errors import StorecoreError
from storecore.validators._protocol import Finding, Severity
from storecore.validators.policy import Mode, ValidationConfig
from storecore.validators.registry import Registry

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``validate`` command to a ``storecore`` sub-command parser."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "validate",
        help="check Part 10 files against their SOP Class (like a linter)",
        description="Run the SOP Class validators (built-in and installed plug-ins) on Part "
        "10 files and print their findings. Exits 0 if no file has an error, 1 if one has, "
        "2 if a file cannot be read.",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="files, or folders with -r")
    p.add_argument("-r", "--recursive", action="store_true", help="walk folders")
    p.add_argument("--glob", default="*", metavar="PATTERN", help="with -r: only matching files")
    p.add_argument("-v", "--verbose", action="store_true", help="show info findings too")
    p.add_argument("-q", "--quiet", action="store_true", help="show errors only")
    p.add_argument("--json", action="store_true", help="one JSON object per finding")
    p.add_argument(
        "--mode",
        choices=[m.value for m in Mode],
        default=Mode.STRICT.value,
        help="the status errors would get on ingest (shown with --json)",
    )
    p.add_argument("--calling-ae", default="", metavar="AE", help="validate as if sent by AE")
    p.add_argument(
        "--disable", action="append", default=[], metavar="LABEL", help="skip a validator"
    )
    p.add_argument(
        "--no-plugins", action="store_true", help="only the built-in validators (no entry points)"
    )
    p.add_argument("-W", "--warnings-as-errors", action="store_true", help="exit 1 on warnings")
    p.add_argument(
        "--list", action="store_true", help="list the validators that apply to each file"
    )
    p.set_defaults(run=run)
    return p


def _files(args: argparse.Namespace) -> Iterator[Path]:
    for name in args.files:
        path = Path(name)
        if path.is_dir() and args.recursive:
            yield from sorted(p for p in path.rglob(args.glob) if p.is_file())
        else:
            yield path


def run(args: argparse.Namespace) -> int:
    """Run ``storecore validate``; returns the exit code."""
    registry = Registry(entry_points=not args.no_plugins)
    config = ValidationConfig(mode=Mode(args.mode), disabled=frozenset(args.disable))
    shown = {Severity.ERROR, Severity.WARNING}
    if args.verbose:
        shown.add(Severity.INFO)
    if args.quiet:
        shown = {Severity.ERROR}
    worst = 0
    for path in _files(args):
        try:
            findings = registry.check_file(path, config, calling_ae_title=args.calling_ae)
        except (StorecoreError, OSError) as exc:
            print(f"{path}: cannot read: {exc}", file=sys.stderr)
            worst = 2
            continue
        if args.list:
            from storecore.dataset.part10 import read_file_meta

            with open(path, "rb") as fh:
                meta = read_file_meta(fh.read(64 * 1024))
            uid = meta.media_storage_sop_class_uid or ""
            labels = [r.label for r in registry.validators_for(uid)]
            print(f"{path}: {uid}: {', '.join(labels)}")
        for f in findings:
            if f.severity in shown:
                print(_json(path, f, config) if args.json else f"{path}: {f}")
        bad = any(
            f.severity is Severity.ERROR
            or (args.warnings_as_errors and f.severity is Severity.WARNING)
            for f in findings
        )
        if bad:
            worst = max(worst, 1)
    return worst


def _json(path: Path, f: Finding, config: ValidationConfig) -> str:
    status = config.status(f)
    return json.dumps(
        {
            "file": str(path),
            "severity": f.severity.value,
            "attribute": None if f.attribute is None else f"{f.attribute:08X}",
            "module": f.module,
            "reference": f.reference,
            "message": f.message,
            "action": f.action.value if f.action else None,
            "validator": f.validator,
            "status": None if status is None else f"0x{status:04X}",
        }
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m storecore.validators.cli FILES...`` until ``storecore validate`` is wired."""
    parser = argparse.ArgumentParser(prog="storecore")
    sub = parser.add_subparsers(dest="command", required=True)
    add_parser(sub)
    args = parser.parse_args(["validate", *(sys.argv[1:] if argv is None else argv)])
    return int(args.run(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

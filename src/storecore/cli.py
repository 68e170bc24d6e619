"""The ``storecore`` command.

Subcommands so far: ``scan`` (the fast header summary of Part 10 files),
``transcode`` (native transfer syntax rewriting), ``receive`` (a Storage SCP
writing files to a folder), ``echo`` and ``send`` (the SCU). The archive server
(``serve``) arrives with its issue.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from storecore import __version__
from storecore.dataset import Summary, summarize_file
from storecore.errors import StorecoreError
from storecore.transcode import transcode_file
from storecore.uid import transfer_syntax, transfer_syntaxes

__all__ = ["main"]

_COLUMNS = (
    ("patient_id", "Patient ID"),
    ("patient_name", "Patient's Name"),
    ("modality", "Mod"),
    ("rows", "Rows"),
    ("columns", "Cols"),
    ("number_of_frames", "Frames"),
    ("sop_instance_uid", "SOP Instance UID"),
)


def _files(paths: Sequence[str], recursive: bool, pattern: str) -> Iterator[Path]:
    for name in paths:
        path = Path(name)
        if path.is_dir():
            if not recursive:
                raise SystemExit(f"storecore: {path} is a folder: use --recursive")
            yield from sorted(p for p in path.rglob(pattern) if p.is_file())
        else:
            yield path


def _row(path: Path, s: Summary) -> str:
    ts = transfer_syntax(s.transfer_syntax_uid)
    cells = [str(getattr(s, key) if getattr(s, key) is not None else "-") for key, _ in _COLUMNS]
    return f"{path}  {ts.keyword}  " + "  ".join(cells)


def _scan(args: argparse.Namespace) -> int:
    failed = 0
    for path in _files(args.files, args.recursive, args.glob):
        try:
            summary = summarize_file(path, lenient_odd_length=args.lenient_odd_length)
        except (StorecoreError, OSError) as exc:
            failed += 1
            print(f"{path}: error: {exc}", file=sys.stderr)
            continue
        if args.json:
            print(json.dumps({"path": str(path), **summary._asdict()}))
        else:
            print(_row(path, summary))
    return 1 if failed else 0


def _transcode(args: argparse.Namespace) -> int:
    try:
        record = transcode_file(
            args.input, args.output, args.ts, lenient_odd_length=args.lenient_odd_length
        )
    except (StorecoreError, OSError) as exc:
        print(f"storecore transcode: error: {exc}", file=sys.stderr)
        return 1
    src, dst = transfer_syntax(record.source_ts), transfer_syntax(record.target_ts)
    print(
        f"{args.input} -> {args.output}: {record.path.value} ({src.keyword} -> {dst.keyword}, "
        f"{record.bytes_in} -> {record.bytes_out} bytes, {record.codec})"
    )
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="storecore",
        description="storecore: a DICOM transcoding storage engine.",
    )
    parser.add_argument("--version", action="version", version=f"storecore {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    scan = sub.add_parser(
        "scan",
        help="print the key attributes of Part 10 files (reads only up to the pixel data)",
        description="Print the key attributes of Part 10 files: transfer syntax, patient, "
        "modality, image size and SOP Instance UID. Reads each file only up to its pixel "
        "data. Exits 1 if any file could not be read.",
    )
    scan.add_argument("files", nargs="+", metavar="FILE", help="files, or folders with -r")
    scan.add_argument("-r", "--recursive", action="store_true", help="scan folders recursively")
    scan.add_argument(
        "--glob", default="*", metavar="PATTERN", help="with -r: only files matching (default *)"
    )
    scan.add_argument("--json", action="store_true", help="one JSON object per line")
    scan.add_argument(
        "--lenient-odd-length",
        action="store_true",
        help="accept odd value lengths (PS3.5 7.1.1 forbids them)",
    )
    scan.set_defaults(run=_scan)

    native = ", ".join(t.keyword for t in transfer_syntaxes() if t.native)
    tc = sub.add_parser(
        "transcode",
        help="rewrite a Part 10 file in another transfer syntax",
        description=f"Rewrite a Part 10 file in another transfer syntax, keeping its SOP "
        f"Instance UID. Native syntaxes for now: {native}. The output is written atomically.",
    )
    tc.add_argument("input", metavar="IN")
    tc.add_argument("output", metavar="OUT")
    tc.add_argument("--ts", required=True, help="target Transfer Syntax: UID or keyword")
    tc.add_argument(
        "--lenient-odd-length",
        action="store_true",
        help="accept odd value lengths (PS3.5 7.1.1 forbids them)",
    )
    tc.set_defaults(run=_transcode)

    receive = sub.add_parser(
        "receive",
        help="run a Storage SCP that writes each instance to a folder",
        description="Run a Storage SCP (C-ECHO, C-STORE of every Storage SOP Class) that "
        "writes each received instance to DIR/<SOP Instance UID>.dcm, its dataset bytes as "
        "received. SIGTERM or Ctrl-C stops accepting and lets associations in flight finish. "
        "(The archive, with its index and durability policies, is `storecore serve`.)",
    )
    receive.add_argument("--aet", default="STORECORE", help="our AE title (default STORECORE)")
    receive.add_argument("--host", default="0.0.0.0", help="address to listen on")
    receive.add_argument("--port", type=int, default=11112, help="TCP port (default 11112)")
    receive.add_argument("--dir", default="received", help="folder for the files")
    receive.add_argument("--fsync", action="store_true", help="fsync each file before Success")
    receive.add_argument(
        "--calling-aet", action="append", metavar="AET", help="allow only these callers"
    )
    receive.set_defaults(run=_receive)

    echo = sub.add_parser(
        "echo", help="C-ECHO a peer", description="C-ECHO a peer; exit 0 on success."
    )
    _peer_arguments(echo)
    echo.set_defaults(run=_echo)

    send = sub.add_parser(
        "send",
        help="C-STORE files to a peer",
        description="Send Part 10 files (C-STORE) over one association, or -j N in "
        "parallel; prints one line per file and exits 1 if any was not stored.",
    )
    _peer_arguments(send)
    send.add_argument("files", nargs="+", metavar="FILE", help="files, or folders with -r")
    send.add_argument("-r", "--recursive", action="store_true", help="send folders recursively")
    send.add_argument(
        "--glob", default="*", metavar="PATTERN", help="with -r: only files matching (default *)"
    )
    send.add_argument("-j", "--associations", type=int, default=1, help="parallel associations")
    send.set_defaults(run=_send)
    return parser


def _peer_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("host", help="the peer's host")
    p.add_argument("port", type=int, help="the peer's port")
    p.add_argument("--aec", default="ANY-SCP", help="called AE title (default ANY-SCP)")
    p.add_argument("--aet", default="STORECORE_SCU", help="our AE title")


def _echo(args: argparse.Namespace) -> int:
    from storecore.scu import StorageSCU

    try:
        status = StorageSCU(args.aet).echo(args.host, args.port, args.aec)
    except StorecoreError as exc:
        print(f"storecore echo: {exc}", file=sys.stderr)
        return 1
    print(f"C-ECHO {args.aec}@{args.host}:{args.port}: status 0x{status:04X}")
    return 0 if status == 0 else 1


def _send(args: argparse.Namespace) -> int:
    from storecore.scu import StorageSCU

    files = list(_files(args.files, args.recursive, args.glob))
    try:
        outcomes = StorageSCU(args.aet).send(
            files, args.host, args.port, args.aec, associations=args.associations
        )
    except StorecoreError as exc:
        print(f"storecore send: {exc}", file=sys.stderr)
        return 1
    for o in outcomes:
        status = "not sent" if o.status is None else f"0x{o.status:04X}"
        extra = f" ({o.comment})" if o.comment else ""
        t = o.transcode
        path = f" [{t.path.value} {t.source_ts} -> {t.target_ts}]" if t else ""
        print(f"{o.path}: {status}{extra}{path}")
    failed = sum(not o.ok for o in outcomes)
    print(f"{len(outcomes) - failed} stored, {failed} failed", file=sys.stderr)
    return 1 if failed else 0


def _receive(args: argparse.Namespace) -> int:
    import logging
    import signal

    from storecore.scp import StorageSCP
    from storecore.storage import DirectorySink

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    scp = StorageSCP(
        DirectorySink(args.dir, fsync=args.fsync),
        ae_title=args.aet,
        host=args.host,
        port=args.port,
        calling_ae_titles=args.calling_aet,
    )
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    scp.start()
    host, port = scp.address
    print(f"storecore: {args.aet} listening on {host}:{port}, writing to {args.dir}", flush=True)
    stop.wait()
    print("storecore: stopping; letting associations in flight finish", flush=True)
    scp.shutdown()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``storecore`` command; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        return int(args.run(args))
    except BrokenPipeError:  # e.g. piped into head
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

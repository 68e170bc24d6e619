"""The ``storecore`` command.

Subcommands: ``serve`` (the archive server), ``archive`` (look-ups, verify,
export, delete, import on an archive folder), ``scan`` (the fast header summary
of Part 10 files), ``dump`` (every element, like dcmdump), ``transcode``
(native transfer syntax rewriting), ``receive`` (a plain Storage SCP writing
files to a folder), ``echo`` and ``send`` (the SCU).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from storecore import __version__
from storecore.dataset import Summary, summarize_file
from storecore.errors import StorecoreError
from storecore.storage.blobstore import Layout
from storecore.storage.policy import DuplicatePolicy, Durability
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


def _dump(args: argparse.Namespace) -> int:
    import mmap

    from storecore.dataset.dump import dump_lines, parse_tag

    try:
        tags = {parse_tag(t) for t in args.tag} if args.tag else None
    except ValueError as exc:
        print(f"storecore dump: {exc}", file=sys.stderr)
        return 2
    files = list(_files(args.files, args.recursive, "*"))
    failed = 0
    for path in files:
        if len(files) > 1:
            print(f"# {path}")
        error = None
        try:
            with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
                # the error leaves as text inside the map's lifetime: a traceback would
                # hold the dump's views of the map, and closing it would raise BufferError
                try:
                    for line in dump_lines(
                        m,
                        max_depth=args.max_depth,
                        tags=tags,
                        width=args.width,
                        lenient_odd_length=args.lenient_odd_length,
                    ):
                        print(line)
                except StorecoreError as exc:
                    error = str(exc)
        except BrokenPipeError:
            raise
        except (OSError, ValueError) as exc:  # ValueError: the map of an empty file
            error = str(exc) if not isinstance(exc, ValueError) else "empty file"
        if error is not None:
            failed += 1
            sys.stdout.flush()
            print(f"{path}: error: {error}", file=sys.stderr)
    return 1 if failed else 0


def _transcode(args: argparse.Namespace) -> int:
    import tempfile

    from storecore.dataset.part10 import read_file_meta

    try:
        source_ts = read_file_meta(Path(args.input).read_bytes()).transfer_syntax_uid or ""
        if transfer_syntax(source_ts).native and transfer_syntax(args.ts).native:
            record = transcode_file(
                args.input, args.output, args.ts, lenient_odd_length=args.lenient_odd_length
            )
        else:
            from storecore.transcode.matrix import transcode as matrix_transcode

            data, record = matrix_transcode(args.input, args.ts, allow_lossy=args.allow_lossy)
            out = Path(args.output)
            fd, tmp = tempfile.mkstemp(prefix=".storecore-", dir=out.parent)
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                os.replace(tmp, out)
            except BaseException:
                os.unlink(tmp)
                raise
    except (StorecoreError, OSError) as exc:
        print(f"storecore transcode: error: {exc}", file=sys.stderr)
        return 1
    src, dst = transfer_syntax(record.source_ts), transfer_syntax(record.target_ts)
    ratio = f", ratio {record.ratio:.2f}" if getattr(record, "ratio", None) else ""
    new_uid = (
        f"; new SOP Instance UID {record.sop_instance_uid}"
        if record.sop_instance_uid != record.original_sop_instance_uid
        else ""
    )
    print(
        f"{args.input} -> {args.output}: {record.path.value} ({src.keyword} -> {dst.keyword}, "
        f"{record.bytes_in} -> {record.bytes_out} bytes, {record.codec}{ratio}){new_uid}"
    )
    return 0


def _lenient_odd_length(parser: argparse.ArgumentParser) -> None:
    """The scanner's named leniency, for the commands that read files."""
    parser.add_argument(
        "--lenient-odd-length",
        action="store_true",
        help="accept odd value lengths (PS3.5 7.1.1 forbids them)",
    )


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
    _lenient_odd_length(scan)
    scan.set_defaults(run=_scan)

    dump = sub.add_parser(
        "dump",
        help="print every element of Part 10 files, one per line (like dcmdump)",
        description="Print the File Meta Information and the data set of Part 10 files, one "
        "line per element: tag, VR, value length (u/l: undefined), keyword and value, sequence "
        "items indented under their sequence. Read with storecore's scanner; pixel data and "
        "binary values longer than 12 bytes are shown by their length only, so a large file "
        "dumps as fast as a small one. Exits 1 if any file could not be read (the elements "
        "before the fault are printed).",
    )
    dump.add_argument("files", nargs="+", metavar="FILE", help="files, or folders with -r")
    dump.add_argument("-r", "--recursive", action="store_true", help="dump folders recursively")
    dump.add_argument(
        "--max-depth",
        type=int,
        metavar="N",
        help="show sequence items nested at most N deep (0: top-level elements only)",
    )
    dump.add_argument(
        "--tag",
        action="append",
        metavar="TAG",
        help="show only this element, at any depth: gggg,eeee or a keyword (repeatable)",
    )
    dump.add_argument(
        "--width",
        type=int,
        default=64,
        metavar="N",
        help="truncate values after N characters (default 64; 0: never)",
    )
    _lenient_odd_length(dump)
    dump.set_defaults(run=_dump)

    native = ", ".join(t.keyword for t in transfer_syntaxes() if t.native)
    tc = sub.add_parser(
        "transcode",
        help="rewrite a Part 10 file in another transfer syntax",
        description=f"Rewrite a Part 10 file in another transfer syntax. Between native "
        f"syntaxes ({native}) without a codec; compressed ones through the transcoding "
        "matrix and the installed codecs (pip install storecore[codecs]). Lossless paths "
        "keep the SOP Instance UID (SUPPORTED); lossy output needs --allow-lossy and gets a "
        "new one (NEW_UID); anything else fails with the reason (NOT_SUPPORTED). The output "
        "is written atomically.",
    )
    tc.add_argument("input", metavar="IN")
    tc.add_argument("output", metavar="OUT")
    tc.add_argument("--ts", required=True, help="target Transfer Syntax: UID or keyword")
    tc.add_argument(
        "--allow-lossy",
        action="store_true",
        help="allow lossy output (NEW_UID: a new SOP Instance UID and the lossy attributes)",
    )
    _lenient_odd_length(tc)
    tc.set_defaults(run=_transcode)

    serve = sub.add_parser(
        "serve",
        help="run the archive: a Storage SCP storing into a folder with its SQLite index",
        description="Run the archive server: a Storage SCP (C-ECHO, C-STORE of every Storage "
        "SOP Class) that stores each instance durably into STORAGE (files under objects/, an "
        "SQLite index) and answers Success only once it is kept (see --durability). Options "
        "override the --config file (TOML; every key in docs/configuration.md). On start, what "
        "a crash left in the spool is recovered. SIGTERM or Ctrl-C stops accepting, lets "
        "associations in flight finish, then exits.",
    )
    serve.add_argument("--config", metavar="TOML", help="configuration file")
    serve.add_argument("--aet", help="our AE title (default STORECORE)")
    serve.add_argument("--host", help="address to listen on (default 0.0.0.0)")
    serve.add_argument("--port", type=int, help="TCP port (default 11112)")
    serve.add_argument("--storage", metavar="DIR", help="the archive folder (default ./archive)")
    serve.add_argument(
        "--durability",
        choices=[d.value for d in Durability],
        help="fsync (default): Success only once on disk; background: fsync every second "
        "(a power loss loses the last second)",
    )
    serve.add_argument(
        "--duplicates",
        choices=[d.value for d in DuplicatePolicy],
        help="a SOP Instance UID stored already: keep (default) the stored copy, overwrite it, "
        "reject a different one (0x0111), or keep both as versions",
    )
    serve.add_argument("--layout", choices=[x.value for x in Layout], help="file naming")
    serve.add_argument(
        "--metrics-port", type=int, metavar="PORT", help="serve Prometheus metrics on this port"
    )
    serve.add_argument(
        "--log-format", choices=["text", "json"], default="text", help="log lines as text or JSON"
    )
    serve.add_argument(
        "--calling-aet", action="append", metavar="AET", help="allow only these callers"
    )
    serve.set_defaults(run=_serve)

    archive = sub.add_parser(
        "archive",
        help="look into, verify, export from or import into an archive folder",
        description="Work on an archive folder offline (or beside a running server).",
    )
    asub = archive.add_subparsers(dest="action", required=True, metavar="ACTION")
    ls = asub.add_parser("ls", help="list patients, studies, or a study's instances")
    ls.add_argument("--study", metavar="UID", help="list this study's instances")
    ls.add_argument("--json", action="store_true", help="one JSON object per line")
    verify = asub.add_parser(
        "verify",
        help="check every file against the index (digests), and files the index lacks",
        description="fsck: recompute every instance's digest, find rows without files and "
        "files without rows. Exits 1 if anything is wrong (after --repair: if anything is "
        "left that repair cannot fix, i.e. corrupt files).",
    )
    verify.add_argument(
        "--repair",
        action="store_true",
        help="delete rows without files; index files without rows (or quarantine them)",
    )
    forward = asub.add_parser(
        "forward",
        help="re-send a study through the forwarding queue",
        description="Queue a study's instances (newest versions) for a forwarding rule, by the "
        "rule's name or its destination AE title; the running server's forwarder sends them.",
    )
    forward.add_argument("study", metavar="STUDY_UID")
    forward.add_argument("--to", required=True, metavar="RULE|AE", help="rule name or AE title")
    forward.add_argument("--config", metavar="TOML", help="the serve configuration (its rules)")
    queue = asub.add_parser("queue", help="the forwarding jobs: pending, done, failed")
    queue.add_argument("--state", choices=["pending", "done", "failed"], help="only these")
    show = asub.add_parser("show", help="an instance's index row: keys, digests, findings")
    show.add_argument("uid", metavar="SOP_INSTANCE_UID")
    export = asub.add_parser("export", help="copy a study's files to a folder")
    export.add_argument("study", metavar="STUDY_UID")
    export.add_argument("folder", metavar="DIR")
    delete = asub.add_parser("delete", help="delete an instance (every version)")
    delete.add_argument("uids", nargs="+", metavar="SOP_INSTANCE_UID")
    imp = asub.add_parser("import", help="store local Part 10 files through the ingest pipeline")
    imp.add_argument("files", nargs="+", metavar="FILE", help="files, or folders with -r")
    imp.add_argument("-r", "--recursive", action="store_true", help="import folders recursively")
    for p in (ls, forward, queue, show, verify, export, delete, imp):
        p.add_argument(
            "--storage",
            default="archive",
            metavar="DIR",
            help="the archive folder (default archive)",
        )
    archive.set_defaults(run=_archive)

    conf = sub.add_parser(
        "conformance",
        help="print the DICOM conformance statement of the configuration",
        description="Print a PS3.2-style conformance statement (Markdown) generated from the "
        "configuration `storecore serve --config` would run with and the installed codecs: "
        "SOP classes and syntaxes per role, the statuses and their causes, the duplicate and "
        "durability policies, Storage Commitment, and Table N.5-9 (transcoding).",
    )
    conf.add_argument("--config", metavar="TOML", help="configuration file")
    conf.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    conf.set_defaults(run=_conformance)

    from storecore.validators import cli as validate_cli

    validate_cli.add_parser(sub)

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
    send.add_argument(
        "--allow-lossy",
        action="store_true",
        help="when the peer takes none of a file's own syntax, lossy output may be sent "
        "(NEW_UID); default: lossless only",
    )
    send.add_argument(
        "--report",
        metavar="JSON",
        help="write one JSON row per instance (status, comment, "
        "transfer syntax, transcoding path) to this file",
    )
    send.add_argument(
        "--progress",
        choices=["auto", "on", "off"],
        default="auto",
        help="a progress bar on stderr (auto: when stderr is a terminal)",
    )
    send.add_argument(
        "--commit",
        action="store_true",
        help="then request Storage Commitment for what was stored, and exit 1 unless all "
        "of it was committed",
    )
    send.add_argument(
        "--commit-timeout", type=float, default=60.0, help="seconds to wait for the report"
    )
    send.add_argument(
        "--journal",
        metavar="SQLITE",
        help="with --commit: record the request and its result in this file",
    )
    send.add_argument(
        "--report-port",
        type=int,
        metavar="PORT",
        help="with --commit: listen on this port (as --aet) for a report the SCP sends on an "
        "association of its own, releasing ours at once (PS3.4 J.3.3)",
    )
    send.set_defaults(run=_send)

    commit = sub.add_parser(
        "commit",
        help="request Storage Commitment for instances already sent",
        description="Request Storage Commitment (PS3.4 Annex J) for the instances in FILEs "
        "(their SOP Class and Instance UIDs are read from the files) and wait for the report "
        "on the same association; exit 0 only if every instance was committed.",
    )
    _peer_arguments(commit)
    commit.add_argument("files", nargs="+", metavar="FILE", help="files, or folders with -r")
    commit.add_argument("-r", "--recursive", action="store_true", help="read folders recursively")
    commit.add_argument("--timeout", type=float, default=60.0, help="seconds to wait")
    commit.add_argument(
        "--journal",
        metavar="SQLITE",
        help="record each request and its result in this file (kept across restarts)",
    )
    commit.add_argument(
        "--report-port",
        type=int,
        metavar="PORT",
        help="listen on this port (as --aet) for a report the SCP sends on an association "
        "of its own, releasing ours at once (PS3.4 J.3.3)",
    )
    commit.set_defaults(run=_commit)
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
    # each file's size, read once: for the bar's total, its progress and the summary
    sizes: dict[Path, int] = {}
    for f in files:
        try:
            sizes[f] = f.stat().st_size
        except OSError:
            sizes[f] = 0
    bar = _progress_bar(args.progress, sum(sizes.values()))
    lock = threading.Lock()

    started = time.monotonic()

    def tick(outcome: Any) -> None:
        if bar is not None:
            with lock:
                size = sizes.get(Path(outcome.path), 0)
                bar.n_instances += 1
                rate = bar.n_instances / max(time.monotonic() - started, 1e-6)
                bar.set_postfix_str(
                    f"{bar.n_instances} of {len(files)}, {rate:,.0f} instances/s", refresh=False
                )
                bar.update(size)

    try:
        outcomes = StorageSCU(args.aet, allow_lossy=args.allow_lossy).send(
            files, args.host, args.port, args.aec, associations=args.associations, progress=tick
        )
    except StorecoreError as exc:
        print(f"storecore send: {exc}", file=sys.stderr)
        return 1
    finally:
        if bar is not None:
            bar.close()
    for o in outcomes:
        status = "not sent" if o.status is None else f"0x{o.status:04X}"
        extra = f" ({o.comment})" if o.comment else ""
        t = o.transcode
        path = f" [{t.path.value} {t.source_ts} -> {t.target_ts}]" if t else ""
        print(f"{o.path}: {status}{extra}{path}")
    seconds = time.monotonic() - started
    failed = sum(not o.ok for o in outcomes)
    statuses: dict[str, int] = {}
    for o in outcomes:
        key = "not sent" if o.status is None else f"0x{o.status:04X}"
        statuses[key] = statuses.get(key, 0) + 1
    _print_send_summary(outcomes, sizes, seconds)
    print(
        f"{len(outcomes) - failed} stored, {failed} failed ("
        + ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items()))
        + ")",
        file=sys.stderr,
    )
    if args.report:
        rows = [
            {
                "path": str(o.path),
                "sop_instance_uid": o.sop_instance_uid,
                "sop_class_uid": o.sop_class_uid,
                "status": o.status,
                "ok": o.ok,
                "comment": o.comment,
                "transfer_syntax_uid": o.transfer_syntax_uid,
                "transcode": None
                if o.transcode is None
                else {
                    "path": o.transcode.path.value,
                    "source_ts": o.transcode.source_ts,
                    "target_ts": o.transcode.target_ts,
                    "codec": o.transcode.codec,
                },
            }
            for o in outcomes
        ]
        Path(args.report).write_text(json.dumps(rows, indent=1) + "\n")
    if args.commit:
        stored = [o for o in outcomes if o.ok and o.sop_instance_uid and o.sop_class_uid]
        if not stored:
            print("nothing stored: no commitment requested", file=sys.stderr)
            return 1
        not_committed = _request_commitment(args, stored, args.commit_timeout, "send: commitment")
        if not_committed is None:
            return 1
        failed += not_committed
    return 1 if failed else 0


def _request_commitment(
    args: argparse.Namespace, refs: Sequence[Any], timeout: float, what: str
) -> int | None:
    """Storage Commitment for `refs` as the command line asked; the number not
    committed (printed), or None when the request itself failed."""
    from storecore.scu import StorageSCU

    try:
        outcome = StorageSCU(args.aet).commit(
            refs,
            args.host,
            args.port,
            args.aec,
            timeout=timeout,
            report_address=("0.0.0.0", args.report_port) if args.report_port else None,
            journal=args.journal,
        )
    except StorecoreError as exc:
        print(f"storecore {what}: {exc}", file=sys.stderr)
        return None
    return _print_commitment(outcome)


def _print_send_summary(outcomes: Sequence[Any], sizes: dict[Path, int], seconds: float) -> None:
    """The summary table on stderr: instances and MB per status and transcoding path."""
    rows: dict[tuple[str, str], list[int]] = {}
    total = 0
    for o in outcomes:
        status = "not sent" if o.status is None else f"0x{o.status:04X}"
        path = "as stored" if o.transcode is None else o.transcode.path.value
        if o.status is None:
            path = "-"
        size = 0 if o.status is None else sizes.get(Path(o.path), 0)
        row = rows.setdefault((status, path), [0, 0])
        row[0] += 1
        row[1] += size
        total += size
    print(f"{'status':<10} {'sent':<14} {'instances':>10} {'MB':>10}", file=sys.stderr)
    for (status, path), (n, size) in sorted(rows.items()):
        print(f"{status:<10} {path:<14} {n:>10,} {size / 1e6:>10,.2f}", file=sys.stderr)
    rate = len(outcomes) / seconds if seconds > 0 else 0.0
    print(
        f"{'total':<10} {f'{seconds:.2f} s':<14} {len(outcomes):>10,} {total / 1e6:>10,.2f}"
        f"   {rate:,.0f} instances/s, {total / 1e6 / max(seconds, 1e-9):,.1f} MB/s",
        file=sys.stderr,
    )


def _progress_bar(mode: str, total: int) -> Any:
    """A tqdm bar of `total` bytes (MB/s) with the instance count, or None."""
    if mode == "off" or (mode == "auto" and not sys.stderr.isatty()):
        return None
    from tqdm import tqdm

    bar = tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1000, file=sys.stderr)
    bar.n_instances = 0
    return bar


def _print_commitment(outcome: Any) -> int:
    """Print a commitment outcome; the number of instances not committed."""
    result = outcome.result
    if result is None:
        print(
            f"commitment {outcome.transaction_uid}: {outcome.state} "
            f"(0x{outcome.status:04X}{', ' + outcome.comment if outcome.comment else ''})"
        )
        return 1
    for ref in result.failed:
        print(f"not committed: {ref.sop_instance_uid} (failure reason 0x{ref.failure_reason:04X})")
    print(
        f"commitment {outcome.transaction_uid}: {len(result.committed)} committed, "
        f"{len(result.failed)} failed"
    )
    return len(result.failed)


def _commit(args: argparse.Namespace) -> int:
    from storecore.commitment import Reference

    refs = []
    for path in _files(args.files, args.recursive, "*"):
        try:
            s = summarize_file(path)
        except (StorecoreError, OSError) as exc:
            print(f"{path}: error: {exc}", file=sys.stderr)
            return 1
        refs.append(Reference(s.sop_class_uid or "", s.sop_instance_uid or ""))
    not_committed = _request_commitment(args, refs, args.timeout, "commit")
    return 1 if not_committed is None or not_committed else 0


def _receive(args: argparse.Namespace) -> int:
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


def _conformance(args: argparse.Namespace) -> int:
    from storecore.config import ServeConfig, load_config
    from storecore.conformance import conformance_statement

    try:
        config = load_config(args.config) if args.config else ServeConfig()
    except StorecoreError as exc:
        print(f"storecore conformance: {exc}", file=sys.stderr)
        return 2
    text = conformance_statement(config)
    if args.output:
        Path(args.output).write_text(text)
    else:
        print(text)
    return 0


def _serve(args: argparse.Namespace) -> int:
    import signal

    from storecore.config import ServeConfig, load_config
    from storecore.net.tls import server_context
    from storecore.scp import StorageSCP
    from storecore.storage import Archive

    _configure_logging(args.log_format)
    try:
        config = load_config(args.config) if args.config else ServeConfig()
        config = config.override(
            ae_title=args.aet,
            host=args.host,
            port=args.port,
            path=Path(args.storage) if args.storage else None,
            durability=Durability(args.durability) if args.durability else None,
            duplicates=DuplicatePolicy(args.duplicates) if args.duplicates else None,
            layout=Layout(args.layout) if args.layout else None,
            allowed_calling_ae_titles=tuple(args.calling_aet) if args.calling_aet else None,
            metrics_port=args.metrics_port,
        )
        ssl_context = server_context(config)
        from storecore.net.metrics import MeteredSink, Metrics

        metrics = Metrics()
        metered = config.metrics_port is not None
        policy = config.policy(observe_finding=metrics.finding if metered else None)
        archive = Archive(config.path, policy=policy, layout=config.layout)
    except (StorecoreError, OSError) as exc:
        print(f"storecore serve: {exc}", file=sys.stderr)
        return 2
    from storecore.commitment.service import CommitmentService

    commitment = CommitmentService(
        archive,
        directory=config.report_addresses(),
        ae_title=config.ae_title,
        timeouts=config.timeouts(),
    )
    import functools

    from storecore.forward import Forwarder

    forwarder = (
        Forwarder(
            archive,
            config.forward,
            on_transcode=functools.partial(metrics.transcoded, "forward") if metered else None,
            timeouts=config.timeouts(),
        )
        if config.forward
        else None
    )
    metrics.watch(archive, commitment)
    sink: Any = archive.sink()
    try:
        if config.metrics_port is not None:
            sink = MeteredSink(sink, metrics)
            port = metrics.serve(config.metrics_port, config.metrics_host)
            print(f"storecore: metrics on http://{config.metrics_host}:{port}/metrics", flush=True)
        scp = StorageSCP(
            sink,
            commitment=commitment,
            ae_title=config.ae_title,
            host=config.host,
            port=config.port,
            sop_classes=config.sop_classes or None,
            transfer_syntaxes=config.transfer_syntaxes or None,
            promiscuous=config.promiscuous,
            calling_ae_titles=config.calling_ae_titles(),
            peer_services=config.peer_services(),
            max_pdu_length=config.max_pdu_length,
            limits=config.limits,
            timeouts=config.timeouts(),
            max_associations=config.max_associations,
            ssl_context=ssl_context,
        )
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        scp.start()
        host, port = scp.address
        print(
            f"storecore: {config.ae_title} listening on {host}:{port}"
            f"{' (TLS)' if ssl_context is not None else ''}, archive {config.path} "
            f"(durability {config.durability.value}, duplicates {config.duplicates.value}, "
            f"{archive.index.count() if hasattr(archive.index, 'count') else '?'} instances)",
            flush=True,
        )
        stop.wait()
        print("storecore: stopping; letting associations in flight finish", flush=True)
        scp.shutdown()
    finally:
        metrics.close()
        if forwarder is not None:
            forwarder.close()
        commitment.close()
        archive.close()
    print("storecore: stopped", flush=True)
    return 0


class _JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line)


def _configure_logging(kind: str) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(
        _JSONFormatter()
        if kind == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(message)s")
    )
    logging.basicConfig(level=logging.INFO, handlers=[handler])


def _archive_forward(archive: Any, args: argparse.Namespace) -> int:
    from storecore.config import ServeConfig, load_config
    from storecore.storage.index import Enqueue

    try:
        config = load_config(args.config) if args.config else ServeConfig()
    except StorecoreError as exc:
        print(f"storecore archive forward: {exc}", file=sys.stderr)
        return 2
    rules = [r for r in config.forward if args.to in (r.name, r.ae_title)]
    if len(rules) != 1:
        known = ", ".join(f"{r.name} ({r.ae_title})" for r in config.forward) or "none"
        print(
            f"storecore archive forward: {args.to!r} names {len(rules)} rules (rules: {known})",
            file=sys.stderr,
        )
        return 2
    newest: dict[str, Any] = {}
    for r in archive.instances(study_instance_uid=args.study):
        if r.sop_instance_uid not in newest or r.version > newest[r.sop_instance_uid].version:
            newest[r.sop_instance_uid] = r
    if not newest:
        print(
            f"storecore archive forward: study {args.study} is not in the archive", file=sys.stderr
        )
        return 1
    archive.index.apply([Enqueue(rules[0].name, tuple(r.pk for r in newest.values()))])
    print(f"{len(newest)} instances queued for {rules[0].name} ({rules[0].ae_title})")
    return 0


def _archive(args: argparse.Namespace) -> int:
    from storecore.storage import Archive, StoragePolicy

    root = Path(args.storage)
    if args.action != "import" and not (root / "index.sqlite").exists():
        print(f"storecore archive: {root} is not an archive (no index.sqlite)", file=sys.stderr)
        return 2
    with Archive(root, policy=StoragePolicy(min_free_bytes=0)) as archive:
        if args.action == "ls":
            if args.study:
                rows: list[Any] = list(archive.instances(study_instance_uid=args.study))
            else:
                rows = archive.studies()
            for row in rows:
                if args.json:
                    print(json.dumps(dataclasses.asdict(row)))
                elif args.study:
                    print(
                        f"{row.sop_instance_uid}  v{row.version}  {row.modality or '-'}  "
                        f"{row.size} bytes  {row.stored_transfer_syntax}  {row.blob_key}"
                    )
                else:
                    print(
                        f"{row.study_instance_uid}  {row.patient_id or '-'}  "
                        f"{row.study_date or '-'}  {row.series} series  {row.instances} instances"
                    )
            return 0
        if args.action == "forward":
            return _archive_forward(archive, args)
        if args.action == "queue":
            jobs = archive.index.forward_jobs(state=args.state)  # type: ignore[attr-defined]
            for j in jobs:
                status = "-" if j.status is None else f"0x{j.status:04X}"
                path = j.transcode["path"] if j.transcode else "as stored"
                print(
                    f"{j.pk}  {j.rule}  {j.sop_instance_uid}  {j.state}  {status}  "
                    f"{j.attempts} attempts  {path}  {j.error}"
                )
            counts: dict[str, int] = {}
            for j in jobs:
                counts[j.state] = counts.get(j.state, 0) + 1
            print(", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "no jobs")
            return 0
        if args.action == "show":
            found = archive.versions(args.uid)  # by its own UID, or the one sent (lossy)
            if not found:
                print(f"{args.uid}: not in the archive", file=sys.stderr)
                return 1
            for record in found:
                print(json.dumps(dataclasses.asdict(record), indent=2, sort_keys=True))
            return 0
        if args.action == "verify":
            report = archive.verify(repair=args.repair)
            for label, items in (
                ("missing file", report.missing),
                ("corrupt", report.corrupt),
                ("not indexed", report.orphans),
            ):
                for item in items:
                    print(f"{label}: {item}")
            print(
                f"{report.checked} instances checked: {len(report.missing)} missing, "
                f"{len(report.corrupt)} corrupt, {len(report.orphans)} not indexed"
                + (f"; {report.repaired} repaired" if args.repair else "")
            )
            left = report.corrupt if args.repair else not report.ok
            return 1 if left else 0
        if args.action == "export":
            try:
                written = archive.export_study(args.study, args.folder)
            except StorecoreError as exc:
                print(f"storecore archive export: {exc}", file=sys.stderr)
                return 1
            print(f"{len(written)} files written to {args.folder}")
            return 0
        if args.action == "delete":
            missing = 0
            for uid in args.uids:
                n = archive.delete(uid)
                missing += n == 0
                print(f"{uid}: {n} deleted" if n else f"{uid}: not in the archive")
            return 1 if missing else 0
        failed = 0
        for path in _files(args.files, args.recursive, "*"):
            try:
                result = archive.store_file(path)
            except (StorecoreError, OSError) as exc:
                failed += 1
                print(f"{path}: error: {exc}", file=sys.stderr)
                continue
            failed += result.status >> 12 not in (0, 0xB)
            extra = f" ({result.comment})" if result.comment else ""
            print(f"{path}: 0x{result.status:04X}{extra}")
        return 1 if failed else 0


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

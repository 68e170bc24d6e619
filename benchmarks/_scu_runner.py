"""A Storage SCU as a process of its own, for the network benchmark.

    python benchmarks/_scu_runner.py {storecore,pynetdicom} HOST PORT CALLED_AE LISTFILE
        [--pdu 131072] [--associations 1]

LISTFILE holds the paths to send, one a line; everything goes over one
association (storecore: over ``--associations`` at once, the files dealt out
round-robin by ``send(..., associations=N)``). Prints one JSON line:
``sent``, ``ok`` (Success or Warning statuses), ``wall`` and ``cpu`` seconds
of the transfer, and up to five ``failures``. The timed window starts before
the files are first read and ends after the release, so it holds what a
sender does (reading the files, choosing the presentation contexts, sending),
but not the interpreter's start-up and imports: a deployed SCU is a
long-running process.

``storecore``
    ``StorageSCU(max_pdu_length=...).send(paths, ..., associations=N)``.
``pynetdicom``
    The way pynetdicom's own storescu app does it, leaner: every file's header
    read with ``dcmread(stop_before_pixels=True)`` for the contexts (the app
    reads whole files), one ``AE.associate``, then ``dcmread`` and
    ``send_c_store`` per file.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def send_storecore(
    paths: list[str], host: str, port: int, called: str, pdu: int, associations: int = 1
) -> tuple[int, list[str]]:
    from storecore.scu import StorageSCU

    outcomes = StorageSCU(max_pdu_length=pdu).send(
        paths, host, port, called, associations=associations
    )
    failures = [f"{o.path.name}: {o.status} {o.comment}" for o in outcomes if not o.ok]
    return sum(o.ok for o in outcomes), failures


def send_pynetdicom(
    paths: list[str], host: str, port: int, called: str, pdu: int, associations: int = 1
) -> tuple[int, list[str]]:
    if associations != 1:
        raise ValueError("the pynetdicom sender runs one association")
    from pydicom import dcmread
    from pynetdicom import AE

    contexts: dict[str, list[str]] = {}
    for path in paths:
        ds = dcmread(path, stop_before_pixels=True)
        syntaxes = contexts.setdefault(ds.SOPClassUID, [])
        if ds.file_meta.TransferSyntaxUID not in syntaxes:
            syntaxes.append(ds.file_meta.TransferSyntaxUID)
    ae = AE(ae_title="PYNETDICOM_SCU")
    ae.maximum_pdu_size = pdu
    for sop_class, syntaxes in contexts.items():
        ae.add_requested_context(sop_class, syntaxes)
    assoc = ae.associate(host, port, ae_title=called)
    if not assoc.is_established:
        return 0, ["association not established"]
    ok, failures = 0, []
    try:
        for i, path in enumerate(paths):
            if not assoc.is_established:
                failures.append(f"the association ended after {i} instances")
                break
            status = assoc.send_c_store(dcmread(path))
            code = getattr(status, "Status", None)
            if code is not None and (code == 0 or code >> 12 == 0xB):
                ok += 1
            else:
                failures.append(f"{Path(path).name}: {code}")
    finally:
        if assoc.is_established:
            assoc.release()
    return ok, failures


SENDERS = {"storecore": send_storecore, "pynetdicom": send_pynetdicom}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("impl", choices=sorted(SENDERS))
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("called_ae")
    parser.add_argument("listfile")
    parser.add_argument("--pdu", type=int, default=128 * 1024, help="max receive PDU length")
    parser.add_argument("--associations", type=int, default=1, help="at once (storecore)")
    args = parser.parse_args()
    paths = Path(args.listfile).read_text().split("\n")
    paths = [p for p in paths if p]
    send = SENDERS[args.impl]
    if args.impl == "pynetdicom":  # the imports, outside the timed window
        import pydicom  # noqa: F401
        import pynetdicom  # noqa: F401
    else:
        import storecore.scu  # noqa: F401
    t0, c0 = time.perf_counter(), time.process_time()
    ok, failures = send(paths, args.host, args.port, args.called_ae, args.pdu, args.associations)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(
        json.dumps(
            {"sent": len(paths), "ok": ok, "wall": wall, "cpu": cpu, "failures": failures[:5]}
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()

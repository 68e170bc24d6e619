"""The storecore Storage SCP as a process of its own, for the network benchmark.

    python benchmarks/_scp_runner.py DIR PORT [--pdu 131072] [--ae STORECORE]

Serves ``StorageSCP(DirectorySink(DIR))`` (one Part 10 file per instance, the
dataset bytes as received, no fsync) until SIGTERM or SIGINT, then lets the
associations in flight finish. A process of its own so that the harness reads
its CPU time and peak RSS from /proc/<pid>, as it does for dcmtk's and
pynetdicom's storescp.
"""

from __future__ import annotations

import argparse
import signal
import threading

from storecore.scp import StorageSCP
from storecore.storage import DirectorySink


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory")
    parser.add_argument("port", type=int)
    parser.add_argument("--pdu", type=int, default=128 * 1024, help="max receive PDU length")
    parser.add_argument("--ae", default="STORECORE", help="our AE title")
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    scp = StorageSCP(
        DirectorySink(args.directory),
        ae_title=args.ae,
        host=args.host,
        port=args.port,
        max_pdu_length=args.pdu,
    )
    scp.start()  # accepts in a background thread; the main thread waits for a signal
    while not stop.wait(3600):
        pass
    scp.shutdown(drain_timeout=10)


if __name__ == "__main__":
    main()

"""The storecore Storage SCP as a process of its own, for the network benchmark.

    python benchmarks/_scp_runner.py DIR PORT [--pdu 131072] [--ae STORECORE] [--discard]

Serves ``StorageSCP(DirectorySink(DIR))`` (one Part 10 file per instance, the
dataset bytes as received, no fsync) until SIGTERM or SIGINT, then lets the
associations in flight finish. With ``--discard`` the SCP stores nothing: each
dataset is received and dropped, and answered Success; at exit the count of
instances and dataset bytes goes to ``DIR/discarded.json``. That receiver is
the benchmark's ceiling for a sender: no SCP that writes files can answer it
faster. A process of its own so that the harness reads
its CPU time and peak RSS from /proc/<pid>, as it does for dcmtk's and
pynetdicom's storescp.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
from pathlib import Path

from storecore.scp import StorageSCP
from storecore.storage import DirectorySink, StoreRequest, StoreResult


class _Discarded:
    """Counts a dataset's bytes, keeps none of them."""

    def __init__(self, sink: DiscardSink) -> None:
        self.sink = sink
        self.size = 0

    def write(self, chunk: memoryview) -> None:
        self.size += len(chunk)

    def finish(self) -> StoreResult:
        with self.sink.lock:
            self.sink.instances += 1
            self.sink.bytes += self.size
        return StoreResult(0)

    def abort(self) -> None:
        pass


class DiscardSink:
    """Receives every instance and stores nothing (``--discard``)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.instances = 0
        self.bytes = 0

    def begin(self, request: StoreRequest) -> _Discarded:
        return _Discarded(self)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory")
    parser.add_argument("port", type=int)
    parser.add_argument("--pdu", type=int, default=128 * 1024, help="max receive PDU length")
    parser.add_argument("--ae", default="STORECORE", help="our AE title")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--discard", action="store_true", help="store nothing (the ceiling)")
    args = parser.parse_args()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    discard = DiscardSink() if args.discard else None
    scp = StorageSCP(
        discard or DirectorySink(args.directory),
        ae_title=args.ae,
        host=args.host,
        port=args.port,
        max_pdu_length=args.pdu,
    )
    scp.start()  # accepts in a background thread; the main thread waits for a signal
    while not stop.wait(3600):
        pass
    scp.shutdown(drain_timeout=10)
    if discard is not None:
        out = Path(args.directory)
        out.mkdir(parents=True, exist_ok=True)
        counts = {"instances": discard.instances, "bytes": discard.bytes}
        (out / "discarded.json").write_text(json.dumps(counts))


if __name__ == "__main__":
    main()

"""Prometheus metrics of the archive server, and the HTTP endpoint that serves them.

:class:`MeteredSink` wraps any :class:`~storecore.storage.StoreSink` and counts
what passes through it (instances by C-STORE status, bytes, the time from the
first fragment to the answer, the transcoding path taken on ingest);
:meth:`Metrics.finding` counts validator findings and :meth:`Metrics.transcoded`
the transcoding paths of forwarding sends (their producers are handed these
methods); the archive's own state (instances indexed, free space, forwarding
jobs and commitment transactions by state) is read when Prometheus scrapes.
Each :class:`Metrics` has its own registry, so two servers in one process (or
the tests) never share counters.

This module lives in ``net`` because it opens a listening socket (STYLE.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from storecore.storage.sink import Prepared, StoreHandle, StoreRequest, StoreResult, StoreSink
from storecore.uid import transfer_syntax

if TYPE_CHECKING:
    from storecore.commitment.service import CommitmentService
    from storecore.storage.archive import Archive
    from storecore.validators import Finding

__all__ = ["Metrics", "MeteredSink"]

# C-STORE latency buckets (seconds): 4 KB instances answer in ~1 ms, a 1 GB one in seconds
_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class _ArchiveCollector(Collector):
    def __init__(self, archive: Archive, commitment: CommitmentService | None) -> None:
        self.archive = archive
        self.commitment = commitment

    def collect(self) -> Iterator[GaugeMetricFamily]:
        index = self.archive.index
        count: Callable[[], int] | None = getattr(index, "count", None)
        if count is not None:
            yield GaugeMetricFamily(
                "storecore_archive_instances", "Instances in the archive's index", value=count()
            )
        yield GaugeMetricFamily(
            "storecore_archive_free_bytes",
            "Free space on the archive's filesystem",
            value=self.archive.store.free_bytes(),
        )
        counts: Callable[[], dict[tuple[str, str], int]] | None = getattr(
            index, "forward_counts", None
        )
        if counts is not None:
            family = GaugeMetricFamily(
                "storecore_forward_jobs",
                "Forwarding jobs by rule and state (pending: the queue's depth)",
                labels=["rule", "state"],
            )
            for (rule, state), n in sorted(counts().items()):
                family.add_metric([rule, state], n)
            yield family
        if self.commitment is not None:
            states = {"pending": 0, "delivered": 0, "undeliverable": 0}
            for t in self.commitment.store.all():
                states[t.state] = states.get(t.state, 0) + 1
            family = GaugeMetricFamily(
                "storecore_commitment_transactions",
                "Storage Commitment transactions by state",
                labels=["state"],
            )
            for state, n in sorted(states.items()):
                family.add_metric([state], n)
            yield family


class Metrics:
    """The server's metrics; :meth:`serve` exposes them on ``http://host:port/metrics``."""

    def __init__(
        self, archive: Archive | None = None, commitment: CommitmentService | None = None
    ) -> None:
        self.registry = CollectorRegistry()
        self.instances = Counter(
            "storecore_instances_received",
            "C-STORE requests answered, by status",
            ["status"],
            registry=self.registry,
        )
        self.bytes = Counter(
            "storecore_bytes_received", "Data set bytes received", registry=self.registry
        )
        self.latency = Histogram(
            "storecore_store_seconds",
            "From the first data set fragment to the C-STORE answer",
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.findings = Counter(
            "storecore_validation_findings",
            "Validator findings (answered or not), by severity, validator label and PS3.3 module",
            ["severity", "validator", "module"],
            registry=self.registry,
        )
        self.transcodes = Counter(
            "storecore_transcodes",
            "Transcoding paths taken (PS3.2 Table N.5-9: SUPPORTED, NEW_UID, NOT_SUPPORTED), "
            "on ingest and when forwarding, by source and target transfer syntax",
            ["where", "path", "source", "target"],
            registry=self.registry,
        )
        if archive is not None:
            self.watch(archive, commitment)
        self._server: object | None = None

    def watch(self, archive: Archive, commitment: CommitmentService | None = None) -> None:
        """Report `archive`'s state (and `commitment`'s transactions) at each scrape."""
        self.registry.register(_ArchiveCollector(archive, commitment))

    def finding(self, finding: Finding) -> None:
        """Count one validator finding (the registry's ``observe`` callback)."""
        severity = "failed" if finding.failed else finding.severity.value
        self.findings.labels(severity, finding.validator or "-", finding.module or "-").inc()

    def transcoded(self, where: str, path: str, source_ts: str, target_ts: str) -> None:
        """Count one transcoding decision; `where` is ``ingest`` or ``forward``."""
        self.transcodes.labels(where, path, _keyword(source_ts), _keyword(target_ts)).inc()

    def serve(self, port: int, host: str = "127.0.0.1") -> int:
        """Start the HTTP endpoint in a daemon thread; returns the port (0: any free one)."""
        server, _thread = start_http_server(port, addr=host, registry=self.registry)
        self._server = server
        return int(server.server_port)

    def close(self) -> None:
        server = self._server
        if server is not None:
            server.shutdown()  # type: ignore[attr-defined]
            server.server_close()  # type: ignore[attr-defined]
            self._server = None


class MeteredSink:
    """A sink that counts what it passes on to `sink`."""

    def __init__(self, sink: StoreSink, metrics: Metrics) -> None:
        self.sink = sink
        self.metrics = metrics
        if hasattr(sink, "prepare"):  # the SCP looks for it (StoreSink)
            self.prepare = self._prepare

    def begin(self, request: StoreRequest) -> StoreHandle:
        return _MeteredHandle(self.sink.begin(request), self.metrics)

    def _prepare(self) -> Prepared:
        return _MeteredPrepared(self.sink.prepare(), self.metrics)  # type: ignore[attr-defined]


class _MeteredPrepared:
    def __init__(self, prepared: Prepared, metrics: Metrics) -> None:
        self.prepared = prepared
        self.metrics = metrics

    def begin(self, request: StoreRequest) -> StoreHandle:
        return _MeteredHandle(self.prepared.begin(request), self.metrics)

    def discard(self) -> None:
        self.prepared.discard()


class _MeteredHandle:
    def __init__(self, handle: StoreHandle, metrics: Metrics) -> None:
        self.handle = handle
        self.metrics = metrics
        self.started = time.perf_counter()

    def write(self, chunk: memoryview) -> None:
        self.metrics.bytes.inc(len(chunk))
        self.handle.write(chunk)

    def finish(self) -> StoreResult:
        result = self.handle.finish()
        self.metrics.instances.labels(f"0x{result.status:04X}").inc()
        self.metrics.latency.observe(time.perf_counter() - self.started)
        # the archive's ingest handle keeps its transcoding record (the index row's
        # ``transcode``) once the instance is through; other sinks have none
        record = getattr(self.handle, "transcode", None)
        if isinstance(record, dict) and "path" in record:
            self.metrics.transcoded(
                "ingest", record["path"], record.get("source_ts", ""), record.get("target_ts", "")
            )
        return result

    def abort(self) -> None:
        self.metrics.instances.labels("aborted").inc()
        self.handle.abort()


def _keyword(uid: str) -> str:
    """A transfer syntax's keyword for a label (the UID if it has none; "-": none)."""
    if not uid:
        return "-"
    try:
        return transfer_syntax(uid).keyword or uid
    except LookupError:
        return uid

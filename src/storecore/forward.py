"""Forwarding: storage requests the archive makes when it has stored an instance.

PS3.2 N.5.2.5.1 asks an SCU to state what triggers its storage requests. Here:
**automatically, once an instance is stored** (trigger ``on-store``), or **once
its study is stable** (``on-study-stable``: no new instance of the study for
``stable_seconds``; the study then goes as one batch, over one association). A rule
names a destination and a filter on the instance's indexed keys; for every
instance it matches, the archive queues a job *in the same index transaction
that stores the instance* (:attr:`StoragePolicy.route`), so no acknowledged
instance misses its forwarding, whatever happens after.

:class:`Forwarder` works the queue in a thread: due jobs are grouped by rule
and sent over one association per batch by :class:`~storecore.scu.StorageSCU`
(each file as stored, or through the transcoding matrix when the destination
takes none of its syntax, lossless unless the rule allows lossy output). Each
job ends ``done`` (the destination's Success or warning status), ``failed``
for good (a refusal that a retry cannot change: 0xA9xx, 0xCxxx, 0x0122,
NOT_SUPPORTED, with the reason), or is retried with back-off (0xA7xx, the
destination unreachable, a time-out). The destination's status and the
transcoding record are kept with the job (``storecore archive queue``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from storecore.errors import StorecoreError
from storecore.storage.archive import Archive
from storecore.storage.index import FinishJob, ForwardJob, InstanceRecord, Postpone

if TYPE_CHECKING:
    from storecore.net.channel import Timeouts

__all__ = ["ForwardRule", "Forwarder", "router"]

log = logging.getLogger(__name__)

# a failure no retry can change (PS3.4 B.2.3; PS3.7 C.5)
_PERMANENT_CLASSES = (0xA9, 0xC0, 0xC1, 0xC2, 0xC3, 0xC4, 0xC5, 0xC6, 0xC7, 0xC8, 0xC9, 0xCA)
_PERMANENT = frozenset({0x0122, 0x0124, 0x0211, 0x0111})


@dataclass(frozen=True)
class ForwardRule:
    """Where matching instances go once stored.

    Attributes
    ----------
    name : str
        The rule's name (jobs refer to it).
    ae_title, host, port : str, str, int
        The destination.
    match : mapping of str to sequence of str
        Instance keys (``modality``, ``sop_class_uid``, ``calling_ae_title``,
        ``patient_id``, ``study_instance_uid``, ...) to the values accepted; an
        instance matches when every key has one of its values. Empty: all.
    allow_lossy : bool
        Lossy output may be sent when the destination takes no lossless syntax.
    transfer_syntaxes : tuple of str
        Syntaxes to forward in by preference (proposed, and used when the
        destination accepts one and the matrix reaches it).
    commit : bool
        Request Storage Commitment from the destination after each batch: a
        job is done only once its instance is committed (a failure reason
        ends it; no report retries it).
    trigger : {"on-store", "on-study-stable"}
        Each instance once stored, or each study once it has had no new
        instance for `stable_seconds` (then all its waiting instances at once).
    calling_ae_title : str
        Our AE title towards the destination.
    """

    name: str
    ae_title: str
    host: str
    port: int
    match: Mapping[str, Sequence[str]] = field(default_factory=dict)
    allow_lossy: bool = False
    calling_ae_title: str = "STORECORE"
    transfer_syntaxes: tuple[str, ...] = ()
    trigger: str = "on-store"
    stable_seconds: float = 60.0
    commit: bool = False
    commit_timeout: float = 60.0

    def matches(self, record: InstanceRecord) -> bool:
        return all(str(getattr(record, k, "")) in v for k, v in self.match.items())


def router(rules: Sequence[ForwardRule]) -> Any:
    """The :attr:`StoragePolicy.route` for `rules`."""

    def route(record: InstanceRecord) -> list[str]:
        return [r.name for r in rules if r.matches(record)]

    return route


def _permanent(status: int) -> bool:
    return status in _PERMANENT or (status >> 8) in _PERMANENT_CLASSES


class Forwarder:
    """Works an archive's forwarding queue until :meth:`close`.

    Parameters
    ----------
    archive : Archive
    rules : sequence of ForwardRule
        The rules jobs may name (a job of an unknown rule fails with that reason).
    retry_delays : sequence of float
        Seconds before each new attempt of a job; after the last it fails.
    batch : int
        At most this many instances per association.
    on_transcode : callable, optional
        Called with (path, source syntax, target syntax) for each instance sent
        in another syntax, or not sent for want of one (NOT_SUPPORTED; the
        target is then ""), e.g. to count them in the metrics.
    """

    def __init__(
        self,
        archive: Archive,
        rules: Sequence[ForwardRule],
        *,
        retry_delays: Sequence[float] = (1, 5, 15, 60, 300, 900, 3600),
        batch: int = 500,
        poll: float = 0.2,
        on_transcode: Callable[[str, str, str], object] | None = None,
        timeouts: Timeouts | None = None,
    ) -> None:
        self.archive = archive
        self.on_transcode = on_transcode
        self.timeouts = timeouts
        self.rules = {r.name: r for r in rules}
        self.retry_delays = tuple(retry_delays)
        self.batch = batch
        self.poll = poll
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="storecore-forward", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                worked = self.run_once()
            except Exception:
                log.exception("forwarding failed; retrying")
                worked = False
            if not worked:
                self._stop.wait(self.poll)

    def run_once(self) -> bool:
        """Send the jobs due now; True if there were any."""
        index: Any = self.archive.index
        jobs: list[ForwardJob] = index.forward_jobs(due=time.time(), limit=self.batch)
        if not jobs:
            return False
        by_rule: dict[str, list[ForwardJob]] = {}
        for job in jobs:
            by_rule.setdefault(job.rule, []).append(job)
        for name, group in by_rule.items():
            if self._stop.is_set():
                break
            self._send(name, group)
        return True

    def _send(self, name: str, jobs: list[ForwardJob]) -> None:

        index: Any = self.archive.index
        rule = self.rules.get(name)
        if rule is None:
            self.archive.index.apply(
                [
                    FinishJob(j.pk, "failed", None, f"no forwarding rule named {name!r}")
                    for j in jobs
                ]
            )
            return
        paths = []
        sendable = []
        finished = []
        for job in jobs:
            record = index.instance_by_pk(job.instance_pk)
            if record is None:  # deleted since
                finished.append(FinishJob(job.pk, "failed", None, "the instance was deleted"))
                continue
            paths.append(self.archive.store.path(record.blob_key))
            sendable.append(job)
        if finished:
            self.archive.index.apply(finished)
        if not sendable:
            return
        if rule.trigger == "on-study-stable":
            self._send_stable_studies(rule, sendable, paths)
            return
        self._send_batch(rule, sendable, paths)

    def _send_stable_studies(
        self, rule: ForwardRule, jobs: list[ForwardJob], paths: list[Any]
    ) -> None:
        """Each study whose newest instance is `stable_seconds` old goes as one batch."""
        index: Any = self.archive.index
        studies: dict[str | None, list[tuple[ForwardJob, Any]]] = {}
        for job, path in zip(jobs, paths, strict=True):
            record = index.instance_by_pk(job.instance_pk)
            study = record.study_instance_uid if record is not None else None
            studies.setdefault(study, []).append((job, path))
        now = time.time()
        for study, members in studies.items():
            newest = max(
                (r.received_at for r in index.instances(study_instance_uid=study)),
                default=0.0,
            ) if study is not None else 0.0  # fmt: skip
            stable_at = newest + rule.stable_seconds
            if stable_at > now:
                index.apply([Postpone(tuple(j.pk for j, _ in members), stable_at)])
                continue
            # every waiting job of the study, not only those due in this batch
            waiting = [
                j
                for j in index.forward_jobs(state="pending", limit=100_000)
                if j.rule == rule.name and j.pk not in {m.pk for m, _ in members}
            ]
            for j in waiting:
                record = index.instance_by_pk(j.instance_pk)
                if record is not None and record.study_instance_uid == study:
                    members.append((j, self.archive.store.path(record.blob_key)))
            self._send_batch(rule, [j for j, _ in members], [p for _, p in members])

    def _send_batch(self, rule: ForwardRule, sendable: list[ForwardJob], paths: list[Any]) -> None:
        from storecore.scu import AssociationRejected, StorageSCU

        name = rule.name
        scu = StorageSCU(
            rule.calling_ae_title,
            allow_lossy=rule.allow_lossy,
            transfer_syntaxes=rule.transfer_syntaxes,
            timeouts=self.timeouts,
        )
        try:
            outcomes = scu.send(paths, rule.host, rule.port, rule.ae_title)
        except (AssociationRejected, StorecoreError, OSError) as exc:
            self.archive.index.apply([self._retry(j, None, str(exc)) for j in sendable])
            log.warning("forward %s: %d instances not sent: %s", name, len(sendable), exc)
            return
        ops = []
        if self.on_transcode is not None:
            self._observe(sendable, outcomes)
        for job, outcome in zip(sendable, outcomes, strict=True):
            record = outcome.transcode
            transcode = (
                None
                if record is None
                else {
                    "path": record.path.value,
                    "source_ts": record.source_ts,
                    "target_ts": record.target_ts,
                    "codec": record.codec,
                    "sop_instance_uid": record.sop_instance_uid,
                }
            )
            status = outcome.status
            comment = outcome.comment or ""
            if status is not None and (status == 0 or status >> 12 == 0xB):
                ops.append(FinishJob(job.pk, "done", status, comment, 0.0, transcode))
            elif status is not None and _permanent(status):
                ops.append(FinishJob(job.pk, "failed", status, comment, 0.0, transcode))
            elif status is None and (
                comment.startswith("NOT_SUPPORTED") or "SOP Class not accepted" in comment
            ):
                ops.append(FinishJob(job.pk, "failed", None, comment, 0.0, transcode))
            else:
                ops.append(self._retry(job, status, comment or "no answer"))
        if rule.commit:
            ops = self._commit(scu, rule, sendable, outcomes, ops)
        self.archive.index.apply(ops)
        done = sum(op.state == "done" for op in ops)
        log.info("forward %s -> %s: %d of %d sent", name, rule.ae_title, done, len(ops))

    def _observe(self, jobs: list[ForwardJob], outcomes: list[Any]) -> None:
        assert self.on_transcode is not None
        index: Any = self.archive.index
        for job, outcome in zip(jobs, outcomes, strict=True):
            record = outcome.transcode
            if record is not None:
                self.on_transcode(record.path.value, record.source_ts, record.target_ts)
            elif outcome.status is None and (outcome.comment or "").startswith("NOT_SUPPORTED"):
                stored = index.instance_by_pk(job.instance_pk)
                source = stored.stored_transfer_syntax if stored is not None else ""
                self.on_transcode("NOT_SUPPORTED", source, "")

    def _commit(
        self,
        scu: Any,
        rule: ForwardRule,
        jobs: list[ForwardJob],
        outcomes: list[Any],
        ops: list[FinishJob],
    ) -> list[FinishJob]:
        """Storage Commitment for what the destination took: a job is done once committed."""
        from storecore.commitment import Reference

        stored: dict[str, int] = {}  # SOP Instance UID as sent -> index in ops
        refs = []
        for n, (op, outcome) in enumerate(zip(ops, outcomes, strict=True)):
            if op.state != "done":
                continue
            record = outcome.transcode
            uid = (record.sop_instance_uid if record else None) or outcome.sop_instance_uid
            stored[uid] = n
            refs.append(Reference(outcome.sop_class_uid or "", uid))
        if not refs:
            return ops
        try:
            result = scu.commit(
                refs, rule.host, rule.port, rule.ae_title, timeout=rule.commit_timeout
            )
        except (StorecoreError, OSError) as exc:
            result = None
            why = f"stored, not committed: {exc}"
        else:
            why = f"stored, commitment {result.state}"
        out = list(ops)
        if result is None or result.result is None:
            for n in stored.values():
                out[n] = self._retry(jobs[n], ops[n].status, why)
            return out
        for ref in result.result.failed:
            i = stored.get(ref.sop_instance_uid)
            if i is not None:
                reason = ref.failure_reason or 0
                out[i] = FinishJob(
                    jobs[i].pk,
                    "failed",
                    ops[i].status,
                    f"not committed: failure reason 0x{reason:04X}",
                    0.0,
                    ops[i].transcode,
                )
        for ref in result.result.committed:
            i = stored.get(ref.sop_instance_uid)
            if i is not None:
                out[i] = FinishJob(
                    jobs[i].pk, "done", ops[i].status, "committed", 0.0, ops[i].transcode
                )
        return out

    def _retry(self, job: ForwardJob, status: int | None, error: str) -> FinishJob:
        if job.attempts < len(self.retry_delays):
            return FinishJob(
                job.pk, "pending", status, error, time.time() + self.retry_delays[job.attempts]
            )
        return FinishJob(job.pk, "failed", status, f"gave up after {job.attempts + 1}: {error}")

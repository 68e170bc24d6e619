"""Forwarding on store over loopback: a chain, transcoding, retries, refusals, restarts."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pydicom
import pytest

from storecore.forward import Forwarder, ForwardRule, router
from storecore.scp import StorageSCP
from storecore.scu import StorageSCU
from storecore.storage import Archive, StoragePolicy

from ..unit.storage.helpers import dataset_bytes, write_instance
from .conftest import dcmtk, dcmtk_env, free_port, storescp

JPEG_LS_LOSSLESS = "1.2.840.10008.1.2.4.80"
MR = "1.2.840.10008.5.1.4.1.1.4"


@contextmanager
def node(
    root: Path,
    rules: list[ForwardRule] = (),
    **scp: object,  # type: ignore[assignment]
) -> Iterator[tuple[Archive, StorageSCP, Forwarder | None]]:
    """An archive with its SCP (and forwarder when there are rules)."""
    policy = StoragePolicy(min_free_bytes=0, route=router(rules) if rules else None)
    archive = Archive(root, policy=policy)
    server = StorageSCP(
        archive.sink(), host="127.0.0.1", port=scp.pop("port", 0), ae_title="STORECORE", **scp
    ).start()  # type: ignore[arg-type]
    forwarder = Forwarder(archive, rules, retry_delays=(0.2,) * 20, poll=0.05) if rules else None
    try:
        yield archive, server, forwarder
    finally:
        if forwarder is not None:
            forwarder.close()
        server.shutdown(5)
        archive.close()


def wait_for(condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _jobs(archive: Archive, state: str | None = None) -> list:
    return archive.index.forward_jobs(state=state)  # type: ignore[attr-defined,no-any-return]


def test_chain_dcmtk_to_a_to_b_and_to_dcmtk(tmp_path: Path) -> None:
    """dcmtk -> A; A forwards on store to B (JPEG-LS lossless only) and to dcmtk's storescp
    (uncompressed only): every instance arrives, in the syntax each takes, its UID kept."""
    files = [write_instance(tmp_path / "in", sop_instance_uid=f"1.2.3.{n}") for n in range(1, 6)]
    jp2 = Path(pydicom.data.get_testdata_file("MR_small_jp2klossless.dcm"))
    out = tmp_path / "dcmtk"
    with (
        storescp(out, "DCMTK") as dcmtk_port,
        node(tmp_path / "b", transfer_syntaxes=[JPEG_LS_LOSSLESS]) as (b, b_scp, _),
    ):
        rules = [
            ForwardRule(
                "to-b",
                "STORECORE",
                "127.0.0.1",
                b_scp.address[1],
                transfer_syntaxes=(JPEG_LS_LOSSLESS,),
            ),
            ForwardRule("to-dcmtk", "DCMTK", "127.0.0.1", dcmtk_port),
        ]
        with node(tmp_path / "a", rules) as (a, a_scp, _):
            sent = subprocess.run(
                [dcmtk("storescu"), "-aec", "STORECORE", "-xv", "127.0.0.1",
                 str(a_scp.address[1]), *map(str, files), str(jp2)],
                env=dcmtk_env(), capture_output=True, text=True, timeout=120,
            )  # fmt: skip
            assert sent.returncode == 0, sent.stderr
            try:
                wait_for(lambda: len(_jobs(a, "done")) == 12)
            except AssertionError:
                raise AssertionError(
                    [(j.rule, j.state, j.status, j.error) for j in _jobs(a)]
                ) from None
            jobs = _jobs(a)
            assert {j.state for j in jobs} == {"done"}
            to_b = [j for j in jobs if j.rule == "to-b"]
            assert {j.transcode["path"] for j in to_b} == {"SUPPORTED"}
            assert {j.transcode["target_ts"] for j in to_b} == {JPEG_LS_LOSSLESS}
        for uid in [f"1.2.3.{n}" for n in range(1, 6)] + [pydicom.dcmread(jp2).SOPInstanceUID]:
            row = b.instance(uid)
            assert row is not None and row.stored_transfer_syntax == JPEG_LS_LOSSLESS
        by_uid = {pydicom.dcmread(p).SOPInstanceUID: p for p in out.iterdir()}
        assert len(by_uid) == 6
        for src in [*files, jp2]:
            original = pydicom.dcmread(src)
            for copy in (pydicom.dcmread(by_uid[original.SOPInstanceUID]),
                         pydicom.dcmread(b.path(original.SOPInstanceUID))):  # fmt: skip
                assert (copy.pixel_array == original.pixel_array).all()


def test_destination_down_then_up_and_a_restart_mid_queue(tmp_path: Path) -> None:
    files = [write_instance(tmp_path / "in", sop_instance_uid=f"1.2.4.{n}") for n in range(1, 9)]
    b_port = free_port()
    rules = [ForwardRule("to-b", "STORECORE", "127.0.0.1", b_port)]
    with node(tmp_path / "a", rules) as (a, a_scp, _):
        assert all(
            o.ok for o in StorageSCU().send(files, "127.0.0.1", a_scp.address[1], "STORECORE")
        )
        wait_for(lambda: all(j.attempts >= 2 for j in _jobs(a)))  # refused, retried
        assert {j.state for j in _jobs(a)} == {"pending"}
        assert "cannot connect" in _jobs(a)[0].error
    # the node stops with its queue pending, and starts again once B is up
    with node(tmp_path / "b", port=b_port) as (b, _, _):
        with node(tmp_path / "a", rules) as (a, _, _):
            wait_for(lambda: len(_jobs(a, "done")) == 8)
        for f in files:
            uid = pydicom.dcmread(f).SOPInstanceUID
            assert dataset_bytes(b.path(uid)) == dataset_bytes(f)
        assert len(list(b.instances())) == 8  # each sent once


def test_a_destination_that_refuses_the_sop_class_stops_the_job(tmp_path: Path) -> None:
    ct = write_instance(tmp_path / "in", sop_instance_uid="1.2.5.1")
    with node(tmp_path / "b", sop_classes=[MR]) as (_, b_scp, _):
        rules = [ForwardRule("to-b", "STORECORE", "127.0.0.1", b_scp.address[1])]
        with node(tmp_path / "a", rules) as (a, a_scp, _):
            StorageSCU().send([ct], "127.0.0.1", a_scp.address[1], "STORECORE")
            wait_for(lambda: len(_jobs(a, "failed")) == 1)
            (job,) = _jobs(a)
            assert "SOP Class not accepted" in job.error and job.attempts == 1


def test_rules_filter_on_the_indexed_keys(tmp_path: Path) -> None:
    rule = ForwardRule("ct-only", "X", "127.0.0.1", 1, match={"modality": ("MR",)})
    ct = write_instance(tmp_path / "in", sop_instance_uid="1.2.6.1")
    archive = Archive(tmp_path / "a", policy=StoragePolicy(min_free_bytes=0, route=router([rule])))
    try:
        archive.store_file(ct)
        assert _jobs(archive) == []  # a CT does not match modality MR
    finally:
        archive.close()


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('[[forward]]\nname = "x"\ndestination = "nowhere"\n', "use AE@HOST:PORT"),
        (
            '[[forward]]\nname = "x"\ndestination = "A@h:1"\ntrigger = "daily"\n',
            "on-store or on-study-stable",
        ),
        ('[[forward]]\nname = "x"\ndestination = "A@h:1"\nfilter = 1\n', "unknown key filter"),
    ],
)
def test_forward_config_errors(tmp_path: Path, text: str, words: str) -> None:
    from storecore.config import ConfigError, load_config

    path = tmp_path / "storecore.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=words):
        load_config(path)


def test_a_study_forwarded_once_stable_goes_as_one_association(tmp_path: Path) -> None:
    """Two bursts of one study, the pause shorter than the stable time: one batch."""
    first = [write_instance(tmp_path / "in", sop_instance_uid=f"1.2.7.{n}") for n in (1, 2, 3)]
    second = [write_instance(tmp_path / "in", sop_instance_uid=f"1.2.7.{n}") for n in (4, 5)]
    with node(tmp_path / "b") as (b, b_scp, _):
        rule = ForwardRule(
            "study", "STORECORE", "127.0.0.1", b_scp.address[1],
            trigger="on-study-stable", stable_seconds=1.5,
        )  # fmt: skip
        with node(tmp_path / "a", [rule]) as (a, a_scp, _):
            port = a_scp.address[1]
            assert all(o.ok for o in StorageSCU().send(first, "127.0.0.1", port, "STORECORE"))
            time.sleep(0.5)  # shorter than the stable time
            assert b_scp.associations == 0
            assert all(o.ok for o in StorageSCU().send(second, "127.0.0.1", port, "STORECORE"))
            wait_for(lambda: len(_jobs(a, "done")) == 5)
        assert b_scp.associations == 1  # the whole study, over one association
        assert len(list(b.instances())) == 5


def test_archive_forward_re_sends_a_study_through_the_queue(tmp_path: Path) -> None:
    import sys

    files = [
        write_instance(tmp_path / "in", sop_instance_uid=f"1.2.8.{n}", study="1.2.8")
        for n in (1, 2, 3)
    ]
    with node(tmp_path / "b") as (b, b_scp, _):
        port = b_scp.address[1]
        config = tmp_path / "storecore.toml"
        config.write_text(
            f'[[forward]]\nname = "to-b"\ndestination = "STORECORE@127.0.0.1:{port}"\n'
            'match = { modality = ["MR"] }\n'  # the CTs are not forwarded on store
        )
        archive = Archive(tmp_path / "a", policy=StoragePolicy(min_free_bytes=0))
        for f in files:
            assert archive.store_file(f).status == 0
        archive.close()
        cli = [sys.executable, "-m", "storecore.cli", "archive", "forward", "--storage",
               str(tmp_path / "a"), "--config", str(config)]  # fmt: skip
        unknown = subprocess.run([*cli, "1.2.8", "--to", "NOBODY"], capture_output=True, text=True)
        assert unknown.returncode == 2 and "to-b (STORECORE)" in unknown.stderr
        queued = subprocess.run([*cli, "1.2.8", "--to", "to-b"], capture_output=True, text=True)
        assert queued.returncode == 0, queued.stderr
        assert "3 instances queued for to-b" in queued.stdout
        rules = [ForwardRule("to-b", "STORECORE", "127.0.0.1", port)]
        with node(tmp_path / "a", rules) as (a, _, _):
            wait_for(lambda: len(_jobs(a, "done")) == 3)
        assert {r.sop_instance_uid for r in b.instances()} == {"1.2.8.1", "1.2.8.2", "1.2.8.3"}


def test_forwarding_with_commitment_ends_only_once_committed(tmp_path: Path) -> None:
    from storecore.commitment.service import CommitmentService

    files = [write_instance(tmp_path / "in", sop_instance_uid=f"1.2.11.{n}") for n in (1, 2)]
    b = Archive(tmp_path / "b", policy=StoragePolicy(min_free_bytes=0))
    service = CommitmentService(b)
    b_scp = StorageSCP(
        b.sink(), host="127.0.0.1", port=0, ae_title="STORECORE", commitment=service
    ).start()
    plain = StorageSCP(b.sink(), host="127.0.0.1", port=0, ae_title="STORECORE").start()
    try:
        rules = [
            ForwardRule("committed", "STORECORE", "127.0.0.1", b_scp.address[1], commit=True),
            # a destination without Storage Commitment: stored, but never done
            ForwardRule("uncommitted", "STORECORE", "127.0.0.1", plain.address[1], commit=True),
        ]
        with node(tmp_path / "a", rules) as (a, a_scp, _):
            StorageSCU().send(files, "127.0.0.1", a_scp.address[1], "STORECORE")
            wait_for(lambda: len(_jobs(a, "done")) == 2)
            wait_for(lambda: all(j.attempts >= 2 for j in _jobs(a) if j.rule == "uncommitted"))
            jobs = _jobs(a)
            assert {(j.rule, j.state, j.error) for j in jobs if j.rule == "committed"} == {
                ("committed", "done", "committed")
            }
            waiting = [j for j in jobs if j.rule == "uncommitted"]
            assert {j.state for j in waiting} == {"pending"}
            assert all("not committed" in j.error for j in waiting), waiting
    finally:
        b_scp.shutdown(5)
        plain.shutdown(5)
        service.close()
        b.close()


def test_serve_killed_mid_queue_loses_no_job(tmp_path: Path) -> None:
    """kill -9 of a forwarding `storecore serve` with jobs pending; restarted, it sends them."""
    import signal
    import sys
    import urllib.request

    files = [write_instance(tmp_path / "in", sop_instance_uid=f"1.2.12.{n}") for n in range(1, 7)]
    b_port, metrics_port = free_port(), free_port()
    config = tmp_path / "storecore.toml"
    config.write_text(
        "[storage]\nmin_free_bytes = 0\n"
        f"[metrics]\nport = {metrics_port}\n"
        f'[[forward]]\nname = "to-b"\ndestination = "STORECORE@127.0.0.1:{b_port}"\n'
    )
    storage = tmp_path / "a"

    def serve() -> tuple[subprocess.Popen[str], int]:
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "storecore.cli", "serve", "--config", str(config),
             "--host", "127.0.0.1", "--port", str(port), "--storage", str(storage)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert proc.stdout is not None
        assert "listening" in proc.stdout.readline() + proc.stdout.readline()  # after metrics
        return proc, port

    def pending() -> float:
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as r:
            for line in r.read().decode().splitlines():
                if line.startswith('storecore_forward_jobs{rule="to-b",state="pending"}'):
                    return float(line.rpartition(" ")[2])
        return 0.0

    proc, port = serve()
    try:
        assert all(o.ok for o in StorageSCU().send(files, "127.0.0.1", port, "STORECORE"))
        assert pending() == 6  # B is down: the queue holds them
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    with node(tmp_path / "b", port=b_port) as (b, _, _):
        proc, _ = serve()
        try:
            wait_for(lambda: len(list(b.instances())) == 6)
            wait_for(lambda: pending() == 0)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=60)
        assert {r.sop_instance_uid for r in b.instances()} == {f"1.2.12.{n}" for n in range(1, 7)}
        assert all(r.version == 1 for r in b.instances())  # each sent once

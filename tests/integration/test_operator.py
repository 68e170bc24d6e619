"""The command as an operator drives it: serve with metrics, send a folder with a report, --help."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from ..unit.storage.helpers import write_instance
from .conftest import free_port

CLI = [sys.executable, "-m", "storecore.cli"]

SUBCOMMANDS = [
    [],
    ["serve"],
    ["archive"],
    ["archive", "ls"],
    ["archive", "show"],
    ["archive", "verify"],
    ["archive", "export"],
    ["archive", "delete"],
    ["archive", "import"],
    ["archive", "forward"],
    ["archive", "queue"],
    ["scan"],
    ["dump"],
    ["transcode"],
    ["validate"],
    ["receive"],
    ["echo"],
    ["send"],
    ["commit"],
    ["conformance"],
]


@pytest.mark.parametrize("words", SUBCOMMANDS, ids=lambda w: " ".join(w) or "storecore")
def test_every_help_answers(words: list[str]) -> None:
    run = subprocess.run([*CLI, *words, "--help"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("usage: storecore")


def _scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        text = r.read().decode()
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


def test_serve_with_metrics_and_send_a_folder_with_a_report(tmp_path: Path) -> None:
    folder = tmp_path / "study"
    for n in range(12):
        write_instance(folder / f"s{n % 3}", sop_instance_uid=f"1.2.3.{n + 1}")
    (folder / "notes.txt").write_text("not DICOM")
    config = tmp_path / "storecore.toml"
    metrics_port = free_port()
    config.write_text(f"[storage]\nmin_free_bytes = 0\n[metrics]\nport = {metrics_port}\n")
    port = free_port()
    server = subprocess.Popen(
        [*CLI, "serve", "--config", str(config), "--host", "127.0.0.1", "--port", str(port),
         "--storage", str(tmp_path / "archive"), "--log-format", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        assert "listening" in server.stdout.readline() + server.stdout.readline()
        before = _scrape(metrics_port)
        assert before["storecore_archive_instances"] == 0
        report = tmp_path / "report.json"
        send = subprocess.run(
            [*CLI, "send", "127.0.0.1", str(port), "--aec", "STORECORE", "-r", str(folder),
             "--report", str(report), "--progress", "on", "-j", "2"],
            capture_output=True,
            text=True,
            timeout=120,
        )  # fmt: skip
        # the text file is reported as not sent: the exit code says something failed
        assert send.returncode == 1, send.stderr
        assert "12 stored, 1 failed (0x0000: 12, not sent: 1)" in send.stderr
        assert re.search(r"\d+(\.\d+)?k?B/s", send.stderr), send.stderr  # the progress bar
        assert re.search(r"13 of 13, [\d,]+ instances/s", send.stderr), send.stderr
        # the summary table: per status and transcoding path, then the totals and rates
        assert re.search(r"^0x0000 +as stored +12 +[\d.]+$", send.stderr, re.M), send.stderr
        assert re.search(r"^not sent +- +1 ", send.stderr, re.M), send.stderr
        assert re.search(r"^total .* 13 .* instances/s, [\d.]+ MB/s$", send.stderr, re.M)
        rows = json.loads(report.read_text())
        assert len(rows) == 13
        assert sum(r["ok"] for r in rows) == 12
        assert {r["status"] for r in rows} == {0, None}
        after = _scrape(metrics_port)
        assert after['storecore_instances_received_total{status="0x0000"}'] == 12
        assert after["storecore_archive_instances"] == 12
        assert after["storecore_store_seconds_count"] == 12
        assert after["storecore_bytes_received_total"] > 12 * 128
        assert after["storecore_archive_free_bytes"] > 0
    finally:
        server.send_signal(signal.SIGTERM)
        _, err = server.communicate(timeout=60)
    assert server.returncode == 0, err
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    # one line per association (-j 2: two), with the peer, AE titles, contexts,
    # instances, bytes, duration and statuses
    assoc = [
        m
        for line in lines
        if (
            m := re.fullmatch(
                r"association 127\.0\.0\.1:\d+ (\S+) -> STORECORE: released, contexts (\d+) "
                r"of (\d+) accepted, used (\w+)/ExplicitVRLittleEndian x(\d+); (\d+) "
                r"instances, (\d+) bytes in [\d.]+ s, statuses \{'0x0000': (\d+)\}",
                line["message"],
            )
        )
    ]
    assert len(assoc) == 2, err
    assert sum(int(m.group(6)) for m in assoc) == 12
    assert all(m.group(5) == m.group(6) == m.group(8) for m in assoc)
    assert all(int(m.group(2)) >= 1 and int(m.group(7)) > 0 for m in assoc)
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines)


def test_a_broken_config_is_rejected_with_file_key_and_reason(tmp_path: Path) -> None:
    config = tmp_path / "storecore.toml"
    for text, words in (
        ("[server]\nport = 'eleven'\n", "server.port has the wrong type"),
        ("[peers.directory]\nWS1 = 'nowhere'\n", "peers.directory.WS1 = 'nowhere': use HOST:PORT"),
        (
            "[storage]\nstore_transfer_syntax = 'JPEGBaseline8Bit'\n",
            "store_transfer_syntax JPEGBaseline8Bit: JPEG Baseline (Process 1) output is lossy",
        ),
        ("[metrics]\nport = 9464\nhots = 'x'\n", "unknown key metrics.hots"),
        ("[validation]\nmode = 'paranoid'\n", "validation.mode = 'paranoid': choose strict or"),
        ("[server\n", "not valid TOML"),
    ):
        config.write_text(text)
        run = subprocess.run(
            [*CLI, "serve", "--config", str(config)], capture_output=True, text=True, timeout=60
        )
        assert run.returncode == 2, (text, run.stderr)
        assert str(config) in run.stderr and words in run.stderr, (text, run.stderr)


def test_metrics_count_validation_findings_and_transcoding_paths(tmp_path: Path) -> None:
    """Findings by severity, validator and module; transcodes on ingest and forwarding."""
    import time
    from collections import Counter

    from storecore.scp import StorageSCP
    from storecore.storage import DirectorySink
    from storecore.validators import ValidationConfig, default_registry

    folder = tmp_path / "send"
    files = [write_instance(folder, sop_instance_uid=f"1.2.9.{n}") for n in (1, 2, 3)]
    # what the validators say of each (the server's policy: lenient, per instance alike)
    findings = default_registry().check_file(files[0], ValidationConfig.from_mapping({}))
    assert findings, "the test instances must trigger findings"
    expected = Counter((f.severity.value, f.validator or "-", f.module or "-") for f in findings)
    # the forwarding destination takes Explicit VR Big Endian only: each send is transcoded
    b = StorageSCP(
        DirectorySink(tmp_path / "b"),
        ae_title="B",
        host="127.0.0.1",
        port=0,
        transfer_syntaxes=["1.2.840.10008.1.2.2"],
    )
    metrics_port, port = free_port(), free_port()
    config = tmp_path / "storecore.toml"
    with b:
        config.write_text(
            f'[server]\nhost = "127.0.0.1"\nport = {port}\n'
            '[storage]\nmin_free_bytes = 0\nstore_transfer_syntax = "ImplicitVRLittleEndian"\n'
            f"[metrics]\nport = {metrics_port}\n"
            '[validation]\nmode = "lenient"\n'
            f'[[forward]]\nname = "to-b"\ndestination = "B@127.0.0.1:{b.address[1]}"\n'
            'transfer_syntaxes = ["ExplicitVRBigEndian"]\n'
        )
        server = subprocess.Popen(
            [*CLI, "serve", "--config", str(config), "--storage", str(tmp_path / "archive")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert server.stdout is not None
            assert "listening" in server.stdout.readline() + server.stdout.readline()
            send = subprocess.run(
                [*CLI, "send", "127.0.0.1", str(port), "--aec", "STORECORE", *map(str, files)],
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert send.returncode == 0, send.stderr
            # (prometheus_client writes the labels in alphabetical order)
            forward = (
                'storecore_transcodes_total{path="SUPPORTED",source="ImplicitVRLittleEndian",'
                'target="ExplicitVRBigEndian",where="forward"}'
            )
            deadline = time.monotonic() + 60
            while (after := _scrape(metrics_port)).get(forward, 0) < 3:
                assert time.monotonic() < deadline, "the forwarder did not send"
                time.sleep(0.2)
        finally:
            server.send_signal(signal.SIGTERM)
            _, err = server.communicate(timeout=60)
        assert server.returncode == 0, err
    assert after[forward] == 3
    ingest = (
        'storecore_transcodes_total{path="SUPPORTED",source="ExplicitVRLittleEndian",'
        'target="ImplicitVRLittleEndian",where="ingest"}'
    )
    assert after[ingest] == 3
    assert after['storecore_instances_received_total{status="0xB007"}'] == 3  # lenient
    counted = {
        key: value
        for key, value in after.items()
        if key.startswith("storecore_validation_findings_total{")
    }
    assert counted == {
        f'storecore_validation_findings_total{{module="{m}",severity="{s}",validator="{v}"}}': (
            3.0 * n
        )
        for (s, v, m), n in expected.items()
    }

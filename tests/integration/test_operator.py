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
    assert any("association" in line["message"] for line in lines), err
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

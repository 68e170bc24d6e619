"""The README's five-minute tour, run as written.

The two shell blocks after ``<!-- tour: serve -->`` and ``<!-- tour: steps -->``
are taken from README.md and run by bash in a fresh folder whose ``.venv/bin``
holds ``python`` and ``storecore`` wrappers around this interpreter (the
tests run against the installed package); only the two ports are replaced by
free ones. Each output the README says to look for is checked.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from pydicom.data import get_testdata_file

from tests.integration.conftest import free_port, wait_listening

README = Path(__file__).resolve().parents[2] / "README.md"
CT_SMALL = "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322"


def tour_block(marker: str) -> str:
    text = README.read_text(encoding="utf-8")
    m = re.search(rf"<!-- tour: {marker} -->\n```sh\n(.*?)```", text, re.S)
    assert m, f"README.md has no ```sh block after <!-- tour: {marker} -->"
    return m.group(1)


def test_the_tour_runs_as_written(tmp_path: Path) -> None:
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for name, argv in (("python", ""), ("storecore", " -m storecore.cli")):
        wrapper = bin_dir / name
        wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}"{argv} "$@"\n')
        wrapper.chmod(0o755)
    port, metrics = free_port(), free_port()
    serve, steps = (
        tour_block(k).replace("11112", str(port)).replace("9112", str(metrics))
        for k in ("serve", "steps")
    )
    assert serve.count("\n") == 1 and serve.startswith(".venv/bin/storecore serve")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    server = subprocess.Popen(
        ["bash", "-c", "exec " + serve], cwd=tmp_path, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_listening(port, server)
        wait_listening(metrics, server)
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", steps], cwd=tmp_path, env=env,
            capture_output=True, text=True, timeout=180,
        )  # fmt: skip
    finally:
        server.send_signal(signal.SIGTERM)
        log = server.communicate(timeout=30)[0].decode()
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-3000:]
    assert server.returncode == 0, log[-2000:]

    # send: a line per file, the summary, the commitment
    assert "12 stored, 0 failed (0x0000: 12)" in out
    assert re.search(r"commitment [\d.]+: 12 committed, 0 failed", out)
    rows = json.loads((tmp_path / "report.json").read_text())
    assert len(rows) == 12 and all(r["ok"] and r["status"] == 0 for r in rows)
    assert {Path(r["path"]).name for r in rows} >= {"CT_small.dcm", "MR_small_RLE.dcm"}
    samples = Path(get_testdata_file("CT_small.dcm")).parent
    assert {r["path"] for r in rows} == {str(p) for p in samples.glob("*_small*.dcm")}
    # archive ls: the CT's study; archive show: its row
    assert "1.3.6.1.4.1.5962.1.2.1.20040119072730.12322" in out
    show = re.search(r"^\{\n.*?^\}$", done.stdout, re.S | re.M)
    assert show, done.stdout[-2000:]
    row = json.loads(show.group(0))
    assert row["sop_instance_uid"] == CT_SMALL and row["synced"] is True
    assert row["digest"].startswith("blake3:")
    # the metrics: twelve instances stored, one commitment transaction delivered
    assert 'storecore_instances_received_total{status="0x0000"} 12.0' in out
    assert 'storecore_commitment_transactions{state="delivered"} 1.0' in out
    # the conformance statement, with Table N.5-9
    statement = (tmp_path / "conformance.md").read_text()
    assert statement.startswith("# DICOM Conformance Statement")
    assert "Table N.5-9" in statement
    assert (tmp_path / "archive" / "index.sqlite").exists()

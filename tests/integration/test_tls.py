"""C-ECHO and C-STORE over TLS (PS3.15 B.1), storecore in both roles."""

from __future__ import annotations

import ssl
import subprocess
import sys
from pathlib import Path

import pydicom
import pytest

from storecore.scp import StorageSCP
from storecore.scu import AssociationRejected, StorageSCU
from storecore.storage import DirectorySink

from .conftest import free_port


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return key, cert


def test_store_over_tls(tmp_path: Path) -> None:
    key, cert = self_signed(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.create_default_context(cafile=str(cert))
    received = tmp_path / "in"
    scp = StorageSCP(DirectorySink(received), host="127.0.0.1", port=0, ssl_context=server_ctx)
    with scp:
        port = scp.address[1]
        scu = StorageSCU(ssl_context=client_ctx)
        assert scu.echo("127.0.0.1", port, "STORECORE") == 0
        src = Path(pydicom.data.get_testdata_file("CT_small.dcm"))
        (outcome,) = scu.send([src], "127.0.0.1", port, "STORECORE")
    assert outcome.status == 0
    assert pydicom.dcmread(received / f"{outcome.sop_instance_uid}.dcm").PixelData == (
        pydicom.dcmread(src).PixelData
    )


def test_plain_client_cannot_talk_to_a_tls_server(tmp_path: Path) -> None:
    key, cert = self_signed(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    scp = StorageSCP(
        DirectorySink(tmp_path / "in"), host="127.0.0.1", port=0, ssl_context=server_ctx
    )
    with scp, pytest.raises(AssociationRejected):
        StorageSCU().echo("127.0.0.1", scp.address[1], "STORECORE")


def _serve_tls(tmp_path: Path, tls: str) -> tuple[subprocess.Popen[str], int]:
    """`storecore serve` with a [server.tls] table; returns the process and its port."""
    port = free_port()
    config = tmp_path / "storecore.toml"
    config.write_text(
        f'[server]\nhost = "127.0.0.1"\nport = {port}\n[server.tls]\n{tls}'
        '[storage]\npath = "archive"\nmin_free_bytes = 0\n'
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "storecore.cli", "serve", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    line = server.stdout.readline()
    assert "listening" in line and "(TLS)" in line, line + server.stderr.read()
    return server, port


def _stop(server: subprocess.Popen[str]) -> None:
    server.terminate()
    _, err = server.communicate(timeout=60)
    assert server.returncode == 0, err


def test_serve_with_server_tls_in_the_config(tmp_path: Path) -> None:
    _key, cert = self_signed(tmp_path)
    server, port = _serve_tls(tmp_path, 'certificate = "cert.pem"\nprivate_key = "key.pem"\n')
    try:
        scu = StorageSCU(ssl_context=ssl.create_default_context(cafile=str(cert)))
        src = Path(pydicom.data.get_testdata_file("CT_small.dcm"))
        (outcome,) = scu.send([src], "127.0.0.1", port, "STORECORE")
        assert outcome.status == 0
        with pytest.raises(AssociationRejected):
            StorageSCU().echo("127.0.0.1", port, "STORECORE")  # plain TCP
    finally:
        _stop(server)
    assert len(list((tmp_path / "archive" / "objects").rglob("*.dcm"))) == 1


def test_serve_with_mutual_tls_refuses_a_client_without_a_certificate(tmp_path: Path) -> None:
    key, cert = self_signed(tmp_path)
    server, port = _serve_tls(
        tmp_path,
        'certificate = "cert.pem"\nprivate_key = "key.pem"\nca_certificates = "cert.pem"\n'
        "require_client_certificate = true\n",
    )
    try:
        with_cert = ssl.create_default_context(cafile=str(cert))
        with_cert.load_cert_chain(cert, key)  # the CA trusts its own self-signed certificate
        assert StorageSCU(ssl_context=with_cert).echo("127.0.0.1", port, "STORECORE") == 0
        without = ssl.create_default_context(cafile=str(cert))
        with pytest.raises((AssociationRejected, OSError)):
            StorageSCU(ssl_context=without).echo("127.0.0.1", port, "STORECORE")
    finally:
        _stop(server)


def test_serve_with_a_missing_certificate_fails_at_start(tmp_path: Path) -> None:
    config = tmp_path / "storecore.toml"
    config.write_text('[server.tls]\ncertificate = "nope.pem"\nprivate_key = "nope.key"\n')
    run = subprocess.run(
        [sys.executable, "-m", "storecore.cli", "serve", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2
    assert str(config) in run.stderr and "server.tls.certificate" in run.stderr, run.stderr

"""C-ECHO and C-STORE over TLS (PS3.15 B.1), storecore in both roles."""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path

import pydicom
import pytest

from storecore.scp import StorageSCP
from storecore.scu import AssociationRejected, StorageSCU
from storecore.storage import DirectorySink


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

"""TLS contexts of the archive server, from its ``[server.tls]`` configuration.

PS3.15 B.1 (the Basic TLS Secure Transport Connection Profile) asks for TLS
with server authentication and, optionally, client authentication; the
context here is Python's default server context (TLS 1.2 or later, the
library's cipher choice), with our certificate and, for mutual TLS, the CAs
clients are checked against.

This module lives in ``net`` because it touches TLS (STYLE.md).
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING

from storecore.config import ConfigError

if TYPE_CHECKING:
    from storecore.config import ServeConfig

__all__ = ["server_context"]


def server_context(config: ServeConfig) -> ssl.SSLContext | None:
    """The listener's TLS context; None when ``[server.tls]`` names no certificate.

    Raises
    ------
    ConfigError
        A file cannot be read or is not a PEM certificate or key; the message
        names the file and the key.

    References
    ----------
    PS3.15 Annex B.1.
    """
    if config.tls_certificate is None or config.tls_private_key is None:
        return None
    where = str(config.source or "command line")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(config.tls_certificate, config.tls_private_key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"{where}: server.tls.certificate {config.tls_certificate} / private_key "
            f"{config.tls_private_key}: {exc.strerror or exc}"
        ) from None
    if config.tls_ca_certificates is not None:
        try:
            context.load_verify_locations(cafile=config.tls_ca_certificates)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"{where}: server.tls.ca_certificates {config.tls_ca_certificates}: "
                f"{exc.strerror or exc}"
            ) from None
    if config.tls_require_client_certificate:
        context.verify_mode = ssl.CERT_REQUIRED
    elif config.tls_ca_certificates is not None:
        context.verify_mode = ssl.CERT_OPTIONAL  # a certificate, if sent, must verify
    return context

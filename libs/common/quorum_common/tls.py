"""TLS for the gRPC servers and channels: certificates read from the files settings name.

Two uses, each off unless its settings are given (local `make run` stays plaintext):

- The gateway's public ports (gRPC and HTTP) with GATEWAY_TLS_CERT_FILE and
  GATEWAY_TLS_KEY_FILE.
- Mutual TLS between the gateway and the internal services with GRPC_TLS_CA_FILE,
  GRPC_TLS_CERT_FILE and GRPC_TLS_KEY_FILE: each internal server presents its
  certificate and takes only clients whose certificate the CA signed; the gateway
  checks the servers against the CA and presents its own certificate.

Files are read once, at start; a file that cannot be read stops the service with one
line naming the setting.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import grpc

from quorum_common.errors import StartupError
from quorum_common.settings import ServiceSettings


def read(path: str, setting: str) -> bytes:
    """The file's bytes; StartupError naming the setting when it cannot be read."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise StartupError(f"{setting}: cannot read {path} ({error.strerror})") from None
    if not data.strip():
        raise StartupError(f"{setting}: {path} is empty")
    return data


@dataclass(frozen=True)
class Identity:
    """A certificate chain and its private key (PEM)."""

    certificate: bytes
    key: bytes

    @classmethod
    def load(cls, cert_file: str, key_file: str, prefix: str) -> Identity:
        identity = cls(read(cert_file, f"{prefix}_CERT_FILE"), read(key_file, f"{prefix}_KEY_FILE"))
        # gRPC would only fail at bind time, with no word of why: check the pair now.
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(cert_file, key_file)
        except ssl.SSLError as error:
            raise StartupError(
                f"{prefix}_CERT_FILE / {prefix}_KEY_FILE: not a PEM certificate chain and "
                f"its private key ({error.reason or error})"
            ) from None
        return identity


def server_credentials(
    identity: Identity, client_ca: bytes | None = None
) -> grpc.ServerCredentials:
    """TLS for a server; with `client_ca`, only clients with a certificate it signed."""
    return grpc.ssl_server_credentials(
        [(identity.key, identity.certificate)],
        root_certificates=client_ca,
        require_client_auth=client_ca is not None,
    )


def channel_credentials(
    ca: bytes | None, identity: Identity | None = None
) -> grpc.ChannelCredentials:
    """TLS for a channel: servers checked against `ca` (None: the system's roots),
    presenting `identity` to servers that ask for a client certificate."""
    return grpc.ssl_channel_credentials(
        root_certificates=ca,
        private_key=identity.key if identity else None,
        certificate_chain=identity.certificate if identity else None,
    )


@dataclass(frozen=True)
class Internal:
    """The internal calls' mutual TLS (GRPC_TLS_*), or None when it is off."""

    ca: bytes
    identity: Identity

    @classmethod
    def load(cls, ca_file: str, cert_file: str, key_file: str) -> Internal | None:
        if not ca_file:
            return None
        return cls(
            read(ca_file, "GRPC_TLS_CA_FILE"), Identity.load(cert_file, key_file, "GRPC_TLS")
        )

    def server(self) -> grpc.ServerCredentials:
        return server_credentials(self.identity, client_ca=self.ca)

    def channel(self) -> grpc.ChannelCredentials:
        return channel_credentials(self.ca, self.identity)


def internal(settings: ServiceSettings) -> Internal | None:
    """The internal mutual TLS the settings ask for (GRPC_TLS_*), or None."""
    return Internal.load(
        settings.grpc_tls_ca_file, settings.grpc_tls_cert_file, settings.grpc_tls_key_file
    )


def internal_server(settings: ServiceSettings) -> grpc.ServerCredentials | None:
    """An internal service's server credentials: mutual TLS when GRPC_TLS_* are set."""
    found = internal(settings)
    return found.server() if found else None

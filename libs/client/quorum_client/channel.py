"""Where and how the client reaches the gateway: the channel, the key, the deadline.

Every call of the public API goes through `Connection._call` (one deadline, one
`authorization` header, one translation of failures into `QuorumError`); the calls of
each public service (quorum_client.calls) build on it, and `Client` is all of them.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType
from typing import Self, TypeVar

import grpc

from quorum_client.errors import QuorumError

DEFAULT_ADDRESS = "127.0.0.1:50051"
DEFAULT_TIMEOUT = 10.0
ADDRESS_ENV = "QUORUM_ADDRESS"
API_KEY_ENV = "QUORUM_API_KEY"
CA_FILE_ENV = "QUORUM_TLS_CA_FILE"

_Request = TypeVar("_Request")
_Response = TypeVar("_Response")


def open_channel(address: str, *, tls: bool = False, ca_file: str | None = None) -> grpc.Channel:
    """Plaintext (local runs), or TLS checked against `ca_file` or the system's CAs.

    Raises OSError when the CA file cannot be read."""
    if not tls:
        return grpc.insecure_channel(address)
    root = Path(ca_file).read_bytes() if ca_file else None
    return grpc.secure_channel(address, grpc.ssl_channel_credentials(root_certificates=root))


class Closing:
    """Closed by `close()` or by leaving its `with` block: the client and its streams."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class Connection(Closing):
    """One channel to one gateway, authenticated by one API key.

    `timeout` (seconds) bounds every unary call; the gateway propagates it to the
    services behind it. Use as a context manager, or call `close()`.
    """

    def __init__(
        self,
        address: str = DEFAULT_ADDRESS,
        api_key: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        *,
        tls: bool = False,
        ca_file: str | None = None,
        channel: grpc.Channel | None = None,
    ) -> None:
        self.address = address
        self.timeout = timeout
        # A CA to check the gateway's certificate against (else QUORUM_TLS_CA_FILE)
        # implies TLS; TLS without one trusts the system's CAs. "" means none, whatever
        # the environment says.
        self.ca_file = (ca_file if ca_file is not None else os.environ.get(CA_FILE_ENV)) or None
        self.tls = tls or self.ca_file is not None
        if channel is None:
            channel = open_channel(address, tls=self.tls, ca_file=self.ca_file)
        self._channel = channel
        # No key, no header: the gateway then answers UNAUTHENTICATED with its own
        # words, which is clearer than anything guessed here.
        self._metadata: tuple[tuple[str, str | bytes], ...] = (
            (("authorization", f"Bearer {api_key}"),) if api_key else ()
        )

    def close(self) -> None:
        self._channel.close()

    def _call(
        self, method: grpc.UnaryUnaryMultiCallable[_Request, _Response], request: _Request
    ) -> _Response:
        try:
            return method(request, timeout=self.timeout, metadata=self._metadata)
        except grpc.RpcError as error:
            raise QuorumError.from_rpc_error(
                error, address=self.address, timeout=self.timeout
            ) from error

"""The HTTP/JSON door's server: hypercorn in the gateway's own event loop.

The socket is bound here, before the server starts, so a port in use stops the
gateway at start with one line (as the gRPC port does) instead of a failed task.

With a certificate and key (GATEWAY_TLS_CERT_FILE / GATEWAY_TLS_KEY_FILE) the port
speaks HTTPS only (HTTP/2 and HTTP/1.1 by ALPN). The door reaches the gRPC server over
the target it is given: the gateway gives it a port private to the process, so the
hop needs no certificate whether the public gRPC port speaks TLS or not.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import Awaitable, Sequence

from hypercorn.asyncio import serve
from hypercorn.config import Config
from starlette.routing import BaseRoute

from quorum_common import errors
from quorum_gateway.http_door import HttpDoor


class HttpServer:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        grpc_target: str,
        max_body_bytes: int,
        cert_file: str = "",
        key_file: str = "",
        routes: Sequence[BaseRoute] = (),
    ) -> None:
        try:
            self._socket = socket.create_server((host, port), reuse_port=False)
        except OSError as error:
            raise errors.StartupError(
                f"cannot listen on {host}:{port} for HTTP (GATEWAY_HTTP_PORT; {error.strerror})"
            ) from None
        self.port = int(self._socket.getsockname()[1])
        self.address = f"{host}:{self.port}"
        self.door = HttpDoor(grpc_target, max_body_bytes, routes)
        self._config = Config()
        self.tls = bool(cert_file)
        if cert_file:
            self._config.certfile = cert_file
            self._config.keyfile = key_file
            try:
                self._config.create_ssl_context()
            except (OSError, ssl.SSLError) as error:
                self._socket.close()
                raise errors.StartupError(
                    "GATEWAY_TLS_CERT_FILE / GATEWAY_TLS_KEY_FILE: not a certificate and its "
                    f"key ({error})"
                ) from None
        self._config.bind = [f"fd://{self._socket.fileno()}"]
        self._config.accesslog = None
        self._config.errorlog = "-"
        # Open event streams end when the gRPC server stops; this bounds the rest.
        self._config.graceful_timeout = 5.0
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        # hypercorn owns (and closes) the bound socket's descriptor from here on.
        self._socket.detach()
        self._task = asyncio.create_task(
            serve(self.door.app, self._config, shutdown_trigger=self._stopping.wait),  # type: ignore[arg-type]
            name="http-door",
        )

    async def stop(self, grpc_stopped: Awaitable[None]) -> None:
        """Stop taking requests, let the gRPC server end its calls (and so the door's), close."""
        self._stopping.set()
        await grpc_stopped
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.door.close()

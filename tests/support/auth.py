"""Client channels that carry an API key on every call."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import Any

import grpc


class _Bearer:
    def __init__(self, secret: str) -> None:
        self._metadata = (("authorization", f"Bearer {secret}"),)

    def with_key(self, details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        metadata = grpc.aio.Metadata(*(details.metadata or ()), *self._metadata)
        return grpc.aio.ClientCallDetails(
            details.method, details.timeout, metadata, details.credentials, details.wait_for_ready
        )


# grpc.aio files each interceptor under the first call type it implements, so unary
# and streaming calls need one interceptor object each.
class _UnaryBearer(_Bearer, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(
        self, continuation: Callable[..., Any], details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        return await continuation(self.with_key(details), request)


class _StreamBearer(_Bearer, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(
        self, continuation: Callable[..., Any], details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        return await continuation(self.with_key(details), request)


def channel(address: str, secret: str) -> grpc.aio.Channel:
    return grpc.aio.insecure_channel(
        address, interceptors=[_UnaryBearer(secret), _StreamBearer(secret)]
    )


def bootstrap_tenant(env: dict[str, str], tenant_id: str) -> str:
    """A new tenant's first admin key, made the way an operator makes it."""
    result = subprocess.run(
        [sys.executable, "-m", "quorum_gateway.bootstrap", "--tenant", tenant_id],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip()

"""Authentication, authorization and rate limiting for every public call.

Wraps each RPC handler so the check runs in the handler's own task; the principal
is then available to the servicer through `current_principal()`.
"""

from __future__ import annotations

import contextvars
from typing import Any

import grpc

from quorum_common.errors import ResourceExhausted
from quorum_common.interceptors import WrappingInterceptor, replaced
from quorum_gateway.keys import KeyStore
from quorum_gateway.principals import Principal, authorize, bearer
from quorum_gateway.ratelimit import RateLimiter

# Health checks and reflection answer without a key (probes, grpcurl list).
OPEN_PREFIXES = ("/grpc.health.v1.", "/grpc.reflection.")
_principal: contextvars.ContextVar[Principal] = contextvars.ContextVar("principal")


def current_principal() -> Principal:
    return _principal.get()


class AuthInterceptor(WrappingInterceptor):
    def __init__(self, keys: KeyStore, limiter: RateLimiter) -> None:
        super().__init__()
        self._keys = keys
        self._limiter = limiter

    async def _admit(self, method: str, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        principal = await self._keys.authenticate(
            bearer(tuple(context.invocation_metadata() or ()))
        )
        authorize(principal, method)
        if not self._limiter.allow(principal.key_id):
            wait = self._limiter.retry_after(principal.key_id)
            raise ResourceExhausted(
                f"rate limit of this API key reached; retry in {wait:.2f}s", retry_after=wait
            )
        _principal.set(principal)

    def wrap(
        self, method: str, handler: grpc.RpcMethodHandler[Any, Any]
    ) -> grpc.RpcMethodHandler[Any, Any]:
        if method.startswith(OPEN_PREFIXES):
            return handler
        inner: Any = handler.unary_unary
        inner_stream: Any = handler.unary_stream

        async def unary_unary(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            await self._admit(method, context)
            return await inner(request, context)

        async def unary_stream(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            await self._admit(method, context)
            async for item in inner_stream(request, context):
                yield item

        return replaced(handler, unary_unary=unary_unary, unary_stream=unary_stream)

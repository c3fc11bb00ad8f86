"""The base of Quorum's server interceptors: each method's handler wrapped once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias

import grpc

# Quoted: grpc's classes are generic only to the type checker.
Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"
# What grpc.aio hands an interceptor to find the handler of a call.
Continuation: TypeAlias = "Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]]"


class WrappingInterceptor(grpc.aio.ServerInterceptor):
    """An interceptor that wraps each method's handler once, not on every call.

    grpc.aio asks every interceptor for the handler of every call; building the wrapper
    (closures, a new RpcMethodHandler) each time is pure overhead on a busy server.
    """

    def __init__(self) -> None:
        # Per method: the handler behind this interceptor, and its wrapper.
        self._wrapped: dict[
            str, tuple[grpc.RpcMethodHandler[Any, Any], grpc.RpcMethodHandler[Any, Any]]
        ] = {}

    async def intercept_service(
        self, continuation: Continuation, handler_call_details: grpc.HandlerCallDetails
    ) -> Handler | None:
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        kept = self._wrapped.get(method)
        if kept is not None and kept[0] is handler:
            return kept[1]
        # The first call, or what is behind this interceptor wraps per call itself.
        wrapped = self.wrap(method, handler)
        self._wrapped[method] = (handler, wrapped)
        return wrapped

    def wrap(
        self, method: str, handler: grpc.RpcMethodHandler[Any, Any]
    ) -> grpc.RpcMethodHandler[Any, Any]:
        raise NotImplementedError


Unary = Callable[[Any, grpc.aio.ServicerContext[Any, Any]], Awaitable[Any]]
Streaming = Callable[[Any, grpc.aio.ServicerContext[Any, Any]], Any]


def replaced(
    handler: grpc.RpcMethodHandler[Any, Any],
    *,
    unary_unary: Unary | None = None,
    unary_stream: Streaming | None = None,
    raw_requests: bool = False,
) -> grpc.RpcMethodHandler[Any, Any]:
    """`handler` with its behaviour replaced, keeping its (de)serializers.

    Only the kind `handler` is (one request, one answer or a stream of answers) is
    replaced; a handler of another kind (streamed requests: reflection) comes back as
    it is. `raw_requests`: grpc hands the new behaviour the request's bytes.
    """
    deserializer = None if raw_requests else handler.request_deserializer
    if handler.unary_unary is not None and unary_unary is not None:
        return grpc.unary_unary_rpc_method_handler(
            unary_unary,
            request_deserializer=deserializer,
            response_serializer=handler.response_serializer,
        )
    if handler.unary_stream is not None and unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(
            unary_stream,
            request_deserializer=deserializer,
            response_serializer=handler.response_serializer,
        )
    return handler

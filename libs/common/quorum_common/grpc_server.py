"""gRPC servers: health checking, reflection, and errors mapped to status codes."""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import grpc
from google.protobuf import any_pb2
from google.protobuf.descriptor import Descriptor
from google.protobuf.message import DecodeError
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection, reflection_pb2, reflection_pb2_grpc

from quorum_common import errors
from quorum_common.callers import caller_check
from quorum_common.interceptors import WrappingInterceptor, replaced
from quorum_common.observability import server_interceptors
from quorum_common.telemetry_plan import telemetry_plan

log = logging.getLogger(__name__)
# What every servicer method is given beside its request.
Context = grpc.aio.ServicerContext[Any, Any]

_CODES: list[tuple[type[errors.QuorumError], grpc.StatusCode]] = [
    (errors.InvalidArgument, grpc.StatusCode.INVALID_ARGUMENT),
    (errors.NotFound, grpc.StatusCode.NOT_FOUND),
    (errors.AlreadyExists, grpc.StatusCode.ALREADY_EXISTS),
    (errors.Conflict, grpc.StatusCode.ABORTED),
    (errors.FailedPrecondition, grpc.StatusCode.FAILED_PRECONDITION),
    (errors.PermissionDenied, grpc.StatusCode.PERMISSION_DENIED),
    (errors.Unauthenticated, grpc.StatusCode.UNAUTHENTICATED),
    (errors.Unavailable, grpc.StatusCode.UNAVAILABLE),
    (errors.ResourceExhausted, grpc.StatusCode.RESOURCE_EXHAUSTED),
]


def status_of(error: errors.QuorumError) -> tuple[grpc.StatusCode, str, bytes]:
    """The code, message and google.rpc.Status details for a domain error."""
    code = next(c for kind, c in _CODES if isinstance(error, kind))
    status = status_pb2.Status(code=getattr(code_pb2, code.name), message=str(error))
    if isinstance(error, errors.InvalidArgument):
        bad_request = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(
                    field=v.field, description=v.description
                )
                for v in error.violations
            ]
        )
        detail = any_pb2.Any()
        detail.Pack(bad_request)
        status.details.append(detail)
    if isinstance(error, errors.FailedPrecondition):
        if error.violations:
            failure = error_details_pb2.PreconditionFailure(
                violations=[
                    error_details_pb2.PreconditionFailure.Violation(
                        type=v.type, subject=v.subject, description=v.description
                    )
                    for v in error.violations
                ]
            )
            detail = any_pb2.Any()
            detail.Pack(failure)
            status.details.append(detail)
        for extra in error.details:
            detail = any_pb2.Any()
            detail.Pack(extra)
            status.details.append(detail)
    if isinstance(error, errors.ResourceExhausted) and error.retry_after is not None:
        retry = error_details_pb2.RetryInfo()
        retry.retry_delay.FromNanoseconds(int(error.retry_after * 1e9))
        detail = any_pb2.Any()
        detail.Pack(retry)
        status.details.append(detail)
    return code, str(error), status.SerializeToString()


async def abort_with(
    context: grpc.aio.ServicerContext[Any, Any], error: errors.QuorumError
) -> None:
    code, message, details = status_of(error)
    await context.abort(code, message, trailing_metadata=(("grpc-status-details-bin", details),))


async def abort_internal(context: grpc.aio.ServicerContext[Any, Any], method: str) -> None:
    """INTERNAL with an error id that finds the logged traceback; never the trace itself."""
    error_id = uuid.uuid4().hex[:12]
    log.exception("unhandled error in %s (error id %s)", method, error_id)
    await context.abort(
        grpc.StatusCode.INTERNAL, f"internal error {error_id}; the service log has its details"
    )


async def _abort_for(
    context: grpc.aio.ServicerContext[Any, Any], method: str, error: Exception
) -> None:
    """The status for what a handler raised (called while it is being handled, so the
    log has its traceback): a domain error's own, INTERNAL for anything else; grpc's
    own abort goes on as it is."""
    if isinstance(error, (grpc.aio.AbortError, grpc.aio.UsageError)):
        raise error
    if isinstance(error, errors.QuorumError):
        await abort_with(context, error)
    await abort_internal(context, method)


class ErrorInterceptor(WrappingInterceptor):
    """Domain errors become their status; anything else INTERNAL, logged, never UNKNOWN."""

    def wrap(
        self, method: str, handler: grpc.RpcMethodHandler[Any, Any]
    ) -> grpc.RpcMethodHandler[Any, Any]:
        inner: Any = handler.unary_unary
        inner_stream: Any = handler.unary_stream

        async def unary_unary(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            try:
                return await inner(request, context)
            except Exception as error:
                await _abort_for(context, method, error)

        async def unary_stream(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            try:
                async for item in inner_stream(request, context):
                    yield item
            except Exception as error:
                await _abort_for(context, method, error)

        return replaced(handler, unary_unary=unary_unary, unary_stream=unary_stream)


class _Throttled:
    """A warning logged at most once per `period` seconds, with how many were held back.

    Undecodable requests are the caller's fault and may come in floods; one line a
    minute says it happens without letting a client fill the log.
    """

    def __init__(self, period: float = 60.0) -> None:
        self._period = period
        self._next = 0.0
        self._held = 0

    def warning(self, message: str, *args: object) -> None:
        moment = time.monotonic()
        if moment < self._next:
            self._held += 1
            return
        held, self._held = self._held, 0
        self._next = moment + self._period
        log.warning(message + " (%d more not logged)", *args, held)


class DecodingInterceptor(WrappingInterceptor):
    """The innermost interceptor: requests are decoded here, not by grpc.

    grpc decoding a request itself fails an undecodable one with UNKNOWN and a logged
    traceback, before any interceptor runs. Here grpc hands the raw bytes through the
    outer interceptors (so authentication still comes first) and the handler decodes
    them: bytes that are not the method's message are INVALID_ARGUMENT, named by field
    "request", with a google.rpc.BadRequest, like any other invalid request. A request
    that names its caller (every internal one) has its tenant and actor checked here too
    (`callers.py`), before the method's own checks.
    """

    def __init__(self, check: Callable[[Any], None] | None = None) -> None:
        super().__init__()
        self._warnings = _Throttled()
        # What a decoded request must also be (raises InvalidArgument), e.g. the
        # gateway's bounds on every field of the public API.
        self._check = check

    def _decoder(self, method: str, deserializer: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
        kind = getattr(deserializer, "__self__", None)
        descriptor = getattr(kind, "DESCRIPTOR", None)
        name = getattr(descriptor, "full_name", None) or method
        # An internal request names its caller; checked first, for every method alike.
        caller = caller_check(descriptor) if isinstance(descriptor, Descriptor) else None
        check = self._check

        def decode(raw: bytes) -> Any:
            try:
                request = deserializer(raw)
            except (DecodeError, ValueError, TypeError) as error:
                self._warnings.warning("undecodable request to %s: %s", method, error)
                raise errors.InvalidArgument(
                    [errors.FieldViolation("request", f"is not a valid {name}")],
                    message=f"the request is not a valid {name}",
                ) from None
            if caller is not None:
                caller(request)
            if check is not None:
                check(request)
            return request

        return decode

    def wrap(
        self, method: str, handler: grpc.RpcMethodHandler[Any, Any]
    ) -> grpc.RpcMethodHandler[Any, Any]:
        deserializer = handler.request_deserializer
        if deserializer is None:
            return handler
        decode = self._decoder(method, deserializer)
        inner: Any = handler.unary_unary
        inner_stream: Any = handler.unary_stream

        async def unary_unary(raw: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            return await inner(decode(raw), context)

        async def unary_stream(raw: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            async for item in inner_stream(decode(raw), context):
                yield item

        # Streamed requests (reflection) are decoded by grpc as before.
        return replaced(
            handler, unary_unary=unary_unary, unary_stream=unary_stream, raw_requests=True
        )


def connection_age(seconds: float) -> list[tuple[str, int]]:
    """Server options that end each connection after `seconds` (0: never), gracefully.

    A client that balances over a headless Service's addresses (round_robin) resolves
    them when it connects; ending connections now and then makes it re-resolve, so
    replicas added since are used too. Calls in flight get a grace period to finish.
    """
    if seconds <= 0:
        return []
    return [
        ("grpc.max_connection_age_ms", int(seconds * 1000)),
        ("grpc.max_connection_age_grace_ms", 30_000),
    ]


REFLECTION_V1 = "grpc.reflection.v1.ServerReflection"


def serve_reflection(server: grpc.aio.Server, service_names: Iterable[str]) -> None:
    """Server reflection under both names clients ask for: v1 and v1alpha.

    grpcio-reflection serves only v1alpha; v1's messages are the same fields with the
    same numbers, so the one servicer answers both (newer clients ask for v1 first).
    """
    names = [*service_names, reflection.SERVICE_NAME, REFLECTION_V1]
    servicer = reflection.aio.ReflectionServicer(names)
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(servicer, server)
    v1 = grpc.stream_stream_rpc_method_handler(
        servicer.ServerReflectionInfo,
        request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
        response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
    )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(REFLECTION_V1, {"ServerReflectionInfo": v1}),)
    )


class GrpcServer:
    """A grpc.aio server with health (per service name) and reflection."""

    def __init__(
        self,
        host: str,
        port: int,
        service_names: Iterable[str],
        interceptors: Iterable[grpc.aio.ServerInterceptor] = (),
        max_message_bytes: int = 4 * 1024 * 1024,
        max_connection_age_seconds: float = 0,
        request_check: Callable[[Any], None] | None = None,
        credentials: grpc.ServerCredentials | None = None,
    ) -> None:
        # Telemetry is outermost, so a call's span and duration include everything; then
        # the error mapping, so errors raised by other interceptors (authentication,
        # rate limits) become statuses too; decoding is innermost, so a caller without
        # a key learns that before whether its bytes made sense.
        self.server = grpc.aio.server(
            interceptors=[
                *server_interceptors(),
                ErrorInterceptor(),
                *interceptors,
                DecodingInterceptor(request_check),
            ],
            options=[
                ("grpc.max_receive_message_length", max_message_bytes),
                ("grpc.max_send_message_length", 4 * max_message_bytes),
                # gRPC binds with SO_REUSEPORT by default: a second process given the same
                # port would silently take half the calls. Refused, it fails at start.
                ("grpc.so_reuseport", 0),
                *connection_age(max_connection_age_seconds),
            ],
        )
        self.health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        self._names = list(service_names)
        serve_reflection(self.server, [*self._names, health.SERVICE_NAME])
        self.address = f"{host}:{port}"
        # With credentials, the port speaks TLS only: a plaintext client fails to connect.
        self.tls = credentials is not None
        try:
            self.port = (
                self.server.add_secure_port(self.address, credentials)
                if credentials is not None
                else self.server.add_insecure_port(self.address)
            )
        except RuntimeError:
            self.port = 0
        if self.port == 0:
            raise errors.StartupError(f"cannot listen on {self.address} (port in use?)")

    def add_private_port(self) -> str:
        """A plaintext port only this host's processes in this network namespace can reach
        (an abstract Unix socket: no file, no TCP port), for callers inside the process
        such as the gateway's HTTP door, which then needs no certificate to reach a TLS
        port. Call before `start`; returns the target to dial."""
        target = f"unix-abstract:quorum-{os.getpid()}-{uuid.uuid4().hex}"
        self.server.add_insecure_port(target)
        return target

    async def start(self) -> None:
        await self.server.start()
        # Said once the service is up (a service that cannot start says one line only,
        # naming the setting): where this process's telemetry goes.
        log.info("telemetry: %s", telemetry_plan().describe())

    async def set_serving(self, serving: bool) -> None:
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in ["", *self._names]:
            await self.health.set(name, status)

    async def stop(self, grace: float = 5.0) -> None:
        await self.set_serving(False)
        await self.server.stop(grace)

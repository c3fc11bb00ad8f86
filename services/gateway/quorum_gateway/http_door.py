"""The public API over HTTP/JSON: one generic door in front of the gateway's own gRPC port.

`POST /quorum.gateway.v1.<Service>/<Method>` with a proto3-JSON body calls that RPC.
Nothing here knows any RPC: the routes come from the service descriptors, bodies are
translated by protobuf's json_format, and every call is forwarded over a local channel
to the gateway's gRPC port with the caller's `Authorization` header as metadata. So
authentication, permissions, rate limits, request checks, visibility and errors are
the gRPC door's own, not a copy. A refusal comes back as its google.rpc.Status in
proto3 JSON (details included), with the HTTP status of the standard gRPC mapping.
WatchEvents answers as server-sent events, each `id:` being the event's cursor.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import grpc
from google.protobuf import json_format, message_factory
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2, status_pb2
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from quorum.gateway.v1 import gateway_pb2

# The standard mapping (google/rpc/code.proto) of each gRPC code to an HTTP status.
HTTP_STATUS = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
    grpc.StatusCode.UNAUTHENTICATED: 401,
}
DETAILS_KEY = "grpc-status-details-bin"
# Bytes that are no protobuf message at all: a call whose JSON is wrong is still sent,
# with these, so the gateway says first whether the caller may call (401/403/429
# before 400, as on gRPC); only an INVALID_ARGUMENT answer is replaced by the JSON's.
UNDECODABLE = b"\xff"
# Headers passed on to the gRPC call as metadata, and nothing else the client sent.
FORWARDED_HEADERS = ("authorization", "traceparent", "tracestate")
# A body over the limit is read (and dropped) up to this many times the limit before the
# 413 is sent; past that the connection may close before the client reads the answer.
DRAINED_AT_MOST = 16


@dataclass(frozen=True)
class Rpc:
    path: str
    request: type[Message]
    response: type[Message]
    streaming: bool


def rpcs(services: list[ServiceDescriptor]) -> dict[str, Rpc]:
    """Every method of the public services, by its gRPC path."""
    found = {}
    for service in services:
        method: MethodDescriptor
        for method in service.methods:
            path = f"/{service.full_name}/{method.name}"
            found[path] = Rpc(
                path,
                message_factory.GetMessageClass(method.input_type),
                message_factory.GetMessageClass(method.output_type),
                method.server_streaming,
            )
    return found


def openapi_document() -> bytes:
    """The OpenAPI document generated from the protos with the contracts (`make proto`)."""
    return (resources.files("quorum.gateway.v1") / "openapi.json").read_bytes()


def status_json(status: status_pb2.Status) -> dict[str, Any]:
    return json_format.MessageToDict(status)


def refusal(code: grpc.StatusCode, message: str, field: str, what: str) -> status_pb2.Status:
    """A Status made here (the request never became a call), shaped like the gateway's."""
    status = status_pb2.Status(code=getattr(code_pb2, code.name), message=message)
    detail = error_details_pb2.BadRequest(
        field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field=field, description=what)
        ]
    )
    status.details.add().Pack(detail)
    return status


def error_response(status: status_pb2.Status, http_status: int | None = None) -> JSONResponse:
    code = grpc.StatusCode.UNKNOWN
    for candidate in grpc.StatusCode:
        if candidate.value[0] == status.code:
            code = candidate
    return JSONResponse(status_json(status), status_code=http_status or HTTP_STATUS[code])


def status_of(
    code: grpc.StatusCode, message: str | None, trailers: grpc.aio.Metadata | None
) -> status_pb2.Status:
    """The google.rpc.Status the gateway sent (its details too), or one from code + message."""
    for key, value in trailers or ():
        if key == DETAILS_KEY and isinstance(value, bytes):
            return status_pb2.Status.FromString(value)
    return status_pb2.Status(code=code.value[0], message=message or code.name)


def status_of_error(error: grpc.aio.AioRpcError) -> status_pb2.Status:
    return status_of(error.code(), error.details(), error.trailing_metadata())


class HttpDoor:
    """The ASGI application: decode, forward to the gRPC port, encode."""

    def __init__(
        self, grpc_target: str, max_body_bytes: int, routes: Sequence[BaseRoute] = ()
    ) -> None:
        self._target = grpc_target
        self._max_body = max_body_bytes
        self._rpcs = rpcs(list(gateway_pb2.DESCRIPTOR.services_by_name.values()))
        self._channel: grpc.aio.Channel | None = None
        self.app = Starlette(
            routes=[
                Route("/openapi.json", self._openapi, methods=["GET"]),
                # Before the RPCs' route, which would match any two segments.
                *routes,
                Route("/{service}/{method}", self._call, methods=["POST"]),
            ],
            exception_handlers={404: self._not_found, 405: self._not_allowed},
        )

    @property
    def channel(self) -> grpc.aio.Channel:
        if self._channel is None:
            # Made on first use, inside the server's event loop.
            self._channel = grpc.aio.insecure_channel(
                self._target,
                options=[("grpc.max_receive_message_length", 64 * self._max_body)],
            )
        return self._channel

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()

    async def _openapi(self, request: Request) -> Response:
        return Response(openapi_document(), media_type="application/json")

    async def _not_found(self, request: Request, exc: Exception) -> Response:
        return error_response(
            refusal(
                grpc.StatusCode.NOT_FOUND,
                f"no such method: {request.url.path}",
                "path",
                "is not POST /quorum.gateway.v1.<Service>/<Method>",
            ),
            404,
        )

    async def _not_allowed(self, request: Request, exc: Exception) -> Response:
        answer = error_response(
            refusal(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"{request.method} is not allowed here",
                "method",
                "calls are POST with a JSON body",
            ),
            405,
        )
        answer.headers["allow"] = "GET" if request.url.path == "/openapi.json" else "POST"
        return answer

    async def _body(self, request: Request) -> bytes | Response:
        """The body, at most max_body_bytes of it, or the answer that refuses it."""
        content_type = request.headers.get("content-type", "application/json")
        if content_type.split(";")[0].strip().lower() != "application/json":
            return error_response(
                refusal(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"content type {content_type!r} is not application/json",
                    "content-type",
                    "must be application/json",
                ),
                415,
            )
        chunks, size = [], 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size <= self._max_body:
                    chunks.append(chunk)
                elif size > DRAINED_AT_MOST * self._max_body:
                    break
                # Over the limit: the rest is read and dropped, so that a client still
                # sending gets the 413 instead of a connection closed under it.
        except ClientDisconnect:
            return Response(status_code=499)
        if size > self._max_body:
            return error_response(
                refusal(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"the request body is over {self._max_body} bytes",
                    "body",
                    f"must be at most {self._max_body} bytes",
                ),
                413,
            )
        return b"".join(chunks)

    def _decode(self, rpc: Rpc, body: bytes, last_event_id: str | None) -> bytes | str:
        """The request's protobuf bytes, or what is wrong with its JSON."""
        message = rpc.request()
        try:
            text = body.decode("utf-8") if body.strip() else "{}"
            json_format.Parse(text, message)
        except (json_format.ParseError, UnicodeDecodeError, RecursionError) as error:
            return str(error) or "is not valid JSON"
        if last_event_id and isinstance(message, gateway_pb2.WatchEventsRequest):
            # A reconnecting SSE client resumes after the last event it saw.
            message.cursor = last_event_id
        return message.SerializeToString()

    async def _call(self, request: Request) -> Response:
        path = request.url.path
        rpc = self._rpcs.get(path)
        if rpc is None:
            return await self._not_found(request, LookupError(path))
        body = await self._body(request)
        if isinstance(body, Response):
            return body
        decoded = self._decode(rpc, body, request.headers.get("last-event-id"))
        metadata = metadata_of(request.headers)
        payload = decoded if isinstance(decoded, bytes) else UNDECODABLE
        if rpc.streaming:
            return await self._stream(rpc, payload, metadata, decoded)
        try:
            unary: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = self.channel.unary_unary(path)
            answer = await unary(payload, metadata=metadata)
        except grpc.aio.AioRpcError as error:
            return self._refused(rpc, status_of_error(error), decoded)
        return JSONResponse(json_format.MessageToDict(rpc.response.FromString(answer)))

    def _refused(self, rpc: Rpc, status: status_pb2.Status, decoded: bytes | str) -> Response:
        if isinstance(decoded, str) and status.code == code_pb2.INVALID_ARGUMENT:
            name = rpc.request.DESCRIPTOR.full_name
            return error_response(
                refusal(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"the request is not a valid {name}: {decoded}",
                    "body",
                    decoded,
                )
            )
        return error_response(status)

    async def _stream(
        self,
        rpc: Rpc,
        payload: bytes,
        metadata: tuple[tuple[str, str], ...],
        decoded: bytes | str,
    ) -> Response:
        watch: grpc.aio.UnaryStreamMultiCallable[bytes, bytes] = self.channel.unary_stream(rpc.path)
        call = watch(payload, metadata=metadata)
        # The gateway sends headers once a watch is accepted; a refused one ends with
        # its status instead, which becomes an ordinary JSON error answer.
        # (A trailers-only answer has no initial metadata of its own.)
        headers = await call.initial_metadata()
        if not headers or call.done():
            code = await call.code()
            if code != grpc.StatusCode.OK:
                trailers = await call.trailing_metadata()
                status = status_of(code, await call.details(), trailers)
                return self._refused(rpc, status, decoded)
        return StreamingResponse(
            self._events(rpc, call),
            media_type="text/event-stream",
            headers={"cache-control": "no-store", "x-accel-buffering": "no"},
        )

    async def _events(
        self, rpc: Rpc, call: grpc.aio.UnaryStreamCall[bytes, bytes]
    ) -> AsyncIterator[str]:
        try:
            async for raw in call:
                message = rpc.response.FromString(raw)
                cursor = getattr(message, "cursor", "")
                data = json.dumps(json_format.MessageToDict(message), separators=(",", ":"))
                yield f"id: {cursor}\ndata: {data}\n\n" if cursor else f"data: {data}\n\n"
        except grpc.aio.AioRpcError as error:
            status = json.dumps(status_json(status_of_error(error)), separators=(",", ":"))
            yield f"event: error\ndata: {status}\n\n"
        finally:
            # The HTTP client left (or the stream failed): end the gRPC watch too.
            call.cancel()


def metadata_of(headers: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple((name, headers[name]) for name in FORWARDED_HEADERS if name in headers)

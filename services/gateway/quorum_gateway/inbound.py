"""POST /inbound/<endpoint id> on the HTTP door: a help desk's or CRM's webhook becomes a call.

In order: the endpoint is found (404), the signature checked unless the endpoint
accepts unsigned requests (401), the body read as JSON and the delivery id found
(400), a delivery already answered is answered again (200, `duplicate`), the request
built from the mapping (400 naming every missing or invalid payload path), and the
call made on the gateway's own gRPC port as the endpoint's integration key, so its
permissions, rate limit, request checks and errors are the API's own. A refusal
comes back as google.rpc.Status JSON with the payload's paths in its BadRequest.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

import grpc
from google.protobuf import json_format
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2, status_pb2
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from quorum.gateway.v1 import gateway_pb2
from quorum_common.errors import FieldViolation
from quorum_common.events import now
from quorum_common.secretbox import SecretBox, SecretUnreadable
from quorum_gateway.http_door import HttpDoor, error_response, status_of_error
from quorum_gateway.inbound_mapping import (
    METHODS,
    Action,
    FieldMap,
    build,
    delivery_id_of,
    explain,
    signature_mark,
    signature_problem,
)
from quorum_gateway.inbound_store import InboundStore, delivery_key, delivery_source, fields_of
from quorum_gateway.keys import KeyStore

log = logging.getLogger(__name__)
PATH = "/inbound/{endpoint_id}"
# Headers passed on to the gRPC call besides the endpoint's own credential.
TRACE_HEADERS = ("traceparent", "tracestate")
RESPONSES: dict[Action, type[gateway_pb2.SubmitIdeaResponse | gateway_pb2.EndorseIdeaResponse]] = {
    Action.SUBMIT_IDEA: gateway_pb2.SubmitIdeaResponse,
    Action.ENDORSE_IDEA: gateway_pb2.EndorseIdeaResponse,
}


def refusal(code: int, message: str, problems: list[FieldViolation], http: int) -> JSONResponse:
    status = status_pb2.Status(code=code, message=message)
    if not problems:
        return error_response(status, http)
    status.details.add().Pack(
        error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(
                    field=p.field, description=p.description
                )
                for p in problems
            ]
        )
    )
    return error_response(status, http)


def request_id_of(endpoint_id: str, delivery_id: str) -> str:
    """SubmitIdea's idempotency key for one delivery: the ideas service keeps it durably."""
    return "inbound:" + hashlib.sha256(f"{endpoint_id}\n{delivery_id}".encode()).hexdigest()[:40]


class InboundDoor:
    def __init__(
        self, store: InboundStore, keys: KeyStore, box: SecretBox, max_body_bytes: int
    ) -> None:
        self._store = store
        self._keys = keys
        self._box = box
        self._max_body = max_body_bytes
        self._door: HttpDoor | None = None

    def use(self, door: HttpDoor) -> None:
        """Calls go through the door's channel to the gateway's gRPC port."""
        self._door = door

    async def _read(self, request: Request) -> bytes | Response:
        chunks, size = [], 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > self._max_body:
                    return refusal(
                        code_pb2.INVALID_ARGUMENT,
                        f"the request body is over {self._max_body} bytes",
                        [FieldViolation("body", f"must be at most {self._max_body} bytes")],
                        413,
                    )
                chunks.append(chunk)
        except ClientDisconnect:
            return Response(status_code=499)
        return b"".join(chunks)

    async def receive(self, request: Request) -> Response:
        endpoint_id = request.path_params["endpoint_id"]
        endpoint = await self._store.endpoint(endpoint_id)
        if endpoint is None:
            return refusal(
                code_pb2.NOT_FOUND,
                f"no inbound endpoint {endpoint_id}",
                [FieldViolation("endpoint_id", "is not an inbound endpoint (deleted?)")],
                404,
            )
        body = await self._read(request)
        if isinstance(body, Response):
            return body
        headers = {k.lower(): v for k, v in request.headers.items()}
        signed = "quorum-signature" in headers
        if signed or not endpoint.get("accept_unsigned", False):
            try:
                secret = self._box.open(endpoint["secret"])
            except SecretUnreadable:
                log.error("inbound endpoint %s: its secret does not decrypt", endpoint_id)
                return refusal(
                    code_pb2.UNAVAILABLE,
                    "the endpoint cannot verify signatures now (GATEWAY_SECRETS_KEY)",
                    [],
                    503,
                )
            problem = signature_problem(secret, headers, body, time.time())
            if problem is not None:
                return refusal(
                    code_pb2.UNAUTHENTICATED, f"not signed: {problem.description}", [problem], 401
                )
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError) as error:
            return refusal(
                code_pb2.INVALID_ARGUMENT,
                "the body is not JSON",
                [FieldViolation("body", f"must be JSON: {error}")],
                400,
            )
        delivery_id = delivery_id_of(delivery_source(endpoint), payload, headers)
        if isinstance(delivery_id, FieldViolation):
            return refusal(code_pb2.INVALID_ARGUMENT, "no delivery id", [delivery_id], 400)
        key = delivery_key(endpoint_id, delivery_id)
        answered = await self._store.answered(key)
        if answered is not None:
            return JSONResponse({**answered, "duplicate": True})
        action = Action(endpoint["action"])
        fields = fields_of(endpoint)
        built = build(action, fields, payload, headers)
        if built.request is None:
            return refusal(
                code_pb2.INVALID_ARGUMENT,
                "the payload does not map to a request: "
                + "; ".join(f"{p.field} {p.description}" for p in built.problems),
                built.problems,
                400,
            )
        message = built.request
        if isinstance(message, gateway_pb2.SubmitIdeaRequest):
            message.request_id = request_id_of(endpoint_id, delivery_id)
        record: dict[str, Any] = {
            "tenant_id": endpoint["tenant_id"],
            "endpoint_id": endpoint_id,
            "delivery_id": delivery_id,
            "created_at": now(),
        }
        if signed:
            record["signature"] = signature_mark(endpoint_id, headers)
        begun = await self._store.begin(key, record)
        if begun == "replayed":
            return refusal(
                code_pb2.ALREADY_EXISTS,
                "this signed request was received before under another delivery id",
                [FieldViolation("Quorum-Signature", "was used before (replay refused)")],
                409,
            )
        return await self._call(endpoint, action, fields, message, key, delivery_id, headers)

    async def _call(
        self,
        endpoint: Mapping[str, Any],
        action: Action,
        fields: Sequence[FieldMap],
        message: Message,
        key: str,
        delivery_id: str,
        headers: Mapping[str, str],
    ) -> Response:
        assert self._door is not None, "use() the HTTP door first"
        metadata = [("authorization", f"Bearer {self._keys.delegate(endpoint['key_id'])}")]
        metadata += [(h, headers[h]) for h in TRACE_HEADERS if h in headers]
        call: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = self._door.channel.unary_unary(
            METHODS[action]
        )
        try:
            raw = await call(message.SerializeToString(), metadata=tuple(metadata))
        except grpc.aio.AioRpcError as error:
            await self._store.forget(key)
            return self._refused(error, fields)
        answer = RESPONSES[action].FromString(raw)
        result = {
            "deliveryId": delivery_id,
            "endpointId": endpoint["_id"],
            "action": action.value,
            "ideaId": answer.idea.id,
            "response": json_format.MessageToDict(answer),
        }
        await self._store.finish(key, result, now())
        return JSONResponse({**result, "duplicate": False})

    def _refused(self, error: grpc.aio.AioRpcError, fields: Sequence[FieldMap]) -> Response:
        status = status_of_error(error)
        if error.code() == grpc.StatusCode.UNAUTHENTICATED:
            status = status_pb2.Status(
                code=code_pb2.PERMISSION_DENIED,
                message="the endpoint's integration key is revoked",
            )
            return error_response(status, 403)
        renamed = status_pb2.Status(code=status.code, message=status.message)
        for detail in status.details:
            bad = error_details_pb2.BadRequest()
            if detail.Unpack(bad):
                problems = explain(
                    [FieldViolation(v.field, v.description) for v in bad.field_violations],
                    fields,
                )
                bad = error_details_pb2.BadRequest(
                    field_violations=[
                        error_details_pb2.BadRequest.FieldViolation(
                            field=p.field, description=p.description
                        )
                        for p in problems
                    ]
                )
                renamed.details.add().Pack(bad)
            else:
                renamed.details.add().CopyFrom(detail)
        return error_response(renamed)

"""Channels to the internal services, and their errors passed through faithfully."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
from google.protobuf import message_factory
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc

from quorum.ideas.v1 import ideas_pb2, ideas_pb2_grpc
from quorum.notifications.v1 import notifications_pb2, notifications_pb2_grpc
from quorum.validation.v1 import validation_pb2, validation_pb2_grpc
from quorum_common import tracing
from quorum_common.grpc_server import Context
from quorum_gateway.auth import current_principal

log = logging.getLogger(__name__)
Response = TypeVar("Response")
Shown = TypeVar("Shown", bound=Message)

# Calls spread over every address the name resolves to (one per replica behind a
# headless Service, `dns:///name:port`), not all on the first one.
BALANCED = [
    ("grpc.service_config", json.dumps({"loadBalancingConfig": [{"round_robin": {}}]})),
]

# Codes a backend may answer that mean the same to the gateway's caller.
_PASSED_THROUGH = {
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.ALREADY_EXISTS,
    grpc.StatusCode.ABORTED,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
}


@dataclass(frozen=True)
class _Method:
    name: str
    request: type[Message]
    decides: bool


class Backends:
    def __init__(
        self,
        ideas_address: str,
        validation_address: str,
        notifications_address: str,
        timeout: float,
        credentials: grpc.ChannelCredentials | None = None,
    ) -> None:
        self.timeout = timeout

        def channel(address: str) -> grpc.aio.Channel:
            # With credentials (GRPC_TLS_*), mutual TLS to the internal services.
            if credentials is None:
                return grpc.aio.insecure_channel(address, options=BALANCED)
            return grpc.aio.secure_channel(address, credentials, options=BALANCED)

        self._channels = {
            "ideas": channel(ideas_address),
            "validation": channel(validation_address),
            "notifications": channel(notifications_address),
        }
        self.ideas = ideas_pb2_grpc.IdeasServiceStub(self._channels["ideas"])
        self.gates = validation_pb2_grpc.GateServiceStub(self._channels["validation"])
        self.directory = validation_pb2_grpc.DirectoryServiceStub(self._channels["validation"])
        self.policies = validation_pb2_grpc.PolicyServiceStub(self._channels["validation"])
        self.insights = validation_pb2_grpc.InsightsServiceStub(self._channels["validation"])
        self.peers = validation_pb2_grpc.PeersServiceStub(self._channels["validation"])
        self.notifications = notifications_pb2_grpc.NotificationsServiceStub(
            self._channels["notifications"]
        )
        # Per stub method: its full name (for the CLIENT span of its calls), the class of
        # its request and whether that request names an actor.
        self._methods: dict[int, _Method] = {}
        for stub, descriptor in (
            (self.ideas, ideas_pb2.DESCRIPTOR.services_by_name["IdeasService"]),
            (self.gates, validation_pb2.DESCRIPTOR.services_by_name["GateService"]),
            (self.directory, validation_pb2.DESCRIPTOR.services_by_name["DirectoryService"]),
            (self.policies, validation_pb2.DESCRIPTOR.services_by_name["PolicyService"]),
            (self.insights, validation_pb2.DESCRIPTOR.services_by_name["InsightsService"]),
            (self.peers, validation_pb2.DESCRIPTOR.services_by_name["PeersService"]),
            (
                self.notifications,
                notifications_pb2.DESCRIPTOR.services_by_name["NotificationsService"],
            ),
        ):
            for rpc in descriptor.methods:
                self._methods[id(getattr(stub, rpc.name))] = _Method(
                    f"/{descriptor.full_name}/{rpc.name}",
                    message_factory.GetMessageClass(rpc.input_type),
                    "actor" in rpc.input_type.fields_by_name,
                )

    async def invoke(
        self, method: Callable[..., Awaitable[Response]], request: Any, seconds: float
    ) -> Response:
        """Call a backend with a deadline of `seconds`, in a CLIENT span when traced.

        Here, and only here, the gateway names its caller to a backend: the tenant of the
        authenticated principal (set by `auth.AuthInterceptor`) in every request, and
        the principal as the actor of a decision. Whatever a servicer put there is
        overwritten, so no public call can reach another tenant's data. (Fields rather
        than call metadata: see `quorum_common.callers`, which checks them.)
        """
        principal = current_principal()
        request.tenant_id = principal.tenant_id
        known = self._methods[id(method)]
        if known.decides:
            request.actor.CopyFrom(principal.actor())
        with tracing.client_call(known.name) as metadata:
            return await method(request, timeout=seconds, metadata=metadata)

    def timeout_within(self, context: Context) -> float:
        """The backend timeout, within what is left of the caller's deadline."""
        remaining = context.time_remaining()
        return self.timeout if remaining is None else max(0.05, min(self.timeout, remaining))

    async def call(
        self,
        method: Callable[..., Awaitable[Response]],
        request: Any,
        context: Context,
    ) -> Response:
        """Call a backend within the caller's deadline; relay its verdict on failure."""
        try:
            return await self.invoke(method, request, self.timeout_within(context))
        except grpc.aio.AioRpcError as error:
            await relay_error(context, error)
            raise

    def request_for(
        self, method: Callable[..., Awaitable[Any]], public: Message, **also: Any
    ) -> Any:
        """The backend's request for `method` made of the public request's fields of the
        same name, with `also`: what the gateway adds or puts instead."""
        kind = self._methods[id(method)].request
        return kind(**{**_fields(public, kind), **also})

    async def forward(
        self,
        method: Callable[..., Awaitable[Message]],
        request: Message,
        answer: type[Shown],
        context: Context,
        **also: Any,
    ) -> Shown:
        """A public call whose request and answer are the backend's, field by field
        (`request_for`), the public answer made of the backend's. Which public calls
        these are is held against the contracts by test_gateway_forwarding.py."""
        found = await self.call(method, self.request_for(method, request, **also), context)
        return answer(**_fields(found, answer))

    async def all_serving(self) -> bool:
        for name, channel in self._channels.items():
            try:
                answer = await health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(service=""), timeout=1.0
                )
            except grpc.aio.AioRpcError:
                return False
            if answer.status != health_pb2.HealthCheckResponse.SERVING:
                log.debug("%s is not serving", name)
                return False
        return True

    async def watch_health(
        self, on_change: Callable[[bool], Awaitable[None]], period: float = 2.0
    ) -> None:
        """Follow the backends' health; the gateway serves only when they all do."""
        current: bool | None = None
        while True:
            serving = await self.all_serving()
            if serving != current:
                current = serving
                await on_change(serving)
            await asyncio.sleep(period)

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()


def _fields(message: Message, into: type[Message]) -> dict[str, Any]:
    """The fields `message` has set that `into` has too: an answer's internal-only
    fields stay inside."""
    names = into.DESCRIPTOR.fields_by_name
    return {field.name: value for field, value in message.ListFields() if field.name in names}


async def relay_error(context: Context, error: grpc.aio.AioRpcError) -> None:
    """Answer the caller with the backend's verdict, told apart as the caller needs it.

    Only a backend that could not be reached is UNAVAILABLE (the caller may retry);
    a backend's own failure stays INTERNAL, with the backend's error id so an
    operator finds the traceback in that service's log.
    """
    code = error.code()
    if code in _PASSED_THROUGH:
        details = [
            (key, value)
            for key, value in (error.trailing_metadata() or ())
            if key == "grpc-status-details-bin"
        ]
        await context.abort(code, error.details() or code.name, trailing_metadata=tuple(details))
    if code == grpc.StatusCode.CANCELLED:
        await context.abort(code, "cancelled")
    log.warning("backend call failed: %s %s", code.name, error.details())
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        await context.abort(
            grpc.StatusCode.DEADLINE_EXCEEDED, "a backend service did not answer in time"
        )
    if code == grpc.StatusCode.UNAVAILABLE:
        await context.abort(grpc.StatusCode.UNAVAILABLE, "a backend service is unavailable; retry")
    # INTERNAL, UNKNOWN, UNIMPLEMENTED, DATA_LOSS, UNAUTHENTICATED…: not the caller's to
    # retry. The backend's message carries its error id; anything else gets one here.
    message = error.details() or ""
    if code != grpc.StatusCode.INTERNAL or not message.startswith("internal error "):
        error_id = uuid.uuid4().hex[:12]
        log.warning("backend answered %s (error id %s): %s", code.name, error_id, message)
        message = f"internal error {error_id}; the gateway log has its details"
    await context.abort(grpc.StatusCode.INTERNAL, message)

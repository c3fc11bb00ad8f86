"""Every call the gateway makes names the caller's tenant, and no other: tenant isolation.

The public servicers run against backends that record every internal request and
answer it empty (what the gateway sends is the question here, not what the services
do with it: tests/e2e/test_gateway_api.py asks that of the real ones).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, NoReturn, cast

import grpc
import pytest
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import Message

from quorum.domain.v1 import domain_pb2
from quorum.gateway.v1 import gateway_pb2
from quorum.ideas.v1 import ideas_pb2
from quorum.notifications.v1 import notifications_pb2
from quorum.validation.v1 import validation_pb2
from quorum_common.grpc_server import Context
from quorum_gateway import auth
from quorum_gateway.api import Gateway
from quorum_gateway.backends import Backends
from quorum_gateway.directory_api import DirectoryApi, PolicyApi
from quorum_gateway.gates_api import GatesApi
from quorum_gateway.ideas_api import IdeasApi
from quorum_gateway.insights_api import InsightsApi
from quorum_gateway.notifications_api import NotificationsApi
from quorum_gateway.peers_api import PeersApi
from quorum_gateway.principals import Principal, Role

INTERNAL = [
    service
    for package in (ideas_pb2, validation_pb2, notifications_pb2)
    for service in package.DESCRIPTOR.services_by_name.values()
]
# The public services that call the internal ones (access, events and inbound do not).
SERVICERS = {
    "IdeasService": IdeasApi,
    "GatesService": GatesApi,
    "DirectoryService": DirectoryApi,
    "PolicyService": PolicyApi,
    "InsightsService": InsightsApi,
    "PeersService": PeersApi,
    "NotificationsService": NotificationsApi,
}
PUBLIC = [
    method
    for name, service in gateway_pb2.DESCRIPTOR.services_by_name.items()
    if name in SERVICERS
    for method in service.methods
]
ADMIN = Principal("tenant-a", "key-1", "admin-a", "Ada", Role.VENDOR_ADMIN)


class Recorded:
    """Every internal request, as the backends received it."""

    def __init__(self) -> None:
        # Any: each is some internal request, each with a tenant_id.
        self.requests: list[Any] = []

    def handler(self, method: MethodDescriptor) -> grpc.RpcMethodHandler[Any, Any]:
        answer_type = message_factory.GetMessageClass(method.output_type)

        async def answer(request: Message, context: Any) -> Message:
            self.requests.append(request)
            if method.full_name == "quorum.ideas.v1.IdeasService.GetIdea":
                # Merged: the stage ledger is then not waited for (consistency.py).
                return ideas_pb2.GetIdeaResponse(
                    idea=ideas_pb2.Idea(status=domain_pb2.IDEA_STATUS_MERGED)
                )
            return answer_type()

        return grpc.unary_unary_rpc_method_handler(
            answer,
            request_deserializer=message_factory.GetMessageClass(method.input_type).FromString,
            response_serializer=answer_type.SerializeToString,
        )


class _Caller:
    """What a servicer asks of its call here: the deadline, and an abort."""

    def time_remaining(self) -> float | None:
        return None

    async def abort(self, code: grpc.StatusCode, details: str = "", **_: Any) -> NoReturn:
        raise AssertionError(f"the call was refused: {code.name} {details}")


@pytest.fixture
async def backends() -> AsyncIterator[tuple[Backends, Recorded]]:
    recorded = Recorded()
    server = grpc.aio.server()
    server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                service.full_name, {m.name: recorded.handler(m) for m in service.methods}
            )
            for service in INTERNAL
        ]
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    address = f"127.0.0.1:{port}"
    connected = Backends(address, address, address, timeout=5.0)
    try:
        yield connected, recorded
    finally:
        await connected.close()
        await server.stop(None)


@pytest.mark.parametrize("method", PUBLIC, ids=lambda m: m.full_name)
async def test_every_internal_request_names_the_callers_tenant(
    method: MethodDescriptor, backends: tuple[Backends, Recorded]
) -> None:
    connected, recorded = backends
    auth._principal.set(ADMIN)
    servicer = SERVICERS[method.containing_service.name](Gateway(connected))
    public_request = message_factory.GetMessageClass(method.input_type)()
    await getattr(servicer, method.name)(public_request, cast(Context, _Caller()))
    assert recorded.requests, "the call reached no backend"
    for request in recorded.requests:
        assert request.tenant_id == "tenant-a", request
        if "actor" in request.DESCRIPTOR.fields_by_name:
            assert request.actor == ADMIN.actor()


async def test_a_tenant_set_by_a_servicer_is_overwritten_with_the_callers(
    backends: tuple[Backends, Recorded],
) -> None:
    connected, recorded = backends
    auth._principal.set(ADMIN)
    wrong = validation_pb2.AdvanceStageRequest(
        tenant_id="tenant-b", actor=domain_pb2.Actor(principal_id="someone-of-b")
    )
    await connected.call(connected.gates.AdvanceStage, wrong, cast(Context, _Caller()))
    (sent,) = recorded.requests
    assert isinstance(sent, validation_pb2.AdvanceStageRequest)
    assert sent.tenant_id == "tenant-a"
    assert sent.actor.principal_id == "admin-a"

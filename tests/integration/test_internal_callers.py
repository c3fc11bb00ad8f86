"""Every internal RPC refuses a request that does not say whose it is (quorum_common.callers).

Against the real services as `__main__` wires them: whatever the method, also one
added later, a request without a well-formed tenant is INVALID_ARGUMENT naming
`tenant_id`, and a decision without its actor names `actor.principal_id`.
"""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from google.protobuf import message_factory
from google.protobuf.descriptor import ServiceDescriptor

from integration.conftest import RunningValidation
from quorum.domain.v1 import domain_pb2
from quorum.ideas.v1 import ideas_pb2
from quorum.notifications.v1 import notifications_pb2
from quorum.validation.v1 import validation_pb2
from support.ideas_service import Running
from support.notifications_service import RunningNotifications
from support.statuses import bad_fields

pytestmark = pytest.mark.integration

# Not a tenant id: empty, with a space, too long, with a NUL.
MALFORMED = ["", "acme software", "a" * 129, "acme\x00"]


async def refused_fields(call: Any, request: Any) -> set[str]:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call(request, timeout=10)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT, raised.value
    return set(bad_fields(raised.value))


async def every_method_refuses(calls: dict[str, Any], service: ServiceDescriptor) -> None:
    for method in service.methods:
        kind = message_factory.GetMessageClass(method.input_type)
        decides = "actor" in method.input_type.fields_by_name
        for tenant_id in MALFORMED:
            named = await refused_fields(calls[method.name], kind(tenant_id=tenant_id))
            assert named == ({"tenant_id", "actor.principal_id"} if decides else {"tenant_id"}), (
                method.full_name,
                tenant_id,
            )
        if decides:
            headless = kind(tenant_id="acme-software", actor=domain_pb2.Actor(role="PM"))
            assert "actor.principal_id" in await refused_fields(calls[method.name], headless)


def calls_on(channel: grpc.aio.Channel, service: ServiceDescriptor) -> dict[str, Any]:
    return {
        m.name: channel.unary_unary(
            f"/{service.full_name}/{m.name}",
            request_serializer=lambda message: message.SerializeToString(),
            response_deserializer=message_factory.GetMessageClass(m.output_type).FromString,
        )
        for m in service.methods
    }


async def test_the_ideas_service_refuses_a_request_without_its_caller(ideas: Running) -> None:
    service = ideas_pb2.DESCRIPTOR.services_by_name["IdeasService"]
    await every_method_refuses(
        {m.name: getattr(ideas.stub, m.name) for m in service.methods}, service
    )


async def test_the_validation_service_refuses_a_request_without_its_caller(
    validation: RunningValidation,
) -> None:
    for service in validation_pb2.DESCRIPTOR.services_by_name.values():
        await every_method_refuses(calls_on(validation.channel, service), service)


async def test_the_notifications_service_refuses_a_request_without_its_caller(
    notifications: RunningNotifications,
) -> None:
    for service in notifications_pb2.DESCRIPTOR.services_by_name.values():
        await every_method_refuses(calls_on(notifications.channel, service), service)

"""One slice through all four services, as a PDP tool and an integration see it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from quorum.domain.v1 import domain_pb2
from quorum.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from quorum_devtools import platform
from support.statuses import bad_field_names
from support.waiting import until

if TYPE_CHECKING:
    from quorum.gateway.v1.gateway_pb2_grpc import IdeasServiceAsyncStub

pytestmark = pytest.mark.e2e


def submission(**overrides: object) -> gateway_pb2.SubmitIdeaRequest:
    fields: dict[str, object] = {
        "title": "Export gate reports to CSV",
        "problem": "Our portfolio board reviews gate decisions in spreadsheets every week.",
        "product_area": "reporting",
        "tags": ["export", "csv"],
        "source_channel": domain_pb2.SOURCE_CHANNEL_PORTAL,
        "submitted_by": domain_pb2.MemberRef(organization_id="acme", member_id="ana"),
        "importance": domain_pb2.IMPORTANCE_IMPORTANT,
    }
    fields.update(overrides)
    return gateway_pb2.SubmitIdeaRequest(**fields)  # type: ignore[arg-type]


async def eventually_stage(
    stub: IdeasServiceAsyncStub, idea_id: str, within: float = 30.0
) -> gateway_pb2.Idea:
    """Poll GetIdea until the stage ledger has recorded the idea (events are async)."""
    seen: list[gateway_pb2.Idea] = []

    async def staged() -> bool:
        seen.append((await stub.GetIdea(gateway_pb2.GetIdeaRequest(idea_id=idea_id))).idea)
        return bool(seen[-1].stage)

    await until(staged, f"idea {idea_id} with a stage", within)
    return seen[-1]


async def test_submitted_idea_reaches_ideation_through_kafka(
    gateway: grpc.aio.Channel,
) -> None:
    stub = gateway_pb2_grpc.IdeasServiceStub(gateway)
    answer = await stub.SubmitIdea(submission())
    submitted = answer.idea
    assert submitted.id
    assert submitted.status == domain_pb2.IDEA_STATUS_OPEN
    assert submitted.organization_count == 1
    assert submitted.endorsement_count == 1

    idea = await eventually_stage(stub, submitted.id)

    assert idea.stage == "IDEATION"
    assert idea.title == "Export gate reports to CSV"
    assert idea.tags == ["export", "csv"]
    backing = await stub.ListEndorsements(gateway_pb2.ListEndorsementsRequest(idea_id=idea.id))
    assert [e.organization_id for e in backing.endorsements] == ["acme"]
    assert backing.endorsements[0].importance == domain_pb2.IMPORTANCE_IMPORTANT
    assert backing.organization_count == 1


async def test_every_service_is_healthy_and_the_gateway_reflects(
    running: platform.Platform, gateway: grpc.aio.Channel
) -> None:
    for service in platform.SERVICES:
        async with grpc.aio.insecure_channel(running.address(service)) as channel:
            health = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest()
            )
            assert health.status == health_pb2.HealthCheckResponse.SERVING, service

    reflection = reflection_pb2_grpc.ServerReflectionStub(gateway)
    names: list[str] = []
    async for answer in reflection.ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")])
    ):
        names += [s.name for s in answer.list_services_response.service]
    assert "quorum.gateway.v1.IdeasService" in names
    assert "grpc.health.v1.Health" in names


async def test_bad_submission_names_every_bad_field(gateway: grpc.aio.Channel) -> None:
    stub = gateway_pb2_grpc.IdeasServiceStub(gateway)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.SubmitIdea(
            submission(title="", problem="x" * 10_001, importance=0, source_channel=0)
        )
    error = raised.value
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert bad_field_names(error) == {"title", "problem", "importance", "source_channel"}


async def test_unknown_idea_is_not_found(gateway: grpc.aio.Channel) -> None:
    stub = gateway_pb2_grpc.IdeasServiceStub(gateway)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.GetIdea(
            gateway_pb2.GetIdeaRequest(idea_id="0b0e7a4c-58d4-4a3a-9f55-8d1f3c1e2a11")
        )
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await stub.GetIdea(gateway_pb2.GetIdeaRequest(idea_id="not-a-uuid"))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "idea_id" in (raised.value.details() or "")


async def test_retrying_a_submission_with_its_request_id_returns_the_same_idea(
    gateway: grpc.aio.Channel,
) -> None:
    stub = gateway_pb2_grpc.IdeasServiceStub(gateway)
    first = await stub.SubmitIdea(submission(request_id="crm-ticket-4711"))
    again = await stub.SubmitIdea(submission(request_id="crm-ticket-4711"))
    assert again.idea.id == first.idea.id
    other = await stub.SubmitIdea(submission(request_id="crm-ticket-4712"))
    assert other.idea.id != first.idea.id
    # The retry's duplicate hint points at the earlier, different idea only.
    assert first.idea.id in [s.idea_id for s in other.similar_ideas]

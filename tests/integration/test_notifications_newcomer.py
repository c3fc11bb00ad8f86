"""The SPEC's newcomer scenario, seen from the endorsers' side of the loop.

The validation service and the notifications service run in-process against the
real broker and MongoDB; the ideas service's events are published as it publishes
them. One huge customer cannot carry its idea past DISCOVERY; five small customers
in three industries carry theirs through DISCOVERY and DESIGN — and are told.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
from conftest import Isolation

from integration.conftest import RunningValidation
from quorum.domain.v1 import domain_pb2
from quorum.notifications.v1 import notifications_pb2
from quorum.validation.v1 import validation_pb2, validation_pb2_grpc
from quorum_devtools.sinks import ReceivedWebhook
from support import events
from support.kafka import publish
from support.newcomer import PM, TENANT, organizations
from support.notifications_service import (
    PRODUCT,
    RunningNotifications,
    eventually,
    member,
    organization,
    receiver,
    running_notifications,
    settled,
    subscribe_webhook,
)
from support.servers import Servers

pytestmark = pytest.mark.integration

N = notifications_pb2
SMALL = ["bakery", "clinic", "shop", "lab", "bank"]
SECRETS = {f"/{org}": f"whsec_{org}_secret_for_tests" for org in [*SMALL, "megacorp", "product"]}


@pytest.fixture
async def notifications(
    infra: Servers, isolation: Isolation
) -> AsyncIterator[RunningNotifications]:
    async with running_notifications(infra, isolation) as running:
        yield running


async def ledger_counts(service: RunningValidation, idea_id: str, organizations: int) -> None:
    gates = validation_pb2_grpc.GateServiceStub(service.channel)

    async def counted() -> bool:
        try:
            progress = await gates.GetIdeaProgress(
                validation_pb2.GetIdeaProgressRequest(tenant_id=TENANT, idea_id=idea_id)
            )
        except grpc.aio.AioRpcError as error:
            if error.code() != grpc.StatusCode.NOT_FOUND:  # not in the ledger yet
                raise
            return False
        return progress.organization_count == organizations

    await eventually(counted, f"the ledger counting {organizations} organizations")


async def test_five_endorsers_are_told_their_idea_advanced_and_megacorp_is_not(
    validation: RunningValidation, notifications: RunningNotifications
) -> None:
    directory = validation_pb2_grpc.DirectoryServiceStub(validation.channel)
    for entry in organizations():
        await directory.UpsertOrganization(
            validation_pb2.UpsertOrganizationRequest(tenant_id=TENANT, organization=entry)
        )
    gates = validation_pb2_grpc.GateServiceStub(validation.channel)

    async with receiver(secrets=SECRETS) as sink:
        for org in SMALL:
            await subscribe_webhook(
                notifications, member(org), sink.url(f"/{org}"), SECRETS[f"/{org}"]
            )
        # MegaCorp listens as a whole organization, to every kind.
        await subscribe_webhook(
            notifications, organization("megacorp"), sink.url("/megacorp"), SECRETS["/megacorp"]
        )
        await subscribe_webhook(notifications, PRODUCT, sink.url("/product"), SECRETS["/product"])

        big = events.submitted(TENANT, "megacorp", domain_pb2.IMPORTANCE_CRITICAL)
        big_id = big.envelope.idea_id
        modest = events.submitted(TENANT, "bakery")
        modest_id = modest.envelope.idea_id
        endorsements = [
            events.endorsed(TENANT, modest_id, org, version)
            for version, org in enumerate(SMALL[1:], start=2)
        ]
        await publish(validation.bootstrap, validation.topics.ideas, big, modest, *endorsements)
        await ledger_counts(validation, big_id, 1)
        await ledger_counts(validation, modest_id, 5)

        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await gates.AdvanceStage(
                validation_pb2.AdvanceStageRequest(
                    tenant_id=TENANT, idea_id=big_id, target_stage="DISCOVERY", actor=PM
                )
            )
        assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "MegaCorp holds 100% of the weight, over the 50% cap" in (
            refused.value.details() or ""
        )
        for target in ("DISCOVERY", "DESIGN"):
            await gates.AdvanceStage(
                validation_pb2.AdvanceStageRequest(
                    tenant_id=TENANT, idea_id=modest_id, target_stage=target, actor=PM
                )
            )
        # MegaCorp's channel works: it is told when its idea is declined.
        await gates.DeclineIdea(
            validation_pb2.DeclineIdeaRequest(
                tenant_id=TENANT,
                idea_id=big_id,
                reason="One customer is not a market: no other customer asked for it.",
                actor=PM,
            )
        )

        advanced = await settled(
            notifications, 10, idea_id=modest_id, kind=domain_pb2.NOTIFICATION_KIND_STAGE_ADVANCED
        )
        assert {d.status for d in advanced} == {N.DELIVERY_STATUS_DELIVERED}
        told_megacorp = await settled(notifications, 1, recipient=organization("megacorp"))
        assert [(d.kind, d.idea_id) for d in told_megacorp] == [
            (domain_pb2.NOTIFICATION_KIND_IDEA_DECLINED, big_id)
        ]
        await eventually(lambda: sink.on("/product"), "the product team told of a gate")

    def seen(path: str) -> list[ReceivedWebhook]:
        return sink.on(path)

    for org in SMALL:
        requests = seen(f"/{org}")
        assert all(r.signature_ok for r in requests), org
        # Deliveries run concurrently: the two may arrive in either order.
        moves = sorted((r.json["type"], r.json["data"]["to_stage"]) for r in requests)
        assert moves == [
            ("idea.stage_advanced", "DESIGN"),
            ("idea.stage_advanced", "DISCOVERY"),
        ], org
        assert {r.json["idea"]["id"] for r in requests} == {modest_id}
        assert {r.json["recipient"]["member_id"] for r in requests} == {f"{org}-m1"}
    [letter] = seen("/megacorp")
    assert letter.signature_ok
    assert letter.json["type"] == "idea.declined"
    assert letter.json["recipient"] == {"type": "organization", "organization_id": "megacorp"}
    assert "not a market" in letter.json["data"]["reason"]
    assert not [r for r in seen("/megacorp") if r.json["type"] == "idea.stage_advanced"]
    gate_news = [r.json for r in seen("/product")]
    assert all(r["type"] == "gate.opened" for r in gate_news)
    assert ("DISCOVERY", modest_id) in {(r["data"]["stage"], r["idea"]["id"]) for r in gate_news}
    assert big_id not in {r["idea"]["id"] for r in gate_news}

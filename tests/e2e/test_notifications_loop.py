"""Closing the loop across the four processes: the newcomer scenario, as endorsers hear it.

Customers and the product manager act through the gateway; subscriptions are made
on the notifications service's internal API (the gateway does not expose it yet);
deliveries land on a real webhook receiver and a real SMTP server in this test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

from quorum.domain.v1 import domain_pb2
from quorum.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from quorum.notifications.v1 import notifications_pb2, notifications_pb2_grpc
from quorum_devtools import platform
from quorum_devtools.sinks import MailSink, WebhookSink
from support.auth import channel
from support.newcomer import organizations, submission
from support.servers import free_port
from support.waiting import until

pytestmark = pytest.mark.e2e

N = notifications_pb2
TENANT = "acme-software"  # the tenant the `gateway` fixture bootstraps
# Chosen at import: the services' settings are fixed before the test starts its sink.
SMTP_PORT = free_port()
SMALL = ["bakery", "clinic", "shop", "bank", "lab"]
SECRET = "whsec_end_to_end_tests_only"


@pytest.fixture
async def mail() -> AsyncIterator[MailSink]:
    sink = MailSink()
    await sink.start(port=SMTP_PORT)
    yield sink
    await sink.stop()


@pytest.fixture
async def hooks() -> AsyncIterator[WebhookSink]:
    sink = WebhookSink(secret=SECRET)
    await sink.start()
    yield sink
    await sink.stop()


@pytest.mark.platform_env(
    NOTIFICATIONS_SMTP_PORT=str(SMTP_PORT),
    NOTIFICATIONS_WEBHOOK_ALLOW_PRIVATE_NETWORKS="true",
    NOTIFICATIONS_BACKOFF_BASE_SECONDS="0.05",
    NOTIFICATIONS_BACKOFF_MAX_SECONDS="0.5",
)
async def test_endorsers_hear_their_idea_advanced_and_megacorp_hears_no_such_thing(
    running: platform.Platform,
    gateway: grpc.aio.Channel,
    mail: MailSink,
    hooks: WebhookSink,
) -> None:
    access = gateway_pb2_grpc.AccessServiceStub(gateway)
    directory = gateway_pb2_grpc.DirectoryServiceStub(gateway)
    cast = organizations()
    for organization in cast:
        # In this story every customer is active (the newcomer cast's lab is a prospect).
        organization.relationship = domain_pb2.RELATIONSHIP_ACTIVE
        await directory.UpsertOrganization(
            gateway_pb2.UpsertOrganizationRequest(organization=organization)
        )

    async def key(role: Any, principal_id: str, **fields: Any) -> str:
        created = await access.CreateApiKey(
            gateway_pb2.CreateApiKeyRequest(
                principal_id=principal_id, display_name=principal_id, role=role, **fields
            )
        )
        return created.secret

    address = running.address("gateway")
    callers = {"pm": channel(address, await key(gateway_pb2.ROLE_PRODUCT_MANAGER, "pat"))}
    for org_id in [organization.organization_id for organization in cast]:
        secret = await key(
            gateway_pb2.ROLE_CUSTOMER,
            f"{org_id}-member",
            organization_id=org_id,
            member_id=f"{org_id}-member",
        )
        callers[org_id] = channel(address, secret)

    async with grpc.aio.insecure_channel(running.address("notifications")) as internal:
        api = notifications_pb2_grpc.NotificationsServiceStub(internal)

        async def subscribe(subscriber: domain_pb2.Subscriber, **channel_fields: Any) -> None:
            await api.CreateSubscription(
                N.CreateSubscriptionRequest(
                    tenant_id=TENANT,
                    subscription=N.Subscription(subscriber=subscriber, **channel_fields),
                )
            )

        for org in SMALL:
            await subscribe(
                domain_pb2.Subscriber(
                    member=domain_pb2.MemberRef(organization_id=org, member_id=f"{org}-member")
                ),
                webhook=N.WebhookChannel(url=hooks.url(f"/{org}"), secret=SECRET),
            )
        await subscribe(
            domain_pb2.Subscriber(organization_id="megacorp"),
            webhook=N.WebhookChannel(url=hooks.url("/megacorp"), secret=SECRET),
        )
        await subscribe(
            domain_pb2.Subscriber(team=domain_pb2.TEAM_PRODUCT),
            email=N.EmailChannel(address="pm@acme.example"),
        )

        try:
            ideas = {name: gateway_pb2_grpc.IdeasServiceStub(c) for name, c in callers.items()}
            gates = gateway_pb2_grpc.GatesServiceStub(callers["pm"])
            blocked = (await ideas["megacorp"].SubmitIdea(submission("One big ask"))).idea
            modest = (await ideas["bakery"].SubmitIdea(submission("Bulk edit"))).idea
            for org in SMALL[1:]:
                await ideas[org].EndorseIdea(
                    gateway_pb2.EndorseIdeaRequest(
                        idea_id=modest.id, importance=domain_pb2.IMPORTANCE_IMPORTANT
                    )
                )

            async def gate_holds(idea_id: str, count: int) -> bool:
                got = await ideas["pm"].GetIdea(gateway_pb2.GetIdeaRequest(idea_id=idea_id))
                return got.idea.organization_count == count and got.idea.next_gate_holds

            async def recorded(idea_id: str) -> bool:
                got = await ideas["pm"].GetIdea(gateway_pb2.GetIdeaRequest(idea_id=idea_id))
                return got.idea.stage == "IDEATION"

            await until(lambda: recorded(blocked.id), "MegaCorp's idea recorded")
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await gates.AdvanceStage(
                    gateway_pb2.AdvanceStageRequest(idea_id=blocked.id, target_stage="DISCOVERY")
                )
            assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
            for target in ("DISCOVERY", "DESIGN"):
                await until(lambda: gate_holds(modest.id, 5), f"the gate into {target}")
                await gates.AdvanceStage(
                    gateway_pb2.AdvanceStageRequest(idea_id=modest.id, target_stage=target)
                )
            await gates.DeclineIdea(
                gateway_pb2.DeclineIdeaRequest(
                    idea_id=blocked.id, reason="One customer is not a market."
                )
            )

            async def everyone_told() -> bool:
                advanced = sum(len(hooks.on(f"/{org}")) for org in SMALL)
                return advanced == 10 and bool(hooks.on("/megacorp")) and bool(mail.messages)

            await until(everyone_told, "ten advance notifications, a decline and an e-mail")
        finally:
            for open_channel in callers.values():
                await open_channel.close()

        for org in SMALL:
            requests = hooks.on(f"/{org}")
            assert all(r.signature_ok for r in requests), org
            assert sorted(r.json["data"]["to_stage"] for r in requests) == ["DESIGN", "DISCOVERY"]
            assert {r.json["type"] for r in requests} == {"idea.stage_advanced"}
            assert {r.json["idea"]["title"] for r in requests} == {"Bulk edit"}
        [declined] = hooks.on("/megacorp")
        assert declined.json["type"] == "idea.declined"
        assert declined.json["idea"]["id"] == blocked.id
        assert mail.messages[0].recipients == ("pm@acme.example",)
        assert "The gate into DISCOVERY holds" in mail.messages[0].subject

        log: list[N.Delivery] = []

        async def settled() -> bool:
            nonlocal log
            answer = await api.ListDeliveries(
                N.ListDeliveriesRequest(tenant_id=TENANT, page_size=500)
            )
            log = list(answer.deliveries)
            return all(d.status != N.DELIVERY_STATUS_PENDING for d in log)

        # Later gates may open too (the product team hears of each); let them finish.
        await until(settled, "every delivery settled")
        assert {d.status for d in log} == {N.DELIVERY_STATUS_DELIVERED}
        megacorp = [d for d in log if d.recipient.organization_id == "megacorp"]
        assert [d.kind for d in megacorp] == [domain_pb2.NOTIFICATION_KIND_IDEA_DECLINED]

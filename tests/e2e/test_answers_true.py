"""Every answer true and safe: read-your-writes, councils' members, own subscriptions."""

from __future__ import annotations

import subprocess
from typing import TYPE_CHECKING

import grpc
import pytest

from e2e.test_gateway_api import Caller, Tenant, refused, tenant
from support.newcomer import submission

__all__ = ["tenant"]  # the fixture

from quorum.domain.v1 import domain_pb2
from quorum.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from quorum.notifications.v1 import notifications_pb2
from quorum_devtools import platform

if TYPE_CHECKING:
    from quorum.gateway.v1.gateway_pb2_grpc import NotificationsServiceAsyncStub

pytestmark = pytest.mark.e2e


def notifications(caller: Caller) -> NotificationsServiceAsyncStub:
    return gateway_pb2_grpc.NotificationsServiceStub(caller.channel)


async def test_a_write_is_seen_by_the_gates_at_once(tenant: Tenant) -> None:
    """Submit, then advance or report at once: never NOT_FOUND, never without the write."""
    for attempt in range(5):
        idea = (
            await tenant.customers["bakery"].ideas.SubmitIdea(submission(f"Idea {attempt}"))
        ).idea
        report = await tenant.pm.gates.GetGateReport(
            gateway_pb2.GetGateReportRequest(idea_id=idea.id)
        )
        assert report.stage == "IDEATION"
        assert len(report.report.weights) == 1
        blocked = await refused(
            tenant.pm.gates.AdvanceStage(
                gateway_pb2.AdvanceStageRequest(idea_id=idea.id, target_stage="DISCOVERY")
            )
        )
        assert blocked.code() == grpc.StatusCode.FAILED_PRECONDITION
        await tenant.customers["clinic"].ideas.EndorseIdea(
            gateway_pb2.EndorseIdeaRequest(
                idea_id=idea.id, importance=domain_pb2.IMPORTANCE_IMPORTANT
            )
        )
        report = await tenant.pm.gates.GetGateReport(
            gateway_pb2.GetGateReportRequest(idea_id=idea.id)
        )
        assert len(report.report.weights) == 2
        shown = (await tenant.pm.ideas.GetIdea(gateway_pb2.GetIdeaRequest(idea_id=idea.id))).idea
        assert (shown.organization_count, shown.next_stage) == (2, "DISCOVERY")


async def test_list_ideas_tells_each_ideas_stage_and_next_gate_from_the_ledger(
    tenant: Tenant,
) -> None:
    idea = (await tenant.customers["bakery"].ideas.SubmitIdea(submission("Listed"))).idea
    listed = await tenant.pm.ideas.ListIdeas(gateway_pb2.ListIdeasRequest())
    shown = next(i for i in listed.ideas if i.id == idea.id)
    assert (shown.stage, shown.next_stage, shown.stage_version) == ("IDEATION", "DISCOVERY", 1)


async def test_customers_see_only_the_council_members_they_may_know_of(tenant: Tenant) -> None:
    await tenant.admin.directory.UpsertCouncil(
        gateway_pb2.UpsertCouncilRequest(
            council=domain_pb2.Council(
                council_id="cab",
                name="Customer Advisory Board",
                member_organization_ids=["megacorp", "bakery", "clinic"],
            )
        )
    )

    async def members(caller: Caller) -> set[str]:
        answer = await caller.directory.ListCouncils(gateway_pb2.ListCouncilsRequest())
        return set(
            next(c for c in answer.councils if c.council_id == "cab").member_organization_ids
        )

    assert await members(tenant.pm) == {"megacorp", "bakery", "clinic"}
    # bakery itself and clinic (opted in); megacorp did not opt in.
    assert await members(tenant.customers["bakery"]) == {"bakery", "clinic"}
    assert await members(tenant.customers["shop"]) == {"clinic"}
    assert await members(tenant.integration) == {"bakery", "clinic"}


def webhook(subscriber: domain_pb2.Subscriber) -> gateway_pb2.CreateSubscriptionRequest:
    return gateway_pb2.CreateSubscriptionRequest(
        subscription=notifications_pb2.Subscription(
            subscriber=subscriber,
            webhook=notifications_pb2.WebhookChannel(url="https://hooks.example.com/quorum"),
        )
    )


async def listed(caller: Caller) -> set[str]:
    answer = await notifications(caller).ListSubscriptions(gateway_pb2.ListSubscriptionsRequest())
    return {s.subscription_id for s in answer.subscriptions}


@pytest.mark.parametrize(
    ("who", "subscriber"),
    [
        ("bakery", domain_pb2.Subscriber()),  # a customer: its own member
        ("bakery", domain_pb2.Subscriber(organization_id="bakery")),
        ("integration", domain_pb2.Subscriber(organization_id="shop")),
        (
            "integration",
            domain_pb2.Subscriber(
                member=domain_pb2.MemberRef(organization_id="bakery", member_id="ann")
            ),
        ),
    ],
)
async def test_customers_and_integrations_manage_their_own_subscriptions(
    tenant: Tenant, who: str, subscriber: domain_pb2.Subscriber
) -> None:
    owner = tenant.integration if who == "integration" else tenant.customers[who]
    created = (await notifications(owner).CreateSubscription(webhook(subscriber))).subscription
    mine = created.subscription_id
    assert mine in await listed(owner)
    deliveries = await notifications(owner).ListDeliveries(
        gateway_pb2.ListDeliveriesRequest(subscription_id=mine)
    )
    assert list(deliveries.deliveries) == []
    # Someone else's is not there to another customer: not listed, not deletable.
    assert mine not in await listed(tenant.customers["clinic"])
    gone = await refused(
        notifications(tenant.customers["clinic"]).DeleteSubscription(
            gateway_pb2.DeleteSubscriptionRequest(subscription_id=mine)
        )
    )
    assert gone.code() == grpc.StatusCode.NOT_FOUND
    await notifications(owner).DeleteSubscription(
        gateway_pb2.DeleteSubscriptionRequest(subscription_id=mine)
    )
    assert mine not in await listed(owner)
    assert mine not in await listed(tenant.admin)


async def test_a_write_is_answered_ok_while_a_service_it_does_not_need_is_down(
    tenant: Tenant, started: tuple[platform.Platform, dict[str, subprocess.Popen[bytes]]]
) -> None:
    """An endorsement needs only the ideas service: with validation down it is answered
    OK (the submitter hidden from a customer, the safe side), and its retry changes nothing."""
    idea = (
        await tenant.customers["megacorp"].ideas.SubmitIdea(submission("Needs ideas only"))
    ).idea
    _, processes = started
    assert platform.stop({"validation": processes["validation"]}) == {"validation": 0}
    endorse = gateway_pb2.EndorseIdeaRequest(
        idea_id=idea.id, importance=domain_pb2.IMPORTANCE_IMPORTANT
    )
    answer = await tenant.customers["clinic"].ideas.EndorseIdea(endorse)
    assert answer.changed
    assert answer.idea.organization_count == 2
    assert not answer.idea.HasField("submitted_by")  # megacorp did not opt in
    again = await tenant.customers["clinic"].ideas.EndorseIdea(endorse)
    assert not again.changed
    submitted = await tenant.customers["clinic"].ideas.SubmitIdea(submission("While it is down"))
    assert submitted.idea.submitted_by.organization_id == "clinic"
    # What needs the ledger says so, and says to retry.
    error = await refused(
        tenant.pm.gates.GetGateReport(gateway_pb2.GetGateReportRequest(idea_id=idea.id))
    )
    assert error.code() == grpc.StatusCode.UNAVAILABLE

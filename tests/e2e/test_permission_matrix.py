"""Every public RPC by every role, as the README's table says, and nothing hidden leaks.

The RPCs come from the descriptor pool and the roles from the README's table
(`support.permissions`): an RPC added to the contract without a request here, or
without a row in the table, fails this test until both exist. Each allowed call is
made with a meaningful request and must succeed; each forbidden one must be
PERMISSION_DENIED. Every answer a customer or integration key gets must not contain
the id or name of an organization that did not opt into peer visibility (the
caller's own excepted). The tenant and its keys: support/permission_world.py.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import pytest
from google.protobuf import message_factory
from google.protobuf.message import Message

from quorum.domain.v1 import domain_pb2
from quorum.gateway.v1 import gateway_pb2
from quorum_devtools import platform
from support.newcomer import member, submission
from support.permission_world import (
    ACTS_FOR,
    DIRECTORY,
    REFUSED_BY_RULES,
    ROLES,
    RPCS,
    Caller,
    World,
    subscription,
    world_for,
)
from support.permissions import documented_permissions

pytestmark = pytest.mark.e2e


@pytest.fixture
async def world(running: platform.Platform, admin_key: str) -> AsyncIterator[World]:
    async with world_for(running, admin_key) as built:
        yield built


def own_subscriber(role: str) -> dict[str, Any]:
    if role == "CUSTOMER":
        return {}
    if role == "INTEGRATION":
        return {"organization_id": "shop"}
    return {"team": domain_pb2.TEAM_PRODUCT}


def acting_org(role: str) -> str:
    return "" if role == "CUSTOMER" else ACTS_FOR[role][0]


async def introduction_to(world: World, role: str) -> str:
    """An introduction the role's organization is asked for, by a customer of another."""
    peer = ACTS_FOR[role][0]
    asker = world.clinic if peer == "bakery" else world.callers["CUSTOMER"]
    answer = await asker.call(
        "PeersService/RequestIntroduction",
        gateway_pb2.RequestIntroductionRequest(
            idea_id=world.shared_idea, peer_organization_id=peer, message="Shall we talk?"
        ),
    )
    return str(answer.introduction.introduction_id)


Builder = Callable[[World, str], Awaitable[Message]]


async def _withdraw(world: World, role: str) -> Message:
    idea = await world.idea()
    await world.endorse(idea, ACTS_FOR[role])
    return gateway_pb2.WithdrawEndorsementRequest(idea_id=idea, member=member(ACTS_FOR[role]))


async def _merge(world: World, role: str) -> Message:
    return gateway_pb2.MergeIdeasRequest(
        source_idea_id=await world.idea(), target_idea_id=await world.idea()
    )


async def _revoke(world: World, role: str) -> Message:
    answer = await world.admin.call(
        "AccessService/CreateApiKey",
        gateway_pb2.CreateApiKeyRequest(
            principal_id=world.unique("leaving"),
            display_name="Leaving",
            role=gateway_pb2.ROLE_PRODUCT_MANAGER,
        ),
    )
    return gateway_pb2.RevokeApiKeyRequest(key_id=answer.key.key_id)


async def _delete_subscription(world: World, role: str) -> Message:
    created = await world.callers[role].call(
        "NotificationsService/CreateSubscription", subscription(**own_subscriber(role))
    )
    return gateway_pb2.DeleteSubscriptionRequest(
        subscription_id=created.subscription.subscription_id
    )


async def _own_webhook(world: World, role: str) -> str:
    created = await world.callers[role].call(
        "NotificationsService/CreateSubscription", subscription(**own_subscriber(role))
    )
    return str(created.subscription.subscription_id)


async def _rotate(world: World, role: str) -> Message:
    return gateway_pb2.RotateWebhookSecretRequest(subscription_id=await _own_webhook(world, role))


async def _end_rollover(world: World, role: str) -> Message:
    return gateway_pb2.EndWebhookSecretRolloverRequest(
        subscription_id=await _own_webhook(world, role)
    )


async def _inbound_endpoint(world: World) -> gateway_pb2.InboundEndpoint:
    keys = await world.admin.call("AccessService/ListApiKeys", gateway_pb2.ListApiKeysRequest())
    integration = next(k.key_id for k in keys.keys if k.role == gateway_pb2.ROLE_INTEGRATION)
    return gateway_pb2.InboundEndpoint(
        key_id=integration,
        action=gateway_pb2.INBOUND_ACTION_SUBMIT_IDEA,
        fields=[
            gateway_pb2.InboundField(
                field="title", value=gateway_pb2.InboundValue(pointer="/subject")
            )
        ],
    )


async def _create_inbound(world: World, role: str) -> Message:
    return gateway_pb2.CreateInboundEndpointRequest(endpoint=await _inbound_endpoint(world))


async def _delete_inbound(world: World, role: str) -> Message:
    created = await world.admin.call(
        "InboundService/CreateInboundEndpoint",
        gateway_pb2.CreateInboundEndpointRequest(endpoint=await _inbound_endpoint(world)),
    )
    return gateway_pb2.DeleteInboundEndpointRequest(endpoint_id=created.endpoint.endpoint_id)


async def _update_policy(world: World, role: str) -> Message:
    pipeline = await world.admin.call("PolicyService/GetPipeline", gateway_pb2.GetPipelineRequest())
    policy = next(p for p in pipeline.pipeline.policies if p.stage == "DISCOVERY")
    return gateway_pb2.UpdateGatePolicyRequest(policy=policy)


def _fixed(request: Callable[[World, str], Message]) -> Builder:
    async def build(world: World, role: str) -> Message:
        return request(world, role)

    return build


def _on_fresh_idea(request: Callable[[str, str], Message]) -> Builder:
    async def build(world: World, role: str) -> Message:
        return request(await world.idea(), role)

    return build


REQUESTS: dict[str, Builder] = {
    "IdeasService/SubmitIdea": _fixed(
        lambda w, r: submission(w.unique("Submitted"), None if r == "CUSTOMER" else ACTS_FOR[r])
    ),
    "IdeasService/GetIdea": _fixed(lambda w, r: gateway_pb2.GetIdeaRequest(idea_id=w.shared_idea)),
    "IdeasService/ListIdeas": _fixed(lambda w, r: gateway_pb2.ListIdeasRequest()),
    "IdeasService/EndorseIdea": _fixed(
        lambda w, r: gateway_pb2.EndorseIdeaRequest(
            idea_id=w.shared_idea,
            member=member(ACTS_FOR[r]),
            importance=domain_pb2.IMPORTANCE_IMPORTANT,
        )
    ),
    "IdeasService/WithdrawEndorsement": _withdraw,
    "IdeasService/FindSimilarIdeas": _fixed(
        lambda w, r: gateway_pb2.FindSimilarIdeasRequest(
            title="Export gate reports", problem="spreadsheets"
        )
    ),
    "IdeasService/MergeIdeas": _merge,
    "IdeasService/ListEndorsements": _fixed(
        lambda w, r: gateway_pb2.ListEndorsementsRequest(idea_id=w.shared_idea)
    ),
    "GatesService/GetGateReport": _fixed(
        lambda w, r: gateway_pb2.GetGateReportRequest(idea_id=w.shared_idea)
    ),
    "GatesService/AdvanceStage": _on_fresh_idea(
        lambda i, r: gateway_pb2.AdvanceStageRequest(idea_id=i, target_stage="DISCOVERY")
    ),
    "GatesService/DeclineIdea": _on_fresh_idea(
        lambda i, r: gateway_pb2.DeclineIdeaRequest(idea_id=i, reason="Out of scope this year")
    ),
    "GatesService/CastCouncilVote": _fixed(
        lambda w, r: gateway_pb2.CastCouncilVoteRequest(
            idea_id=w.shared_idea,
            council_id="cab",
            organization_id=acting_org(r),
            approve=True,
            comment="We need it",
        )
    ),
    "GatesService/OverrideStage": _on_fresh_idea(
        lambda i, r: gateway_pb2.OverrideStageRequest(
            idea_id=i,
            target_stage="DISCOVERY",
            justification="The board decided to explore this regardless.",
        )
    ),
    "GatesService/CoSignIdea": _on_fresh_idea(
        lambda i, r: gateway_pb2.CoSignIdeaRequest(idea_id=i, council_id="cab")
    ),
    "InsightsService/GetOrganizationScorecard": _fixed(
        lambda w, r: gateway_pb2.GetOrganizationScorecardRequest(organization_id=acting_org(r))
    ),
    "InsightsService/GetTenantScorecard": _fixed(
        lambda w, r: gateway_pb2.GetTenantScorecardRequest()
    ),
    "InsightsService/WhatIf": _fixed(
        lambda w, r: gateway_pb2.WhatIfRequest(
            draft=domain_pb2.GatePolicy(
                stage="DISCOVERY", min_customers=2, weighting=domain_pb2.WEIGHTING_EQUAL
            )
        )
    ),
    "PeersService/ListPeers": _fixed(
        lambda w, r: gateway_pb2.ListPeersRequest(
            idea_id=w.shared_idea, organization_id=acting_org(r)
        )
    ),
    "PeersService/RequestIntroduction": _fixed(
        lambda w, r: gateway_pb2.RequestIntroductionRequest(
            idea_id=w.shared_idea, peer_organization_id="clinic", message="Shall we talk?"
        )
    ),
    "PeersService/AnswerIntroduction": lambda w, r: _answer(w, r),
    "PeersService/ListIntroductions": _fixed(
        lambda w, r: gateway_pb2.ListIntroductionsRequest(organization_id=acting_org(r))
    ),
    "DirectoryService/UpsertOrganization": _fixed(
        lambda w, r: gateway_pb2.UpsertOrganizationRequest(
            organization=domain_pb2.Organization(
                organization_id=w.unique("scratch"),
                name="Scratch",
                segment="retail",
                relationship=domain_pb2.RELATIONSHIP_ACTIVE,
            )
        )
    ),
    "DirectoryService/GetOrganization": _fixed(
        lambda w, r: gateway_pb2.GetOrganizationRequest(organization_id="bakery")
    ),
    "DirectoryService/ListOrganizations": _fixed(
        lambda w, r: gateway_pb2.ListOrganizationsRequest()
    ),
    "DirectoryService/UpsertCouncil": _fixed(
        lambda w, r: gateway_pb2.UpsertCouncilRequest(
            council=domain_pb2.Council(
                council_id=w.unique("board"), name="Board", member_organization_ids=["bakery"]
            )
        )
    ),
    "DirectoryService/ListCouncils": _fixed(lambda w, r: gateway_pb2.ListCouncilsRequest()),
    "PolicyService/GetPipeline": _fixed(lambda w, r: gateway_pb2.GetPipelineRequest()),
    "PolicyService/UpdateGatePolicy": _update_policy,
    "AccessService/CreateApiKey": _fixed(
        lambda w, r: gateway_pb2.CreateApiKeyRequest(
            principal_id=w.unique("new"), display_name="New", role=gateway_pb2.ROLE_PRODUCT_MANAGER
        )
    ),
    "AccessService/ListApiKeys": _fixed(lambda w, r: gateway_pb2.ListApiKeysRequest()),
    "AccessService/RevokeApiKey": _revoke,
    "AccessService/WhoAmI": _fixed(lambda w, r: gateway_pb2.WhoAmIRequest()),
    "EventsService/WatchEvents": _fixed(
        lambda w, r: gateway_pb2.WatchEventsRequest(cursor="0")  # from the tenant's first event
    ),
    "NotificationsService/CreateSubscription": _fixed(
        lambda w, r: subscription(**own_subscriber(r))
    ),
    "NotificationsService/ListSubscriptions": _fixed(
        lambda w, r: gateway_pb2.ListSubscriptionsRequest()
    ),
    "NotificationsService/DeleteSubscription": _delete_subscription,
    "NotificationsService/ListDeliveries": _fixed(lambda w, r: gateway_pb2.ListDeliveriesRequest()),
    "NotificationsService/RotateWebhookSecret": _rotate,
    "NotificationsService/EndWebhookSecretRollover": _end_rollover,
    "InboundService/CreateInboundEndpoint": _create_inbound,
    "InboundService/ListInboundEndpoints": _fixed(
        lambda w, r: gateway_pb2.ListInboundEndpointsRequest()
    ),
    "InboundService/DeleteInboundEndpoint": _delete_inbound,
}


async def _answer(world: World, role: str) -> Message:
    introduction = await introduction_to(world, role)
    return gateway_pb2.AnswerIntroductionRequest(
        introduction_id=introduction, accept=True, organization_id=acting_org(role)
    )


def leaks(answer: Message | str, caller: Caller) -> list[str]:
    """The hidden organizations' ids and names found in an answer to this caller."""
    text = answer if isinstance(answer, str) else str(answer) + repr(answer.SerializeToString())
    hidden = [
        (oid, name)
        for oid, name, _, visible in DIRECTORY
        if not visible and oid not in caller.organizations
    ]
    return [word for pair in hidden for word in pair if word in text]


def test_every_rpc_has_a_request_and_a_documented_row() -> None:
    assert set(REQUESTS) == set(RPCS)
    assert set(documented_permissions()) == set(RPCS)


async def test_every_role_may_call_exactly_what_the_readme_says_and_sees_no_hidden_peer(
    world: World,
) -> None:
    table = documented_permissions()
    wrong: list[str] = []
    leaked: list[str] = []
    for rpc, role in itertools.product(sorted(RPCS), ROLES):
        caller = world.callers[role]
        allowed = role in table[rpc]
        request: Message = (
            await REQUESTS[rpc](world, role)
            if allowed
            else message_factory.GetMessageClass(RPCS[rpc].input_type)()
        )
        try:
            answer = await caller.call(rpc, request)
        except grpc.aio.AioRpcError as error:
            code = error.code()
            expected = (
                REFUSED_BY_RULES.get(rpc, grpc.StatusCode.OK)
                if allowed
                else (grpc.StatusCode.PERMISSION_DENIED)
            )
            if code != expected:
                wrong.append(f"{rpc} as {role}: {code.name} {error.details()}")
            if role in ("CUSTOMER", "INTEGRATION") and leaks(error.details() or "", caller):
                leaked.append(f"{rpc} as {role} (error): {leaks(error.details() or '', caller)}")
            continue
        if not allowed or rpc in REFUSED_BY_RULES:
            wrong.append(f"{rpc} as {role}: OK, expected a refusal")
        if role in ("CUSTOMER", "INTEGRATION") and leaks(answer, caller):
            leaked.append(f"{rpc} as {role}: {leaks(answer, caller)}")
    assert not wrong, "\n".join(wrong)
    assert not leaked, "\n".join(leaked)

"""Councils, overrides, peers, scorecards and what-if through the real gateway."""

from __future__ import annotations

import hashlib

import grpc
import pytest
from pymongo import AsyncMongoClient

from e2e.test_gateway_api import Tenant, refused, tenant
from quorum.domain.v1 import domain_pb2
from quorum.gateway.v1 import gateway_pb2
from quorum_devtools import platform
from quorum_devtools.bench_probe import Probe
from support.ledger import customers_counted
from support.newcomer import submission
from support.waiting import until

pytestmark = pytest.mark.e2e
__all__ = ["tenant"]  # the fixture, shared with the gateway tests

IMPORTANT = domain_pb2.IMPORTANCE_IMPORTANT


async def endorse(tenant: Tenant, idea_id: str, *organizations: str) -> None:
    for org in organizations:
        await tenant.customers[org].ideas.EndorseIdea(
            gateway_pb2.EndorseIdeaRequest(idea_id=idea_id, importance=IMPORTANT)
        )


async def idea_state(tenant: Tenant, idea_id: str) -> gateway_pb2.Idea:
    return (await tenant.pm.ideas.GetIdea(gateway_pb2.GetIdeaRequest(idea_id=idea_id))).idea


async def test_a_council_vote_flips_the_gate_and_a_changed_vote_flips_it_back(
    tenant: Tenant,
) -> None:
    await tenant.admin.directory.UpsertCouncil(
        gateway_pb2.UpsertCouncilRequest(
            council=domain_pb2.Council(
                council_id="retail-council",
                name="Retail Council",
                charter="We speak for retail customers.",
                member_organization_ids=["bakery", "shop", "bank"],
                quorum=0.5,
            )
        )
    )
    # DISCOVERY needs only the council: two of three members (ceil(0.5 x 3)).
    await tenant.admin.policies.UpdateGatePolicy(
        gateway_pb2.UpdateGatePolicyRequest(
            policy=domain_pb2.GatePolicy(
                stage="DISCOVERY",
                min_customers=1,
                weighting=domain_pb2.WEIGHTING_EQUAL,
                council_approval=domain_pb2.CouncilRequirement(council_id="retail-council"),
            )
        )
    )
    idea = (await tenant.customers["bakery"].ideas.SubmitIdea(submission())).idea

    async def holds(expected: bool) -> bool:
        return (await idea_state(tenant, idea.id)).next_gate_holds is expected

    async def recorded() -> bool:
        return (await idea_state(tenant, idea.id)).stage == "IDEATION"

    await until(recorded, "the idea recorded")
    assert await holds(False)
    first = await tenant.customers["bakery"].gates.CastCouncilVote(
        gateway_pb2.CastCouncilVoteRequest(
            idea_id=idea.id, council_id="retail-council", approve=True
        )
    )
    assert (first.approvals, first.stage) == (1, "DISCOVERY")
    await tenant.customers["shop"].gates.CastCouncilVote(
        gateway_pb2.CastCouncilVoteRequest(
            idea_id=idea.id, council_id="retail-council", approve=True, comment="Our stores need it"
        )
    )
    await until(lambda: holds(True), "the vote opening the gate")
    changed = await tenant.customers["shop"].gates.CastCouncilVote(
        gateway_pb2.CastCouncilVoteRequest(
            idea_id=idea.id, council_id="retail-council", approve=False, comment="Reconsidered"
        )
    )
    assert (changed.approvals, changed.rejections) == (1, 1)
    await until(lambda: holds(False), "the changed vote closing the gate")
    report = await tenant.pm.gates.GetGateReport(gateway_pb2.GetGateReportRequest(idea_id=idea.id))
    council = next(c for c in report.report.criteria if c.name == "council_approval")
    assert (council.required, council.actual, council.met) == (2, 1, False)
    outsider = await refused(
        tenant.customers["clinic"].gates.CastCouncilVote(
            gateway_pb2.CastCouncilVoteRequest(
                idea_id=idea.id, council_id="retail-council", approve=True
            )
        )
    )
    assert outsider.code() == grpc.StatusCode.FAILED_PRECONDITION

    signed = await tenant.customers["bank"].gates.CoSignIdea(
        gateway_pb2.CoSignIdeaRequest(idea_id=idea.id, council_id="retail-council")
    )
    assert list(signed.co_signed_by) == ["retail-council"]
    not_member = await refused(
        tenant.customers["clinic"].gates.CoSignIdea(
            gateway_pb2.CoSignIdeaRequest(idea_id=idea.id, council_id="retail-council")
        )
    )
    assert not_member.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_an_override_is_recorded_announced_and_permanent(tenant: Tenant) -> None:
    idea = (await tenant.customers["megacorp"].ideas.SubmitIdea(submission())).idea

    async def recorded() -> bool:
        return (await idea_state(tenant, idea.id)).stage == "IDEATION"

    await until(recorded, "the idea recorded")
    short = await refused(
        tenant.admin.gates.OverrideStage(
            gateway_pb2.OverrideStageRequest(
                idea_id=idea.id, target_stage="DISCOVERY", justification="CEO wants it"
            )
        )
    )
    assert short.code() == grpc.StatusCode.INVALID_ARGUMENT
    pm_tries = await refused(
        tenant.pm.gates.OverrideStage(
            gateway_pb2.OverrideStageRequest(
                idea_id=idea.id,
                target_stage="DISCOVERY",
                justification="A regulatory deadline forces this before evidence.",
            )
        )
    )
    assert pm_tries.code() == grpc.StatusCode.PERMISSION_DENIED

    stream = tenant.admin.events.WatchEvents(
        gateway_pb2.WatchEventsRequest(idea_id=idea.id, kinds=["StageOverridden"], cursor="0")
    )
    done = await tenant.admin.gates.OverrideStage(
        gateway_pb2.OverrideStageRequest(
            idea_id=idea.id,
            target_stage="DISCOVERY",
            justification="A regulatory deadline forces this before evidence.",
        )
    )
    assert done.stage == "DISCOVERY"
    assert not done.report.holds
    async for answer in stream:
        overridden = answer.event.stage_overridden
        break
    stream.cancel()
    assert overridden.justification == "A regulatory deadline forces this before evidence."
    assert overridden.actor.role == "VENDOR_ADMIN"
    assert not overridden.report.holds
    assert {c.name for c in overridden.report.criteria if not c.met} >= {"min_customers"}

    after = await idea_state(tenant, idea.id)
    assert after.overridden
    assert after.stage == "DISCOVERY"
    card = await tenant.pm.insights.GetTenantScorecard(gateway_pb2.GetTenantScorecardRequest())
    assert card.scorecard.overrides == 1


async def test_peers_are_only_those_who_opted_in(tenant: Tenant) -> None:
    # clinic and bank opted in; megacorp, shop and lab did not.
    idea = (await tenant.customers["bakery"].ideas.SubmitIdea(submission())).idea
    await endorse(tenant, idea.id, "megacorp", "clinic", "shop", "bank", "lab")

    async def six() -> bool:
        return (await idea_state(tenant, idea.id)).organization_count == 6

    await until(six, "six endorsements")
    listed: list[str] = []

    async def both_peers() -> bool:
        # The count is the ideas service's; peers are the stage ledger's, which applies
        # the same events a moment later.
        nonlocal listed
        try:
            found = await tenant.customers["bakery"].peers.ListPeers(
                gateway_pb2.ListPeersRequest(idea_id=idea.id)
            )
        except grpc.aio.AioRpcError as error:
            if error.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION):
                return False  # the ledger does not know the idea or bakery's endorsement yet
            raise
        listed = [p.organization_id for p in found.peers]
        return {"bank", "clinic"} <= set(listed)

    await until(both_peers, "the opted-in peers")
    assert listed == ["bank", "clinic"]
    for hidden in ("megacorp", "shop", "lab", "nonexistent"):
        error = await refused(
            tenant.customers["bakery"].peers.RequestIntroduction(
                gateway_pb2.RequestIntroductionRequest(
                    idea_id=idea.id, peer_organization_id=hidden, message="Hello"
                )
            )
        )
        assert error.code() == grpc.StatusCode.NOT_FOUND
        assert "no peer" in (error.details() or "")
    asked = await tenant.customers["bakery"].peers.RequestIntroduction(
        gateway_pb2.RequestIntroductionRequest(
            idea_id=idea.id, peer_organization_id="clinic", message="Shall we push this together?"
        )
    )
    introduction = asked.introduction
    assert introduction.status == domain_pb2.INTRODUCTION_STATUS_PENDING
    assert not introduction.peer_contact
    answered = await tenant.customers["clinic"].peers.AnswerIntroduction(
        gateway_pb2.AnswerIntroductionRequest(
            introduction_id=introduction.introduction_id, accept=True
        )
    )
    assert answered.introduction.status == domain_pb2.INTRODUCTION_STATUS_ACCEPTED
    mine = await tenant.customers["bakery"].peers.ListIntroductions(
        gateway_pb2.ListIntroductionsRequest()
    )
    assert [i.introduction_id for i in mine.introductions] == [introduction.introduction_id]
    # An organization that does not endorse an idea sees none of its peers.
    other = (await tenant.customers["bank"].ideas.SubmitIdea(submission("Other"))).idea
    error = await refused(
        tenant.customers["lab"].peers.ListPeers(gateway_pb2.ListPeersRequest(idea_id=other.id))
    )
    assert error.code() in (grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.NOT_FOUND)


async def test_scorecards_match_a_scripted_history(tenant: Tenant) -> None:
    # bakery submits two ideas; one advances, one is declined. clinic endorses both.
    first = (await tenant.customers["bakery"].ideas.SubmitIdea(submission("First"))).idea
    second = (await tenant.customers["bakery"].ideas.SubmitIdea(submission("Second"))).idea
    await endorse(tenant, first.id, "clinic", "bank")
    await endorse(tenant, second.id, "clinic")

    async def ready() -> bool:
        one = await idea_state(tenant, first.id)
        two = await idea_state(tenant, second.id)
        return one.next_gate_holds and two.organization_count == 2

    await until(ready, "both ideas recorded, the first gate open")
    await tenant.pm.gates.AdvanceStage(
        gateway_pb2.AdvanceStageRequest(idea_id=first.id, target_stage="DISCOVERY")
    )
    await refused(
        tenant.pm.gates.AdvanceStage(
            gateway_pb2.AdvanceStageRequest(idea_id=second.id, target_stage="DISCOVERY")
        )
    )
    await tenant.pm.gates.DeclineIdea(
        gateway_pb2.DeclineIdeaRequest(idea_id=second.id, reason="Covered by the export roadmap")
    )
    solo = (await tenant.customers["megacorp"].ideas.SubmitIdea(submission("Solo"))).idea

    async def solo_recorded() -> bool:
        return (await idea_state(tenant, solo.id)).stage == "IDEATION"

    await until(solo_recorded, "the solo idea recorded")
    await refused(
        tenant.pm.gates.AdvanceStage(
            gateway_pb2.AdvanceStageRequest(idea_id=solo.id, target_stage="DISCOVERY")
        )
    )
    bakery = (
        await tenant.pm.insights.GetOrganizationScorecard(
            gateway_pb2.GetOrganizationScorecardRequest(organization_id="bakery")
        )
    ).scorecard
    assert (bakery.submitted, bakery.endorsed, bakery.launched, bakery.declined_with_reason) == (
        2,
        2,
        0,
        1,
    )
    assert bakery.decisions == 2  # one advance, one decline
    assert 0 <= bakery.median_days_to_decision < 0.01  # minutes, in days
    own = (
        await tenant.customers["clinic"].insights.GetOrganizationScorecard(
            gateway_pb2.GetOrganizationScorecardRequest()
        )
    ).scorecard
    assert (own.organization_id, own.submitted, own.endorsed) == ("clinic", 0, 2)
    tenant_card = (
        await tenant.pm.insights.GetTenantScorecard(gateway_pb2.GetTenantScorecardRequest())
    ).scorecard
    # The second idea (bakery + clinic) had two backers; only "Solo" was one customer.
    assert tenant_card.single_customer_ideas_stopped == 1
    assert tenant_card.overrides == 0


async def test_what_if_changes_nothing(tenant: Tenant, running: platform.Platform) -> None:
    idea = (await tenant.customers["bakery"].ideas.SubmitIdea(submission())).idea
    await endorse(tenant, idea.id, "clinic", "bank")

    async def open_gate() -> bool:
        return (await idea_state(tenant, idea.id)).next_gate_holds

    await until(open_gate, "the gate opening")
    await tenant.pm.gates.AdvanceStage(
        gateway_pb2.AdvanceStageRequest(idea_id=idea.id, target_stage="DISCOVERY")
    )
    other = (await tenant.customers["shop"].ideas.SubmitIdea(submission("Other"))).idea
    await endorse(tenant, other.id, "lab")

    async def two() -> bool:
        # What-if judges the stage ledger's evidence, which follows through Kafka.
        return await customers_counted(tenant.pm.gates, other.id) == 2

    await until(two, "the other idea's endorsements in the ledger")
    before = await settled(running)
    answer = await tenant.pm.insights.WhatIf(
        gateway_pb2.WhatIfRequest(
            draft=domain_pb2.GatePolicy(
                stage="DISCOVERY", min_customers=2, weighting=domain_pb2.WEIGHTING_EQUAL
            )
        )
    )
    assert [v.idea_id for v in answer.would_open] == [other.id]
    assert answer.past_advances_checked == 1
    stricter = await tenant.pm.insights.WhatIf(
        gateway_pb2.WhatIfRequest(
            draft=domain_pb2.GatePolicy(
                stage="DISCOVERY", min_customers=5, weighting=domain_pb2.WEIGHTING_EQUAL
            )
        )
    )
    assert [r.idea_id for r in stricter.past_advances_refused] == [idea.id]
    assert "needs 2 more customers" in stricter.past_advances_refused[0].summary
    assert await fingerprint(running) == before


# Plumbing that moves on by itself after a commit (relay marks, dedupe records).
PLUMBING = {"outbox", "processed_events"}


async def settled(running: platform.Platform) -> str:
    """The fingerprint once nothing is left to publish or to consume (the bench's probe:
    every outbox empty, every consumer group at its topics' ends, seen twice)."""
    probe = Probe(
        running.mongodb_uri,
        running.database_prefix,
        running.kafka_bootstrap_servers,
        running.topic_prefix,
    )
    await probe.start()
    try:
        await probe.wait_quiet(within=60)
    finally:
        await probe.close()
    return await fingerprint(running)


async def fingerprint(running: platform.Platform) -> str:
    """A digest of every domain document of the validation and ideas databases."""
    env = running.env()
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(env["MONGODB_URI"])
    digest = hashlib.sha256()
    try:
        for service in ("validation", "ideas"):
            database = client[env[f"{service.upper()}_MONGODB_DATABASE"]]
            for name in sorted(set(await database.list_collection_names()) - PLUMBING):
                async for doc in database[name].find({}, sort=[("_id", 1)]):
                    digest.update(repr(sorted(doc.items())).encode())
    finally:
        await client.close()
    return digest.hexdigest()

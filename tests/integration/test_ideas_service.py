"""The ideas service's writes against the real broker and MongoDB: submit, endorse,
withdraw, merge and optimistic versioning (the service: support/ideas_service.py).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import grpc
import pytest

from quorum.domain.v1 import domain_pb2
from quorum.events.v1 import events_pb2
from quorum.ideas.v1 import ideas_pb2
from support.ideas_merges import merge
from support.ideas_service import (
    BETA,
    CRITICAL,
    MERGED,
    NICE,
    OPEN,
    PREORDER,
    Running,
    backing,
    endorse_idea,
    endorsed_by,
    events_of,
    get,
    kind,
    member,
    submit,
)
from support.statuses import bad_field_names

pytestmark = pytest.mark.integration

# --- submit ------------------------------------------------------------------------------


async def test_a_request_id_is_its_submitters_own_and_never_answers_another_body(
    ideas: Running, tenant: str
) -> None:
    ana = await submit(ideas, tenant, by=("acme", "ana"), request_id="ticket-1", title="A")
    # Another customer's same request id is another request: its own idea, its own text.
    bo = await submit(ideas, tenant, by=("globex", "bo"), request_id="ticket-1", title="B")
    assert bo.id != ana.id
    assert (bo.title, bo.submitted_by.organization_id) == ("B", "globex")
    # The same submitter retrying the same body gets the idea it made.
    again = await submit(ideas, tenant, by=("acme", "ana"), request_id="ticket-1", title="A")
    assert again.id == ana.id
    # …and with another body is refused, naming the request id, never answered.
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await submit(ideas, tenant, by=("acme", "ana"), request_id="ticket-1", title="C")
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert bad_field_names(raised.value) == {"request_id"}
    assert (await get(ideas, ana)).title == "A"


async def test_concurrent_retries_of_one_request_make_one_idea(ideas: Running, tenant: str) -> None:
    made = await asyncio.gather(
        *(submit(ideas, tenant, by=("acme", "ana"), request_id="ticket-2") for _ in range(6))
    )
    assert len({idea.id for idea in made}) == 1


# --- endorse ---------------------------------------------------------------------------


async def test_endorsing_publishes_the_organizations_counted_endorsement(
    ideas: Running, tenant: str
) -> None:
    idea = await submit(ideas, tenant)

    answer = await endorse_idea(
        ideas, idea, "globex", "gil", CRITICAL, impact="Saves a day a month", commitments=[BETA]
    )

    assert answer.changed
    assert answer.idea.version == 2
    assert answer.organization_endorsement.organization_id == "globex"
    assert answer.organization_endorsement.importance == CRITICAL
    assert (answer.idea.organization_count, answer.idea.endorsement_count) == (2, 2)
    assert [e.organization_id for e in await backing(ideas, idea)] == ["acme", "globex"]
    events = await events_of(ideas, idea.id, endorsed_by("gil"))
    assert [kind(e) for e in events] == ["idea_submitted", "idea_endorsed"]
    endorsed = events[-1].idea_endorsed
    assert endorsed.member.organization_id == "globex"
    assert endorsed.importance == CRITICAL
    assert endorsed.impact == "Saves a day a month"
    assert list(endorsed.commitments) == [BETA]
    assert endorsed.idea_version == 2
    assert endorsed.organization_count == 2
    counted = endorsed.organization_endorsement
    assert (counted.organization_id, counted.importance, counted.member_count) == (
        "globex",
        CRITICAL,
        1,
    )
    assert events[-1].envelope.tenant_id == tenant
    assert events[-1].envelope.producer == "ideas"


async def test_endorsing_again_identically_publishes_nothing_and_keeps_the_version(
    ideas: Running, tenant: str
) -> None:
    idea = await submit(ideas, tenant)
    first = await endorse_idea(ideas, idea, "globex", "gil", CRITICAL, commitments=[BETA])

    again = await endorse_idea(ideas, idea, "globex", "gil", CRITICAL, commitments=[BETA])

    assert not again.changed
    assert again.idea.version == first.idea.version == 2
    assert again.organization_endorsement == first.organization_endorsement
    # A later endorsement on the same idea marks the end of what the repeat could publish.
    await endorse_idea(ideas, idea, "initech", "ian")
    events = await events_of(ideas, idea.id, endorsed_by("ian"))
    assert [kind(e) for e in events] == ["idea_submitted", "idea_endorsed", "idea_endorsed"]
    assert [e.idea_endorsed.idea_version for e in events[1:]] == [2, 3]


async def test_two_members_of_one_organization_count_once(ideas: Running, tenant: str) -> None:
    idea = await submit(ideas, tenant, by=("acme", "ana"), importance=NICE)

    answer = await endorse_idea(ideas, idea, "acme", "bo", CRITICAL, commitments=[PREORDER])

    (acme,) = await backing(ideas, idea)
    assert answer.organization_endorsement == acme
    assert (answer.idea.organization_count, answer.idea.endorsement_count) == (1, 2)
    assert (acme.organization_id, acme.importance, acme.member_count) == ("acme", CRITICAL, 2)
    assert list(acme.commitments) == [PREORDER]
    events = await events_of(ideas, idea.id, endorsed_by("bo"))
    counted = events[-1].idea_endorsed.organization_endorsement
    assert (counted.importance, counted.member_count) == (CRITICAL, 2)


async def test_bad_endorsements_name_every_field_and_unknown_ideas_are_not_found(
    ideas: Running, tenant: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await ideas.stub.EndorseIdea(
            ideas_pb2.EndorseIdeaRequest(
                tenant_id=tenant,
                idea_id="nope",
                member=member("", "gil"),
                impact="x" * 2001,
                commitments=[domain_pb2.COMMITMENT_UNSPECIFIED],
            )
        )
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert bad_field_names(raised.value) == {
        "idea_id",
        "member.organization_id",
        "importance",
        "impact",
        "commitments[0]",
    }

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await endorse_idea(ideas, ideas_pb2.Idea(tenant_id=tenant, id=str(uuid.uuid4())), "a", "b")
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND

    # Another tenant's idea does not exist for this one.
    idea = await submit(ideas, tenant)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await endorse_idea(ideas, ideas_pb2.Idea(tenant_id="someone-else", id=idea.id), "a", "b")
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


# --- withdraw ---------------------------------------------------------------------------


async def test_withdrawing_publishes_what_the_organization_still_counts_as(
    ideas: Running, tenant: str
) -> None:
    idea = await submit(ideas, tenant, by=("acme", "ana"), importance=NICE)
    await endorse_idea(ideas, idea, "acme", "bo", CRITICAL)
    await endorse_idea(ideas, idea, "globex", "gil")

    bo_gone = await ideas.stub.WithdrawEndorsement(
        ideas_pb2.WithdrawEndorsementRequest(
            tenant_id=tenant, idea_id=idea.id, member=member("acme", "bo")
        )
    )
    assert bo_gone.organization_endorsement.importance == NICE
    assert bo_gone.organization_endorsement.member_count == 1
    gil_gone = await ideas.stub.WithdrawEndorsement(
        ideas_pb2.WithdrawEndorsementRequest(
            tenant_id=tenant, idea_id=idea.id, member=member("globex", "gil")
        )
    )
    assert not gil_gone.HasField("organization_endorsement")
    assert [e.organization_id for e in await backing(ideas, idea)] == ["acme"]
    assert (gil_gone.idea.organization_count, gil_gone.idea.endorsement_count) == (1, 1)
    assert gil_gone.idea.version == 5

    def withdrawn_by(who: str) -> Callable[[events_pb2.Event], bool]:
        return lambda e: (
            kind(e) == "endorsement_withdrawn" and e.endorsement_withdrawn.member.member_id == who
        )

    events = await events_of(ideas, idea.id, withdrawn_by("gil"))
    bo, gil = [e.endorsement_withdrawn for e in events if kind(e) == "endorsement_withdrawn"]
    assert (bo.organization_id, bo.idea_version) == ("acme", 4)
    assert bo.organization_endorsement.importance == NICE
    assert (gil.organization_id, gil.idea_version, gil.organization_count) == ("globex", 5, 1)
    assert not gil.HasField("organization_endorsement")

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await ideas.stub.WithdrawEndorsement(
            ideas_pb2.WithdrawEndorsementRequest(
                tenant_id=tenant, idea_id=idea.id, member=member("globex", "gil")
            )
        )
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


# --- merge --------------------------------------------------------------------------------


async def test_merging_carries_endorsements_over_one_per_organization(
    ideas: Running, tenant: str
) -> None:
    source = await submit(ideas, tenant, by=("initech", "ian"), title="CSV export of gates")
    await endorse_idea(ideas, source, "acme", "bo", CRITICAL, commitments=[BETA])
    target = await submit(ideas, tenant, by=("acme", "ana"), importance=NICE)
    await endorse_idea(ideas, target, "globex", "gil")
    actor = domain_pb2.Actor(principal_id="pm-1", role="PRODUCT_MANAGER")

    answer = await ideas.stub.MergeIdeas(
        ideas_pb2.MergeIdeasRequest(
            tenant_id=tenant,
            source_idea_id=source.id,
            target_idea_id=target.id,
            actor=actor,
            expected_version=2,
            expected_source_version=2,
        )
    )

    counted = {e.organization_id: e for e in await backing(ideas, target)}
    assert sorted(counted) == ["acme", "globex", "initech"]
    assert (answer.target.organization_count, answer.target.endorsement_count) == (3, 4)
    assert (counted["acme"].importance, counted["acme"].member_count) == (CRITICAL, 2)
    assert list(counted["acme"].commitments) == [BETA]
    assert answer.target.version == 3
    assert (answer.source.status, answer.source.merged_into) == (MERGED, target.id)
    assert answer.source.version == 3
    assert [(m.organization_id, m.member_id) for m in answer.carried_members] == [
        ("acme", "bo"),
        ("initech", "ian"),
    ]
    assert (await get(ideas, source)).merged_into == target.id

    events = await events_of(ideas, target.id, lambda e: kind(e) == "ideas_merged")
    merged = events[-1]
    assert merged.envelope.idea_id == target.id
    payload = merged.ideas_merged
    assert (payload.source_idea_id, payload.target_idea_id) == (source.id, target.id)
    # Only the organizations that moved: globex, on the target alone, is unchanged.
    assert list(payload.target_endorsements) == [counted["acme"], counted["initech"]]
    assert list(payload.carried_members) == list(answer.carried_members)
    assert (payload.part, payload.parts, payload.organization_count) == (1, 1, 3)
    assert payload.actor == actor
    assert payload.idea_version == 3

    # The merged idea takes no more endorsements and says where they go instead.
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await endorse_idea(ideas, source, "hooli", "hal")
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert target.id in (raised.value.details() or "")


async def test_merge_refuses_what_cannot_be_merged(ideas: Running, tenant: str) -> None:
    one = await submit(ideas, tenant)
    other = await submit(ideas, tenant)

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await merge(ideas, tenant, one.id, one.id, principal_id="")
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    # Who merges is checked with the tenant, first (quorum_common.callers).
    assert bad_field_names(raised.value) == {"actor.principal_id"}
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await merge(ideas, tenant, one.id, one.id)
    assert bad_field_names(raised.value) == {"target_idea_id"}

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await merge(ideas, tenant, one.id, str(uuid.uuid4()))
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await merge(ideas, "someone-else", one.id, other.id)
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND

    await merge(ideas, tenant, one.id, other.id)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await merge(ideas, tenant, one.id, other.id)
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert other.id in (raised.value.details() or "")


# --- optimistic versioning --------------------------------------------------------------


async def test_a_stale_expected_version_is_aborted_naming_the_current_one(
    ideas: Running, tenant: str
) -> None:
    idea = await submit(ideas, tenant)
    await endorse_idea(ideas, idea, "globex", "gil", expected_version=1)

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await endorse_idea(ideas, idea, "initech", "ian", expected_version=1)
    assert raised.value.code() == grpc.StatusCode.ABORTED
    assert "version 2" in (raised.value.details() or "")

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await ideas.stub.WithdrawEndorsement(
            ideas_pb2.WithdrawEndorsementRequest(
                tenant_id=tenant,
                idea_id=idea.id,
                member=member("globex", "gil"),
                expected_version=1,
            )
        )
    assert raised.value.code() == grpc.StatusCode.ABORTED

    other = await submit(ideas, tenant)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await merge(ideas, tenant, other.id, idea.id, expected_version=1)
    assert raised.value.code() == grpc.StatusCode.ABORTED
    assert (await get(ideas, idea)).version == 2
    assert (await get(ideas, other)).status == OPEN


async def test_concurrent_endorsements_lose_nothing_and_expected_versions_admit_one(
    ideas: Running, tenant: str
) -> None:
    idea = await submit(ideas, tenant)
    orgs = [f"org-{n}" for n in range(8)]

    await asyncio.gather(*(endorse_idea(ideas, idea, org, "someone") for org in orgs))

    after = await get(ideas, idea)
    assert after.version == 1 + len(orgs)
    assert after.organization_count == 1 + len(orgs)
    assert len(await backing(ideas, idea)) == 1 + len(orgs)

    racers = [f"racer-{n}" for n in range(5)]
    outcomes = await asyncio.gather(
        *(
            endorse_idea(ideas, idea, org, "someone", expected_version=after.version)
            for org in racers
        ),
        return_exceptions=True,
    )
    winners = [o for o in outcomes if isinstance(o, ideas_pb2.EndorseIdeaResponse)]
    losers = [o for o in outcomes if isinstance(o, grpc.aio.AioRpcError)]
    assert len(winners) == 1
    assert len(losers) == len(racers) - 1
    assert {loser.code() for loser in losers} == {grpc.StatusCode.ABORTED}
    assert (await get(ideas, idea)).version == after.version + 1

"""The ideas service in process, against the real broker and MongoDB.

One service per module (its own topics and database); each test works in its own
tenant, so tests never see each other's ideas. Calls go over a real gRPC server,
so errors arrive as the status codes the gateway sees. Published events are read
back from Kafka; validation events are published to Kafka for the projection.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import grpc
import pytest
from aiokafka import AIOKafkaConsumer
from conftest import Isolation
from faststream.kafka import KafkaBroker
from google.rpc import error_details_pb2, status_pb2
from pymongo.asynchronous.database import AsyncDatabase

from quorum.domain.v1 import domain_pb2
from quorum.events.v1 import events_pb2
from quorum.ideas.v1 import ideas_pb2, ideas_pb2_grpc
from quorum_common.consumer import EventConsumer
from quorum_common.events import Topics, headers, new_event
from quorum_common.grpc_server import GrpcServer
from quorum_common.kafka import RelayProducer, ensure_topics, make_broker
from quorum_common.mongo import Document, connect
from quorum_common.outbox import Outbox
from quorum_common.processed import PROCESSED
from quorum_devtools.infra import IDLE_PAUSE_MAX_MS
from quorum_ideas.__main__ import CONSUMER, SERVICE
from quorum_ideas.api import IdeasApi
from quorum_ideas.store import PROJECTED, IdeaStore
from support.servers import Servers

if TYPE_CHECKING:
    from quorum.ideas.v1.ideas_pb2_grpc import IdeasServiceAsyncStub

pytestmark = pytest.mark.integration

T = TypeVar("T")
WITHIN = 30.0
OPEN = domain_pb2.IDEA_STATUS_OPEN
MERGED = domain_pb2.IDEA_STATUS_MERGED
DECLINED = domain_pb2.IDEA_STATUS_DECLINED
LAUNCHED = domain_pb2.IDEA_STATUS_LAUNCHED
NICE = domain_pb2.IMPORTANCE_NICE_TO_HAVE
IMPORTANT = domain_pb2.IMPORTANCE_IMPORTANT
CRITICAL = domain_pb2.IMPORTANCE_CRITICAL
BETA = domain_pb2.COMMITMENT_BETA_TESTER
PREORDER = domain_pb2.COMMITMENT_PREORDER


@dataclass(frozen=True)
class Running:
    stub: IdeasServiceAsyncStub
    topics: Topics
    bootstrap_servers: str
    broker: KafkaBroker
    database: AsyncDatabase[Document]


@pytest.fixture(scope="module")
async def ideas(infra: Servers) -> AsyncIterator[Running]:
    """The ideas service as `__main__` wires it, on a free port, with its own names."""
    isolation = Isolation(uuid.uuid4().hex[:12])
    topics = Topics(isolation.topic_prefix)
    bootstrap = infra.kafka_bootstrap_servers
    client = await connect(infra.mongodb_uri, 10.0)
    database = client[isolation.database("ideas")]
    await ensure_topics(
        bootstrap, [topics.ideas, topics.validation, topics.dead_letter(CONSUMER)], 10.0
    )
    outbox = Outbox(database, topics.ideas)
    store = IdeaStore(client, database, outbox)
    await store.prepare()
    broker = make_broker(bootstrap, "ideas-test")
    await broker.start()
    dead_letters = RelayProducer(bootstrap, "ideas-test-dead-letters")
    consumer = EventConsumer(
        name=CONSUMER,
        bootstrap_servers=bootstrap,
        dead_letters=dead_letters,
        client=client,
        database=database,
        topics=topics,
        sources=[topics.validation],
        handle=store.project,
        kinds=PROJECTED,
        idle_pause_max_ms=IDLE_PAUSE_MAX_MS,
    )
    await consumer.start()
    relay = asyncio.create_task(
        outbox.run_relay(RelayProducer(bootstrap, "ideas-test-relay")), name="outbox-relay"
    )
    server = GrpcServer("127.0.0.1", 0, [SERVICE])
    ideas_pb2_grpc.add_IdeasServiceServicer_to_server(IdeasApi(store), server.server)
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")
    try:
        yield Running(
            stub=ideas_pb2_grpc.IdeasServiceStub(channel),
            topics=topics,
            bootstrap_servers=bootstrap,
            broker=broker,
            database=database,
        )
    finally:
        await channel.close()
        await server.stop(0)
        await consumer.stop()
        await dead_letters.stop()
        relay.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await relay
        await broker.stop()
        await client.drop_database(database.name)
        await client.close()


@pytest.fixture
def tenant() -> str:
    return f"tenant-{uuid.uuid4().hex[:8]}"


# --- helpers ------------------------------------------------------------------------


def member(org: str, who: str) -> domain_pb2.MemberRef:
    return domain_pb2.MemberRef(organization_id=org, member_id=who)


async def submit(
    running: Running,
    tenant: str,
    *,
    by: tuple[str, str] = ("acme", "ana"),
    importance: domain_pb2.Importance.ValueType = IMPORTANT,
    **overrides: Any,
) -> ideas_pb2.Idea:
    fields: dict[str, Any] = {
        "tenant_id": tenant,
        "title": "Export gate reports to CSV",
        "problem": "Our portfolio board reviews gate decisions in spreadsheets.",
        "product_area": "reporting",
        "tags": ["export"],
        "source_channel": domain_pb2.SOURCE_CHANNEL_PORTAL,
        "submitted_by": member(*by),
        "importance": importance,
    }
    fields.update(overrides)
    answer = await running.stub.SubmitIdea(ideas_pb2.SubmitIdeaRequest(**fields))
    return answer.idea


async def endorse_idea(
    running: Running,
    idea: ideas_pb2.Idea,
    org: str,
    who: str,
    importance: domain_pb2.Importance.ValueType = IMPORTANT,
    **fields: Any,
) -> ideas_pb2.EndorseIdeaResponse:
    return await running.stub.EndorseIdea(
        ideas_pb2.EndorseIdeaRequest(
            tenant_id=idea.tenant_id,
            idea_id=idea.id,
            member=member(org, who),
            importance=importance,
            **fields,
        )
    )


async def backing(
    running: Running, idea: ideas_pb2.Idea
) -> list[domain_pb2.OrganizationEndorsement]:
    """Every organization's counted endorsement of the idea, page by page."""
    request = ideas_pb2.ListEndorsementsRequest(
        tenant_id=idea.tenant_id, idea_id=idea.id, page_size=2
    )
    found: list[domain_pb2.OrganizationEndorsement] = []
    while True:
        answer = await running.stub.ListEndorsements(request)
        found.extend(answer.endorsements)
        if not answer.next_page_token:
            assert answer.organization_count == len(found)
            return found
        request.page_token = answer.next_page_token


async def get(running: Running, idea: ideas_pb2.Idea) -> ideas_pb2.Idea:
    answer = await running.stub.GetIdea(
        ideas_pb2.GetIdeaRequest(tenant_id=idea.tenant_id, idea_id=idea.id)
    )
    return answer.idea


async def eventually(
    check: Callable[[], Awaitable[T | None]], what: str, within: float = WITHIN
) -> T:
    """Poll until `check` returns something; effects through Kafka are asynchronous."""
    deadline = time.monotonic() + within
    while True:
        found = await check()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {within:.0f}s")
        await asyncio.sleep(0.05)


async def records_until(
    running: Running, topic: str, done: Callable[[list[Any]], bool]
) -> list[Any]:
    """Every record of `topic` from the start, read until `done` holds."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=running.bootstrap_servers.split(","),
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[Any] = []
    try:
        deadline = time.monotonic() + WITHIN
        while not done(records):
            if time.monotonic() > deadline:
                raise AssertionError(f"{topic}: expected records not within {WITHIN:.0f}s")
            batches = await consumer.getmany(timeout_ms=200)
            for batch in batches.values():
                records.extend(batch)
    finally:
        await consumer.stop()
    return records


async def events_of(
    running: Running, idea_id: str, until: Callable[[events_pb2.Event], bool]
) -> list[events_pb2.Event]:
    """The idea's published events in order, up to and including the first `until`.

    One idea's events share a key, hence a partition, hence their order: an event
    published after `until` cannot be missed, nor one before it be late.
    """

    def mine(records: list[Any]) -> list[events_pb2.Event]:
        events = [events_pb2.Event.FromString(r.value) for r in records]
        return [e for e in events if e.envelope.idea_id == idea_id]

    records = await records_until(
        running, running.topics.ideas, lambda rs: any(until(e) for e in mine(rs))
    )
    events = mine(records)
    last = next(i for i, e in enumerate(events) if until(e))
    return events[: last + 1]


def kind(event: events_pb2.Event) -> str:
    return event.WhichOneof("payload") or ""


def endorsed_by(who: str) -> Callable[[events_pb2.Event], bool]:
    return lambda e: kind(e) == "idea_endorsed" and e.idea_endorsed.member.member_id == who


def bad_fields(error: grpc.aio.AioRpcError) -> set[str]:
    details = dict(error.trailing_metadata() or ())["grpc-status-details-bin"]
    status = status_pb2.Status.FromString(details)
    bad_request = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad_request)
    return {v.field for v in bad_request.field_violations}


async def publish_validation(running: Running, event: events_pb2.Event) -> None:
    await running.broker.publish(
        event.SerializeToString(),
        topic=running.topics.validation,
        key=event.envelope.idea_id.encode(),
        headers=headers(event),
    )


def stage_advanced(
    idea: ideas_pb2.Idea,
    from_stage: str,
    to_stage: str,
    status: domain_pb2.IdeaStatus.ValueType = OPEN,
) -> events_pb2.Event:
    event = new_event(tenant_id=idea.tenant_id, idea_id=idea.id, producer="validation")
    event.stage_advanced.from_stage = from_stage
    event.stage_advanced.to_stage = to_stage
    event.stage_advanced.status = status
    return event


def idea_declined(idea: ideas_pb2.Idea, stage: str) -> events_pb2.Event:
    event = new_event(tenant_id=idea.tenant_id, idea_id=idea.id, producer="validation")
    event.idea_declined.stage = stage
    event.idea_declined.reason = "Out of the product's scope for the next two years."
    return event


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
    assert bad_fields(raised.value) == {"request_id"}
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
    assert bad_fields(raised.value) == {
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

    async def merge(source: str, target: str, **fields: Any) -> ideas_pb2.MergeIdeasResponse:
        return await ideas.stub.MergeIdeas(
            ideas_pb2.MergeIdeasRequest(
                tenant_id=fields.pop("tenant_id", tenant),
                source_idea_id=source,
                target_idea_id=target,
                actor=domain_pb2.Actor(principal_id=fields.pop("principal_id", "pm-1")),
                **fields,
            )
        )

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await merge(one.id, one.id, principal_id="")
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert bad_fields(raised.value) == {"target_idea_id", "actor.principal_id"}

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await merge(one.id, str(uuid.uuid4()))
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await merge(one.id, other.id, tenant_id="someone-else")
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND

    await merge(one.id, other.id)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await merge(one.id, other.id)
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
        await ideas.stub.MergeIdeas(
            ideas_pb2.MergeIdeasRequest(
                tenant_id=tenant,
                source_idea_id=other.id,
                target_idea_id=idea.id,
                actor=domain_pb2.Actor(principal_id="pm-1"),
                expected_version=1,
            )
        )
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


# --- list -----------------------------------------------------------------------------------


async def list_pages(running: Running, **fields: Any) -> list[list[ideas_pb2.Idea]]:
    """Every page of one listing, following next_page_token to the end."""
    request = ideas_pb2.ListIdeasRequest(**fields)
    pages = []
    while True:
        answer = await running.stub.ListIdeas(request)
        pages.append(list(answer.ideas))
        if not answer.next_page_token:
            return pages
        request.page_token = answer.next_page_token


def ids(ideas: list[ideas_pb2.Idea]) -> list[str]:
    return [idea.id for idea in ideas]


def newest_first(ideas: list[ideas_pb2.Idea]) -> list[str]:
    ordered = sorted(ideas, key=lambda i: (i.created_at.ToDatetime(), i.id), reverse=True)
    return ids(ordered)


async def test_listing_pages_through_the_tenants_ideas_newest_first(
    ideas: Running, tenant: str
) -> None:
    submitted = [
        await submit(ideas, tenant, title=f"Idea number {n}", tags=[f"t{n % 2}"]) for n in range(7)
    ]
    await submit(ideas, f"{tenant}-other")  # never listed for this tenant

    pages = await list_pages(ideas, tenant_id=tenant, page_size=3)

    assert [len(page) for page in pages] == [3, 3, 1]
    assert [i for page in pages for i in ids(page)] == newest_first(submitted)
    everything = await ideas.stub.ListIdeas(ideas_pb2.ListIdeasRequest(tenant_id=tenant))
    assert ids(list(everything.ideas)) == newest_first(submitted)
    assert not everything.next_page_token

    # Ideas submitted after the first page do not shift the pages that follow.
    first = await ideas.stub.ListIdeas(ideas_pb2.ListIdeasRequest(tenant_id=tenant, page_size=4))
    await submit(ideas, tenant, title="A late idea")
    rest = await ideas.stub.ListIdeas(
        ideas_pb2.ListIdeasRequest(tenant_id=tenant, page_size=4, page_token=first.next_page_token)
    )
    assert ids(list(first.ideas)) + ids(list(rest.ideas)) == newest_first(submitted)


async def test_listing_filters_by_tag_product_area_status_and_stage(
    ideas: Running, tenant: str
) -> None:
    csv = await submit(ideas, tenant, tags=["Export", "csv"], product_area="reporting")
    sso = await submit(ideas, tenant, tags=["auth"], product_area="security")
    pdf = await submit(ideas, tenant, tags=["export"], product_area="reporting")
    await ideas.stub.MergeIdeas(
        ideas_pb2.MergeIdeasRequest(
            tenant_id=tenant,
            source_idea_id=pdf.id,
            target_idea_id=csv.id,
            actor=domain_pb2.Actor(principal_id="pm-1"),
        )
    )

    async def listed(**filters: Any) -> list[str]:
        pages = await list_pages(ideas, tenant_id=tenant, page_size=1, **filters)
        return [i for page in pages for i in ids(page)]

    assert await listed(tag="EXPORT") == [pdf.id, csv.id]
    assert await listed(tag="auth") == [sso.id]
    assert await listed(product_area="security") == [sso.id]
    assert await listed(status=MERGED) == [pdf.id]
    assert await listed(status=OPEN, tag="export") == [csv.id]
    assert await listed(tag="nothing-has-this") == []

    await publish_validation(ideas, stage_advanced(sso, "", "IDEATION"))
    await publish_validation(ideas, stage_advanced(sso, "IDEATION", "DISCOVERY"))

    async def in_discovery() -> list[str] | None:
        found = await listed(stage="DISCOVERY")
        return found or None

    assert await eventually(in_discovery, "the projected stage") == [sso.id]
    assert await listed(stage="IDEATION") == []


async def test_a_bad_page_token_is_invalid_argument_naming_it(ideas: Running, tenant: str) -> None:
    for _ in range(3):
        await submit(ideas, tenant, tags=["export"])
    first = await ideas.stub.ListIdeas(
        ideas_pb2.ListIdeasRequest(tenant_id=tenant, tag="export", page_size=1)
    )
    for request in (
        ideas_pb2.ListIdeasRequest(tenant_id=tenant, page_token="garbage"),
        # A token continues the listing it came from, not another one.
        ideas_pb2.ListIdeasRequest(tenant_id=tenant, page_token=first.next_page_token),
        ideas_pb2.ListIdeasRequest(tenant_id=tenant, page_size=-1),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await ideas.stub.ListIdeas(request)
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert bad_fields(raised.value) <= {"page_token", "page_size"}
        assert bad_fields(raised.value)


# --- stage and status projection ----------------------------------------------------------


async def test_stage_events_project_onto_the_idea_and_redelivery_changes_nothing(
    ideas: Running, tenant: str
) -> None:
    idea = await submit(ideas, tenant)
    recorded = stage_advanced(idea, "", "IDEATION")
    discovery = stage_advanced(idea, "IDEATION", "DISCOVERY")

    await publish_validation(ideas, recorded)
    await publish_validation(ideas, recorded)
    await publish_validation(ideas, discovery)
    # Delivered again after a later event: applied twice, it would move the idea back.
    await publish_validation(ideas, recorded)
    await publish_validation(ideas, idea_declined(idea, "DISCOVERY"))

    async def declined() -> ideas_pb2.Idea | None:
        current = await get(ideas, idea)
        return current if current.status == DECLINED else None

    after = await eventually(declined, "the decline")
    assert after.stage == "DISCOVERY"
    # The projection serves reads; it does not make callers' expected_version stale.
    assert after.version == idea.version
    processed = ideas.database[PROCESSED]
    assert await processed.count_documents({"_id": recorded.envelope.event_id}) == 1

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await endorse_idea(ideas, idea, "globex", "gil")
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_a_launch_sets_the_status_and_a_merge_is_never_undone(
    ideas: Running, tenant: str
) -> None:
    launched = await submit(ideas, tenant)
    source = await submit(ideas, tenant)
    target = await submit(ideas, tenant)
    await ideas.stub.MergeIdeas(
        ideas_pb2.MergeIdeasRequest(
            tenant_id=tenant,
            source_idea_id=source.id,
            target_idea_id=target.id,
            actor=domain_pb2.Actor(principal_id="pm-1"),
        )
    )

    await publish_validation(ideas, stage_advanced(launched, "BETA", "LAUNCH", LAUNCHED))
    # The ledger may record an idea after it was merged here: the merge stands.
    await publish_validation(ideas, stage_advanced(source, "", "IDEATION", OPEN))

    async def projected(idea: ideas_pb2.Idea) -> ideas_pb2.Idea | None:
        current = await get(ideas, idea)
        return current if current.stage else None

    assert (await eventually(lambda: projected(launched), "launch")).status == LAUNCHED
    merged = await eventually(lambda: projected(source), "stage of the merged idea")
    assert (merged.status, merged.stage) == (MERGED, "IDEATION")


async def test_a_poison_event_is_dead_lettered_and_the_next_one_applied(
    ideas: Running, tenant: str
) -> None:
    idea = await submit(ideas, tenant)
    nameless = stage_advanced(idea, "IDEATION", "")
    await ideas.broker.publish(
        b"\x00not an event", topic=ideas.topics.validation, key=idea.id.encode()
    )
    await publish_validation(ideas, nameless)
    await publish_validation(ideas, stage_advanced(idea, "", "IDEATION"))

    async def recorded() -> ideas_pb2.Idea | None:
        current = await get(ideas, idea)
        return current if current.stage else None

    assert (await eventually(recorded, "the good event")).stage == "IDEATION"

    def reasons(records: list[Any]) -> list[str]:
        found = []
        for record in records:
            found += [
                value.decode()
                for key, value in record.headers
                if key == "quorum-dlq-reason" and record.key == idea.id.encode()
            ]
        return found

    dead = await records_until(
        ideas, ideas.topics.dead_letter(CONSUMER), lambda rs: len(reasons(rs)) >= 2
    )
    found = reasons(dead)
    assert any(reason.startswith("undecodable") for reason in found)
    assert any("to_stage" in reason for reason in found)

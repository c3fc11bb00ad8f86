"""A popular idea: 20,000 endorsements endorsed, withdrawn and merged through the API.

The ideas service runs as `__main__` wires it, in this test's event loop, against the
real broker and MongoDB. The test asserts counts, never times: that every endorsement
is kept once, that the idea's answers stay small, and that a merge of a large idea is
told completely, in parts.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import pytest
from aiokafka import AIOKafkaConsumer
from conftest import Isolation

from quorum.domain.v1 import domain_pb2
from quorum.events.v1 import events_pb2
from quorum.ideas.v1 import ideas_pb2, ideas_pb2_grpc
from quorum_common.events import Topics
from quorum_devtools.infra import IDLE_PAUSE_MAX_MS
from quorum_ideas.__main__ import serve
from quorum_ideas.settings import IdeasSettings
from support.servers import Servers, free_port
from support.serving import serving

if TYPE_CHECKING:
    from quorum.ideas.v1.ideas_pb2_grpc import IdeasServiceAsyncStub

pytestmark = pytest.mark.integration

T = TypeVar("T")
TENANT = "tenant-popular"
CLIENTS = 64
ENDORSEMENTS = 20_000


@dataclass(frozen=True)
class Running:
    stub: IdeasServiceAsyncStub
    topics: Topics
    bootstrap: str


@pytest.fixture(scope="module")
async def running(infra: Servers) -> AsyncIterator[Running]:
    isolation = Isolation(uuid.uuid4().hex[:12])
    settings = IdeasSettings(
        kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
        mongodb_uri=infra.mongodb_uri,
        kafka_topic_prefix=isolation.topic_prefix,
        kafka_idle_pause_max_ms=IDLE_PAUSE_MAX_MS,
        ideas_mongodb_database=isolation.database("ideas"),
        ideas_grpc_port=free_port(),
    )
    async with serving(
        "ideas", lambda stop: serve(settings, stop), settings.ideas_grpc_port, stop_within=60
    ) as channel:
        yield Running(
            ideas_pb2_grpc.IdeasServiceStub(channel),
            Topics(isolation.topic_prefix),
            infra.kafka_bootstrap_servers,
        )


def member(n: int) -> domain_pb2.MemberRef:
    # Every fourth organization has two endorsing members.
    return domain_pb2.MemberRef(organization_id=f"org-{n * 3 // 4:05}", member_id=f"m-{n:05}")


async def in_parallel(work: Callable[[int], Awaitable[T]], count: int) -> list[T]:
    """`work(n)` for n in range(count), CLIENTS at a time."""
    results: list[T | None] = [None] * count
    queue = iter(range(count))

    async def client() -> None:
        for n in queue:
            results[n] = await work(n)

    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return [r for r in results if r is not None]


async def submit(running: Running, organization: str) -> ideas_pb2.Idea:
    answer = await running.stub.SubmitIdea(
        ideas_pb2.SubmitIdeaRequest(
            tenant_id=TENANT,
            title="Single sign-on with our identity provider",
            problem="Every customer asks for it in the renewal call.",
            product_area="security",
            source_channel=domain_pb2.SOURCE_CHANNEL_PORTAL,
            submitted_by=domain_pb2.MemberRef(organization_id=organization, member_id="founder"),
            importance=domain_pb2.IMPORTANCE_CRITICAL,
        )
    )
    return answer.idea


async def endorse(running: Running, idea_id: str, who: domain_pb2.MemberRef) -> bool:
    answer = await running.stub.EndorseIdea(
        ideas_pb2.EndorseIdeaRequest(
            tenant_id=TENANT,
            idea_id=idea_id,
            member=who,
            importance=domain_pb2.IMPORTANCE_IMPORTANT,
        ),
        timeout=60,
    )
    return answer.changed


async def every_endorsement(
    running: Running, idea_id: str
) -> list[domain_pb2.OrganizationEndorsement]:
    request = ideas_pb2.ListEndorsementsRequest(tenant_id=TENANT, idea_id=idea_id, page_size=500)
    found: list[domain_pb2.OrganizationEndorsement] = []
    while True:
        page = await running.stub.ListEndorsements(request)
        found.extend(page.endorsements)
        if not page.next_page_token:
            return found
        request.page_token = page.next_page_token


async def merge_parts(running: Running, target_id: str, parts: int) -> list[events_pb2.Event]:
    consumer = AIOKafkaConsumer(
        running.topics.ideas,
        bootstrap_servers=running.bootstrap.split(","),
        group_id=None,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    found: list[events_pb2.Event] = []
    try:
        deadline = time.monotonic() + 60
        while len(found) < parts:
            assert time.monotonic() < deadline, f"{len(found)} of {parts} merge parts"
            for batch in (await consumer.getmany(timeout_ms=500, max_records=5_000)).values():
                for record in batch:
                    event = events_pb2.Event.FromString(record.value)
                    if event.WhichOneof("payload") == "ideas_merged" and (
                        event.envelope.idea_id == target_id
                    ):
                        found.append(event)
    finally:
        await consumer.stop()
    return found


async def test_a_popular_idea_keeps_every_endorsement_once_and_stays_small(
    running: Running,
) -> None:
    idea = await submit(running, "org-founder")
    changed = await in_parallel(lambda n: endorse(running, idea.id, member(n)), ENDORSEMENTS)
    assert len(changed) == ENDORSEMENTS
    assert all(changed)

    organizations = len({member(n).organization_id for n in range(ENDORSEMENTS)}) + 1
    found = await running.stub.GetIdea(ideas_pb2.GetIdeaRequest(tenant_id=TENANT, idea_id=idea.id))
    assert found.idea.version == 1 + ENDORSEMENTS
    assert (found.idea.organization_count, found.idea.endorsement_count) == (
        organizations,
        1 + ENDORSEMENTS,
    )
    # However popular, an idea's answer is its text and its counts.
    assert found.ByteSize() < 2_048
    listed = await every_endorsement(running, idea.id)
    assert len(listed) == organizations
    assert sum(e.member_count for e in listed) == 1 + ENDORSEMENTS
    assert [e.organization_id for e in listed] == sorted(e.organization_id for e in listed)

    # Endorsing again exactly so changes nothing, also on a popular idea.
    assert not await endorse(running, idea.id, member(7))

    # Withdraw the first 1,000 members: 250 organizations lose one of two members, 500
    # organizations lose their only one (n = 0..999 are organizations 0..749).
    async def withdraw(n: int) -> ideas_pb2.WithdrawEndorsementResponse:
        return await running.stub.WithdrawEndorsement(
            ideas_pb2.WithdrawEndorsementRequest(
                tenant_id=TENANT, idea_id=idea.id, member=member(n)
            ),
            timeout=60,
        )

    withdrawn = await in_parallel(withdraw, 1_000)
    gone = {member(n).organization_id for n in range(1_000)}
    still = {member(n).organization_id for n in range(1_000, ENDORSEMENTS)}
    assert sum(1 for w in withdrawn if not w.HasField("organization_endorsement")) == len(
        gone - still
    )
    after = await running.stub.GetIdea(ideas_pb2.GetIdeaRequest(tenant_id=TENANT, idea_id=idea.id))
    assert after.idea.endorsement_count == 1 + ENDORSEMENTS - 1_000
    assert after.idea.organization_count == organizations - len(gone - still)

    # A duplicate backed by 2,000 members: half of them are members already on the idea
    # (their organization counts once), half are new organizations.
    duplicate = await submit(running, "org-founder")
    overlap = [member(n) for n in range(10_000, 11_000)]
    newcomers = [
        domain_pb2.MemberRef(organization_id=f"new-{n:04}", member_id="m") for n in range(1_000)
    ]
    backers = overlap + newcomers
    await in_parallel(lambda n: endorse(running, duplicate.id, backers[n]), len(backers))

    merged = await running.stub.MergeIdeas(
        ideas_pb2.MergeIdeasRequest(
            tenant_id=TENANT,
            source_idea_id=duplicate.id,
            target_idea_id=idea.id,
            actor=domain_pb2.Actor(principal_id="pm-1", role="PRODUCT_MANAGER"),
        ),
        timeout=120,
    )

    target = merged.target
    # The overlapping members and the duplicate's founder were on the idea already.
    assert target.endorsement_count == after.idea.endorsement_count + 1_000
    assert target.organization_count == after.idea.organization_count + 1_000
    assert merged.source.status == domain_pb2.IDEA_STATUS_MERGED
    assert len(merged.carried_members) == len(backers) + 1
    listed = await every_endorsement(running, idea.id)
    assert len(listed) == target.organization_count
    assert sum(e.member_count for e in listed) == target.endorsement_count

    # Told in parts of at most 500 organizations, together naming every one that moved.
    moved = {m.organization_id for m in backers} | {"org-founder"}
    parts = await merge_parts(running, idea.id, -(-len(moved) // 500))
    assert sorted(p.ideas_merged.part for p in parts) == list(range(1, len(parts) + 1))
    assert {p.ideas_merged.parts for p in parts} == {len(parts)}
    told: set[str] = set()
    carried: list[Any] = []
    for part in parts:
        assert len(part.ideas_merged.target_endorsements) <= 500
        told |= {e.organization_id for e in part.ideas_merged.target_endorsements}
        carried.extend(part.ideas_merged.carried_members)
        assert part.ideas_merged.idea_version == target.version
        assert part.ByteSize() < 100_000
    assert told == moved
    assert len(carried) == len(backers) + 1

"""The ideas service in process for the integration tests, and what they do with it.

One service per test module (its own topics and database); each test works in its own
tenant, so tests never see each other's ideas. Calls go over a real gRPC server, so
errors arrive as the status codes the gateway sees. Published events are read back from
Kafka; validation events are published to Kafka for the projection.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from aiokafka import AIOKafkaConsumer
from conftest import Isolation
from faststream.kafka import KafkaBroker
from pymongo.asynchronous.database import AsyncDatabase

from quorum.domain.v1 import domain_pb2
from quorum.events.v1 import events_pb2
from quorum.ideas.v1 import ideas_pb2, ideas_pb2_grpc
from quorum_common.events import Topics, headers, new_event
from quorum_common.kafka import make_broker
from quorum_common.mongo import Document, connect
from quorum_devtools.infra import IDLE_PAUSE_MAX_MS
from quorum_ideas.__main__ import serve
from quorum_ideas.settings import IdeasSettings
from support import waiting
from support.servers import Servers, free_port
from support.serving import serving

if TYPE_CHECKING:
    from quorum.ideas.v1.ideas_pb2_grpc import IdeasServiceAsyncStub


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


@contextlib.asynccontextmanager
async def running_ideas(infra: Servers) -> AsyncIterator[Running]:
    """The ideas service's own `serve`, on a free port, with its own names; its database
    is dropped afterwards."""
    isolation = Isolation(uuid.uuid4().hex[:12])
    settings = IdeasSettings(
        kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
        mongodb_uri=infra.mongodb_uri,
        kafka_topic_prefix=isolation.topic_prefix,
        kafka_idle_pause_max_ms=IDLE_PAUSE_MAX_MS,
        ideas_mongodb_database=isolation.database("ideas"),
        ideas_grpc_port=free_port(),
    )
    client = await connect(infra.mongodb_uri, 10.0)
    # Validation's events, published as that service publishes them.
    broker = make_broker(infra.kafka_bootstrap_servers, "ideas-test")
    await broker.start()
    try:
        async with serving(
            "ideas", lambda stop: serve(settings, stop), settings.ideas_grpc_port
        ) as channel:
            yield Running(
                stub=ideas_pb2_grpc.IdeasServiceStub(channel),
                topics=Topics(isolation.topic_prefix),
                bootstrap_servers=infra.kafka_bootstrap_servers,
                broker=broker,
                database=client[settings.ideas_mongodb_database],
            )
    finally:
        await broker.stop()
        await client.drop_database(settings.ideas_mongodb_database)
        await client.close()


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
    return await waiting.found(check, what, within)


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

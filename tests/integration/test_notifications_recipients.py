"""The recipients projection and the fan-out against the real MongoDB.

Batches are applied as the consumer applies them (one transaction, one handler call);
the fan-out worker runs in this test's event loop, with small pages so that paging,
organizations straddling two pages and the upgrade from the old layout are exercised.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from conftest import Isolation
from pymongo import ASCENDING, AsyncMongoClient, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from quorum.domain.v1 import domain_pb2
from quorum.events.v1 import events_pb2
from quorum_common.events import new_event, now
from quorum_common.outbox import Outbox
from quorum_common.processed import Consumed
from quorum_common.unit_of_work import Unit, commit
from quorum_notifications.__main__ import create_indexes
from quorum_notifications.deliveries import DeliveryLog
from quorum_notifications.domain import Member, Recipient, Team
from quorum_notifications.fanout import FanOut, Intake
from quorum_notifications.messages import recipient_document
from quorum_notifications.recipients import Recipients
from quorum_notifications.subscriptions import Subscriptions
from support import events
from support.servers import Servers
from support.waiting import until

pytestmark = pytest.mark.integration

TENANT = "acme-software"
Database = AsyncDatabase[dict[str, Any]]


@pytest.fixture
async def database(infra: Servers, isolation: Isolation) -> AsyncIterator[Database]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongodb_uri, tz_aware=True)
    found = client[isolation.database("notifications")]
    await create_indexes(found)
    yield found
    await client.close()


async def consume(database: Database, intake: Intake, batch: list[events_pb2.Event]) -> None:
    """One consumed batch, as the consumer hands it over: one transaction, one call."""

    async def work(unit: Unit) -> None:
        await intake.handle(unit, [Consumed(e) for e in batch])

    await commit(database.client, None, work)


async def everyone(recipients: Recipients, idea_id: str) -> list[Member]:
    found: list[Member] = []
    async for page in recipients.endorsers(TENANT, idea_id):
        found.extend(page)
    return found


def intake_for(database: Database, recipients: Recipients) -> Intake:
    outbox = Outbox(database, "unused")
    return Intake(
        recipients,
        DeliveryLog(database.client, database, outbox, "unused.dlq"),
        Subscriptions(database),
    )


def advanced(idea_id: str, organizations: list[str]) -> events_pb2.Event:
    event = new_event(tenant_id=TENANT, idea_id=idea_id, producer="validation")
    payload = event.stage_advanced
    payload.from_stage, payload.to_stage = "IDEATION", "DISCOVERY"
    payload.status = domain_pb2.IDEA_STATUS_OPEN
    for org in organizations:
        payload.report.weights.add(organization_id=org, eligible=True)
    return event


def endorsed_by(idea_id: str, member: Member) -> events_pb2.Event:
    event = events.endorsed(TENANT, idea_id, member.organization_id, 2)
    event.idea_endorsed.member.member_id = member.member_id
    return event


async def test_a_batch_leaves_each_member_as_its_last_event_says(database: Database) -> None:
    recipients = Recipients(database, page=2)
    intake = intake_for(database, recipients)
    first = events.submitted(TENANT, "megacorp")
    idea = first.envelope.idea_id
    batch = [
        first,
        events.endorsed(TENANT, idea, "bakery", 2),
        events.endorsed(TENANT, idea, "clinic", 3),
        events.withdrawn(TENANT, idea, "bakery", 4),
        events.endorsed(TENANT, idea, "shop", 5),
    ]
    await consume(database, intake, batch)
    # A batch retried after a failure (or redelivered) changes nothing more.
    await consume(database, intake, batch)
    assert await everyone(recipients, idea) == [
        Member("clinic", "clinic-m1"),
        Member("megacorp", "megacorp-m1"),
        Member("shop", "shop-m1"),
    ]
    header = await recipients.idea(TENANT, idea)
    assert header is not None
    assert (header.title, header.submitter) == ("An idea", Member("megacorp", "megacorp-m1"))
    assert await recipients.known(TENANT, idea, ["bakery", "shop", "bank"]) == {"shop"}
    # Another tenant's idea of the same organizations is not this one.
    assert await recipients.idea("other-vendor", idea) is None
    assert await everyone(recipients, str(uuid.uuid4())) == []

    source = events.submitted(TENANT, "bank")
    merge = new_event(tenant_id=TENANT, idea_id=idea, producer="ideas")
    merge.ideas_merged.source_idea_id = source.envelope.idea_id
    merge.ideas_merged.target_idea_id = idea
    merge.ideas_merged.carried_members.add(organization_id="bank", member_id="bank-m1")
    merge.ideas_merged.part, merge.ideas_merged.parts = 1, 1
    await consume(database, intake, [source])
    await consume(database, intake, [merge, events.withdrawn(TENANT, idea, "shop", 7)])
    assert [m.organization_id for m in await everyone(recipients, idea)] == [
        "bank",
        "clinic",
        "megacorp",
    ]
    # The source keeps its people for the record.
    assert await everyone(recipients, source.envelope.idea_id) == [Member("bank", "bank-m1")]
    merged = await database["recipients"].find_one({"_id": source.envelope.idea_id})
    assert merged is not None
    assert merged["merged_into"] == idea


async def subscribe(database: Database, subscriber: Recipient, target: str) -> None:
    await Subscriptions(database).add(
        {
            "_id": str(uuid.uuid4()),
            "tenant_id": TENANT,
            "subscriber": recipient_document(subscriber),
            "subscriber_key": subscriber.key,
            "channel": "WEBHOOK",
            "target": target,
            "secret": "whsec_integration_tests_only",
            "kinds": [],
            "description": "",
            "created_at": now(),
        }
    )


@contextlib.asynccontextmanager
async def fanning_out(database: Database, recipients: Recipients) -> AsyncIterator[FanOut]:
    outbox = Outbox(database, "unused")
    fanout = FanOut(
        DeliveryLog(database.client, database, outbox, "unused.dlq"),
        recipients,
        Subscriptions(database),
        on_planned=lambda: None,
        patience=timedelta(seconds=30),
    )
    task = asyncio.create_task(fanout.run())
    try:
        yield fanout
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_big_idea_fans_out_page_by_page_one_delivery_per_subscription(
    database: Database,
) -> None:
    # Pages of 7 over organizations of 3 members: organizations straddle pages.
    recipients = Recipients(database, page=7)
    intake = intake_for(database, recipients)
    organizations = [f"org{i:02}" for i in range(20)]
    members = [Member(org, f"{org}-{n}") for org in organizations for n in range(3)]
    first = events.submitted(TENANT, "megacorp")
    idea = first.envelope.idea_id
    await consume(database, intake, [first, *(endorsed_by(idea, m) for m in members)])
    await subscribe(database, Recipient(organization_id="org02"), "https://org02.example/hook")
    await subscribe(database, Recipient(organization_id="org04"), "https://org04.example/hook")
    for member in members[::5]:
        await subscribe(database, Recipient(member=member), f"https://m.example/{member.member_id}")
    submitter = Member("megacorp", "megacorp-m1")
    await subscribe(database, Recipient(member=submitter), "https://megacorp.example/hook")
    await subscribe(database, Recipient(team=Team.PRODUCT), "https://pm.example/hook")
    await subscribe(database, Recipient(member=Member("zeta", "z1")), "https://zeta.example/")

    advance = advanced(idea, organizations)
    async with fanning_out(database, recipients):
        await consume(database, intake, [advance])

        async def done() -> bool:
            job = await database["fanout"].find_one({"_id": advance.envelope.event_id})
            return job is not None and job["state"] == "DONE"

        await until(done, "the fan-out job done")
    told = sorted(
        [
            d["target"]
            async for d in database["deliveries"].find({"event_id": advance.envelope.event_id})
        ]
    )
    assert told == sorted(
        [
            "https://org02.example/hook",
            "https://org04.example/hook",
            "https://megacorp.example/hook",
            *(f"https://m.example/{m.member_id}" for m in members[::5]),
        ]
    )


async def test_an_event_nobody_subscribed_to_makes_no_fan_out_job(database: Database) -> None:
    recipients = Recipients(database)
    intake = intake_for(database, recipients)
    first = events.submitted(TENANT, "megacorp")
    idea = first.envelope.idea_id
    unheard = advanced(idea, ["megacorp"])
    await consume(database, intake, [first, unheard])
    assert await database["fanout"].find_one({"_id": unheard.envelope.event_id}) is None

    # Once a subscription of the tenant wants the kind, the next such event is fanned out.
    await subscribe(database, Recipient(organization_id="megacorp"), "https://m.example/hook")
    heard = advanced(idea, ["megacorp"])
    await consume(database, intake, [heard])
    job = await database["fanout"].find_one({"_id": heard.envelope.event_id})
    assert job is not None
    assert job["state"] == "PENDING"


async def test_thousands_of_endorsers_are_told_without_reading_them_at_once(
    database: Database,
) -> None:
    recipients = Recipients(database)  # the service's page size
    intake = intake_for(database, recipients)
    first = events.submitted(TENANT, "megacorp")
    idea = first.envelope.idea_id
    members = [Member(f"org{i:05}", "m1") for i in range(2_500)]
    await consume(database, intake, [first])
    for start in range(0, len(members), 200):
        await consume(
            database, intake, [endorsed_by(idea, m) for m in members[start : start + 200]]
        )
    pages = [len(page) async for page in recipients.endorsers(TENANT, idea)]
    assert pages == [1000, 1000, 501]
    for member in members[::100]:
        await subscribe(
            database, Recipient(member=member), f"https://m.example/{member.organization_id}"
        )
    advance = advanced(idea, [m.organization_id for m in members[:100]])
    async with fanning_out(database, recipients):
        await consume(database, intake, [advance])

        async def told() -> bool:
            count = await database["deliveries"].count_documents(
                {"event_id": advance.envelope.event_id}
            )
            return count == len(members[::100])

        await until(told, "one delivery per subscribed endorser")


async def test_the_old_layout_is_moved_at_start_idempotently_and_resumably(
    database: Database,
) -> None:
    old, moved_before = str(uuid.uuid4()), str(uuid.uuid4())
    big = [{"organization_id": f"org{i:04}", "member_id": "m1"} for i in range(2_345)]
    ideas = database["recipients"]
    await ideas.create_indexes(
        [IndexModel([("tenant_id", ASCENDING), ("members.member_id", ASCENDING)])]
    )
    await ideas.insert_many(
        [
            {
                "_id": old,
                "tenant_id": TENANT,
                "title": "Old idea",
                "submitter": big[0],
                "members": big,
            },
            # Moved by an earlier start that stopped before the next idea.
            {"_id": moved_before, "tenant_id": TENANT, "title": "Moved", "submitter": big[1]},
        ]
    )
    recipients = Recipients(database, page=500)
    intake = intake_for(database, recipients)
    await consume(database, intake, [events.endorsed(TENANT, moved_before, "bank", 2)])

    assert await recipients.migrate() == 1
    assert await recipients.migrate() == 0
    found = await everyone(recipients, old)
    assert found == [Member(m["organization_id"], m["member_id"]) for m in big]
    header = await recipients.idea(TENANT, old)
    assert header is not None
    assert header.title == "Old idea"
    assert header.submitter == Member("org0000", "m1")
    assert "members" not in (await ideas.find_one({"_id": old}) or {})
    assert await everyone(recipients, moved_before) == [Member("bank", "bank-m1")]
    assert "tenant_id_1_members.member_id_1" not in await ideas.index_information()
    # After the move, withdrawals apply to the moved members.
    event = events.withdrawn(TENANT, old, "org0001", 3)
    event.endorsement_withdrawn.member.member_id = "m1"
    await consume(database, intake, [event])
    assert len(await everyone(recipients, old)) == len(big) - 1

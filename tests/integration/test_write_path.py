"""The write path against the real broker and MongoDB: group commit and the outbox.

Concurrent calls share one transaction, each with its own answer, and one call's
refusal or failure never fails the others; events committed with a change are published
exactly once by the relay, from memory, and those a crash left behind by the sweep.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from conftest import Isolation
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from quorum.events.v1 import events_pb2
from quorum_common.errors import Conflict, NotFound
from quorum_common.group_commit import GroupCommit
from quorum_common.kafka import RelayProducer, ensure_topics
from quorum_common.outbox import COLLECTION as OUTBOX
from quorum_common.outbox import Outbox
from quorum_common.unit_of_work import Unit, commit
from quorum_ideas import domain, requests
from quorum_ideas.store import IdeaStore
from quorum_ideas.writes import Endorsed
from support import events
from support.servers import Servers
from support.waiting import until

pytestmark = pytest.mark.integration

TENANT = "tenant-write-path"
WITHIN = 30.0
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@dataclass
class Setup:
    client: AsyncMongoClient[dict[str, Any]]
    database: AsyncDatabase[dict[str, Any]]
    topic: str
    bootstrap: str


@pytest.fixture
async def setup(infra: Servers, isolation: Isolation) -> AsyncIterator[Setup]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongodb_uri, tz_aware=True)
    database = client[isolation.database("write")]
    topic = f"{isolation.topic_prefix}quorum.ideas.v1"
    await ensure_topics(infra.kafka_bootstrap_servers, [topic], 10.0)
    try:
        yield Setup(client, database, topic, infra.kafka_bootstrap_servers)
    finally:
        await client.close()


@contextlib.asynccontextmanager
async def relaying(outbox: Outbox, bootstrap: str) -> AsyncIterator[None]:
    producer = RelayProducer(bootstrap, "write-path-test")
    task = asyncio.create_task(outbox.run_relay(producer, sweep_seconds=0.2))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def published(setup: Setup, until: int) -> list[events_pb2.Event]:
    """Every event on the topic, read until there are `until` of them (and a moment more)."""
    consumer = AIOKafkaConsumer(
        setup.topic,
        bootstrap_servers=setup.bootstrap.split(","),
        group_id=None,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    found: list[events_pb2.Event] = []
    try:
        deadline = time.monotonic() + WITHIN
        while len(found) < until:
            assert time.monotonic() < deadline, f"{len(found)} of {until} events published"
            for batch in (await consumer.getmany(timeout_ms=200)).values():
                found.extend(events_pb2.Event.FromString(r.value) for r in batch)
        # Anything published twice would be right behind.
        for batch in (await consumer.getmany(timeout_ms=500)).values():
            found.extend(events_pb2.Event.FromString(r.value) for r in batch)
    finally:
        await consumer.stop()
    return found


async def outbox_empty(setup: Setup) -> None:
    async def empty() -> bool:
        return not await setup.database[OUTBOX].count_documents({"owed": True})

    await until(empty, "every published row marked published", WITHIN)


# --- group commit ---------------------------------------------------------------------


def endorse_request(idea_id: str, org: str, expected_version: int = 0) -> requests.EndorseRequest:
    return requests.check_endorse(
        tenant_id=TENANT,
        idea_id=idea_id,
        member=domain.Member(org, f"{org}-member"),
        importance=2,
        impact="",
        commitments=[],
        expected_version=expected_version,
    )


async def test_a_group_decides_each_call_in_turn_and_refuses_only_the_bad_ones(
    setup: Setup,
) -> None:
    outbox = Outbox(setup.database, setup.topic)
    store = IdeaStore(setup.client, setup.database, outbox)
    await store.prepare()
    async with relaying(outbox, setup.bootstrap):
        submission = requests.check_submission(
            title="Audit trail export",
            problem="Regulators ask for every gate decision.",
            product_area="compliance",
            tags=[],
            source_channel=1,
            known_channels={1},
            submitted_by=domain.Member("bank", "bea"),
            importance=3,
            impact="",
            commitments=[],
        )
        idea = domain.new_idea(str(uuid.uuid4()), TENANT, submission, T0)
        await store.submit(idea, domain.submitter_endorsement(idea, submission))
        orgs = [f"org-{n:02}" for n in range(30)]
        calls = [
            *(store.endorse(endorse_request(idea.id, org)) for org in orgs),
            store.endorse(endorse_request(idea.id, "late", expected_version=999)),
            store.endorse(endorse_request(str(uuid.uuid4()), "lost")),
            store.withdraw(
                requests.check_withdraw(
                    tenant_id=TENANT,
                    idea_id=idea.id,
                    member=domain.Member("never", "endorsed"),
                    expected_version=0,
                )
            ),
        ]
        groups_before = store.group_commit.groups

        outcomes = await asyncio.gather(*calls, return_exceptions=True)

        endorsed, (stale, lost, never) = outcomes[:30], outcomes[30:]
        assert isinstance(stale, Conflict)
        assert isinstance(lost, NotFound)
        assert isinstance(never, NotFound)
        versions = sorted(o.idea.version for o in endorsed if isinstance(o, Endorsed))
        # Each call saw the state the calls before it left: one version each, none lost.
        assert versions == list(range(2, 32))
        assert store.group_commit.groups - groups_before < len(calls)
        after = await store.get(TENANT, idea.id)
        assert (after.version, after.organization_count, after.endorsement_count) == (31, 31, 31)

        seen = await published(setup, 31)
    assert [e.WhichOneof("payload") for e in seen] == ["idea_submitted"] + ["idea_endorsed"] * 30
    # One idea's events keep their order: versions as committed.
    assert [e.idea_endorsed.idea_version for e in seen[1:]] == list(range(2, 32))
    assert [e.idea_endorsed.organization_count for e in seen[1:]] == list(range(2, 32))
    await outbox_empty(setup)


async def test_a_group_that_fails_commits_its_calls_one_at_a_time(setup: Setup) -> None:
    effects = setup.database["effects"]
    await setup.database.create_collection("effects")

    async def apply(unit: Unit, works: Sequence[int]) -> list[Any]:
        await effects.insert_many([{"_id": w} for w in works], session=unit.session)
        if 13 in works:
            raise RuntimeError("13 breaks whatever group it is in")
        return [f"done {w}" for w in works]

    group: GroupCommit[int, str] = GroupCommit(setup.client, None, apply)

    outcomes = await asyncio.gather(*(group.run(w) for w in range(20)), return_exceptions=True)

    assert isinstance(outcomes[13], RuntimeError)
    assert [o for n, o in enumerate(outcomes) if n != 13] == [
        f"done {w}" for w in range(20) if w != 13
    ]
    assert sorted([d["_id"] async for d in effects.find({})]) == [w for w in range(20) if w != 13]


async def test_two_groups_commit_at_once_but_never_on_the_same_idea(setup: Setup) -> None:
    await setup.database.create_collection("effects")
    running = 0
    most = 0
    decided: list[tuple[str, int]] = []
    overlapped: list[frozenset[str]] = []
    busy: set[str] = set()

    async def apply(unit: Unit, works: Sequence[tuple[str, int]]) -> list[Any]:
        nonlocal running, most
        mine = {idea for idea, _ in works}
        assert not mine & busy, "two groups changed the same idea at once"
        if busy:
            overlapped.append(frozenset(mine | busy))
        busy.update(mine)
        running += 1
        most = max(most, running)
        decided.extend(works)
        await setup.database["effects"].insert_many(
            [{"idea": idea, "n": n} for idea, n in works], session=unit.session
        )
        await asyncio.sleep(0.02)  # a commit that takes a while, so the next group starts
        running -= 1
        busy.difference_update(mine)
        return list(works)

    group: GroupCommit[tuple[str, int], tuple[str, int]] = GroupCommit(
        setup.client, None, apply, keys=lambda work: (work[0],), in_flight=2
    )
    calls = [(f"idea-{n % 3}", n) for n in range(60)]
    arrived: list[tuple[str, int]] = []

    async def call(work: tuple[str, int]) -> tuple[str, int]:
        await asyncio.sleep(0.001 * (work[1] % 7))  # arrivals spread over a few ms
        arrived.append(work)
        return await group.run(work)

    outcomes = await asyncio.gather(*(call(w) for w in calls))

    assert outcomes == calls
    assert most == 2
    assert overlapped, "no two groups ever committed at once"
    for idea in ("idea-0", "idea-1", "idea-2"):
        assert [n for i, n in decided if i == idea] == [n for i, n in arrived if i == idea], (
            f"{idea}'s calls were not decided in the order they came"
        )


async def test_a_window_gathers_a_busy_process_calls_but_never_holds_a_quiet_one(
    setup: Setup,
) -> None:
    await setup.database.create_collection("effects")
    groups: list[list[int]] = []

    async def apply(unit: Unit, works: Sequence[int]) -> list[Any]:
        groups.append(list(works))
        await setup.database["effects"].insert_many(
            [{"_id": w} for w in works], session=unit.session
        )
        return list(works)

    # A window far longer than the test may take: a call that waited for it would fail
    # the test by its deadline, not by a measured time.
    group: GroupCommit[int, int] = GroupCommit(setup.client, None, apply, max_group=3, window=600)

    # A quiet process, and then one caller writing call after call: nothing waits.
    assert await asyncio.wait_for(group.run(1), timeout=30) == 1
    assert await asyncio.wait_for(group.run(2), timeout=30) == 2
    # Calls that came while a group committed form the next one, at once after it.
    assert await asyncio.wait_for(asyncio.gather(*(group.run(w) for w in (3, 4, 5))), 30) == [
        3,
        4,
        5,
    ]
    # After a group of several, calls wait for each other until a full group goes at once.
    outcomes = await asyncio.wait_for(asyncio.gather(*(group.run(w) for w in (6, 7, 8))), 30)

    assert outcomes == [6, 7, 8]
    assert groups == [[1], [2], [3], [4, 5], [6, 7, 8]]


# --- the outbox -------------------------------------------------------------------------


async def owe(setup: Setup, outbox: Outbox, count: int) -> list[str]:
    """Commit `count` events through `outbox`, each with a state change."""
    history = [events.submitted(TENANT, f"org-{n}") for n in range(count)]
    await setup.database.create_collection("changes")

    async def work(unit: Unit) -> None:
        await setup.database["changes"].insert_many(
            [{"_id": e.envelope.idea_id} for e in history], session=unit.session
        )
        unit.publish(history)

    await commit(setup.client, outbox, work)
    return [e.envelope.event_id for e in history]


async def test_the_relay_publishes_committed_events_once_from_memory(setup: Setup) -> None:
    outbox = Outbox(setup.database, setup.topic)
    async with relaying(outbox, setup.bootstrap):
        owed = await owe(setup, outbox, 50)
        seen = await published(setup, 50)
        await outbox_empty(setup)
    assert sorted(e.envelope.event_id for e in seen) == sorted(owed)


async def test_a_crash_between_commit_and_publish_loses_nothing(setup: Setup) -> None:
    # The process that committed died before its relay published anything.
    crashed = Outbox(setup.database, setup.topic)
    owed = await owe(setup, crashed, 20)
    assert await setup.database[OUTBOX].count_documents({}) == 20

    # The next process's relay finds what was left (its first round sweeps at once).
    restarted = Outbox(setup.database, setup.topic)
    async with relaying(restarted, setup.bootstrap):
        seen = await published(setup, 20)
        await outbox_empty(setup)
    assert sorted(e.envelope.event_id for e in seen) == sorted(owed)

"""The gateway's event log against the real MongoDB: blocks of sequence numbers.

A consumed batch takes one block of numbers per tenant in its own transaction. The
promise WatchEvents rests on: a reader that resumes after sequence N never misses an
event committed later, and never sees one twice — even while batches of one tenant
race each other in concurrent transactions (two consumers, a rebalance).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from conftest import Isolation
from pymongo import AsyncMongoClient

from quorum.events.v1 import events_pb2
from quorum_common.processed import Consumed
from quorum_common.unit_of_work import Unit, commit
from quorum_gateway.eventlog import EventLog
from support import events
from support.servers import Servers
from support.waiting import until

pytestmark = pytest.mark.integration

TENANT = "acme-software"
OTHER = "other-vendor"
Client = AsyncMongoClient[dict[str, Any]]


@pytest.fixture
async def log_and_client(
    infra: Servers, isolation: Isolation
) -> AsyncIterator[tuple[EventLog, Client]]:
    client: Client = AsyncMongoClient(infra.mongodb_uri, tz_aware=True)
    log = EventLog(client[isolation.database("gateway")])
    await log.create_indexes()
    yield log, client
    await client.close()


def batch(tenant_id: str, size: int) -> list[events_pb2.Event]:
    idea = events.submitted(tenant_id, "bakery")
    rest = [
        events.endorsed(tenant_id, idea.envelope.idea_id, f"org{n}", n + 2) for n in range(size - 1)
    ]
    return [idea, *rest][:size]


Hook = Callable[[int], Awaitable[None]]


async def append(
    client: Client,
    log: EventLog,
    found: list[events_pb2.Event],
    started: Hook | None = None,
    appended: Hook | None = None,
) -> None:
    """Append as the consumer does: the batch in one transaction, one handler call.

    `started` and `appended` are told each attempt's number (a conflict retries).
    """
    attempts = 0

    async def work(unit: Unit) -> None:
        nonlocal attempts
        attempts += 1
        if started is not None:
            await started(attempts)
        await log.append(unit, [Consumed(e) for e in found])
        if appended is not None:
            await appended(attempts)

    await commit(client, None, work)


class Reader:
    """A WatchEvents client: reads what is committed after its cursor, resumes from it."""

    def __init__(self, log: EventLog, tenant_id: str) -> None:
        self._log = log
        self._tenant_id = tenant_id
        self.after = 0
        self.seen: list[tuple[int, str]] = []

    async def read(self) -> None:
        """Everything committed after the cursor by now (the query WatchEvents makes)."""
        while page := await self._log.page(self._tenant_id, self.after):
            for seq, value in page:
                self.seen.append((seq, events_pb2.Event.FromString(value).envelope.event_id))
                self.after = seq


async def test_a_batch_takes_one_block_in_batch_order_per_tenant(
    log_and_client: tuple[EventLog, Client],
) -> None:
    log, client = log_and_client
    mine, theirs = batch(TENANT, 5), batch(OTHER, 3)
    mixed = [mine[0], theirs[0], *mine[1:3], *theirs[1:], *mine[3:]]
    await append(client, log, batch(TENANT, 2))
    await append(client, log, mixed)
    reader = Reader(log, TENANT)
    await reader.read()
    assert [seq for seq, _ in reader.seen] == [1, 2, 3, 4, 5, 6, 7]
    assert [event_id for _, event_id in reader.seen[2:]] == [e.envelope.event_id for e in mine]
    other = Reader(log, OTHER)
    await other.read()
    assert other.seen == [(n, e.envelope.event_id) for n, e in enumerate(theirs, start=1)]
    assert await log.latest(TENANT) == 7


async def test_a_batch_committing_first_cannot_number_past_one_still_open(
    log_and_client: tuple[EventLog, Client],
) -> None:
    """The later batch waits for the earlier one's block: no reader skips a number."""
    log, client = log_and_client
    await append(client, log, batch(TENANT, 1))  # the tenant's counter exists
    reader = Reader(log, TENANT)
    await reader.read()
    held, racing = batch(TENANT, 3), batch(TENANT, 2)
    release = asyncio.Event()
    racing_attempts = 0

    holding = asyncio.Event()

    async def hold(attempt: int) -> None:
        if attempt == 1:
            holding.set()
            await release.wait()

    async def count(attempt: int) -> None:
        nonlocal racing_attempts
        racing_attempts = attempt

    first = asyncio.create_task(append(client, log, held, appended=hold))
    await holding.wait()  # its block is taken, its transaction still open
    second = asyncio.create_task(append(client, log, racing, started=count))

    # The racing batch either conflicts on the counter (and retries) or, were the block
    # taken outside the transaction, commits right away: wait for either.
    async def retried_or_committed() -> bool:
        return racing_attempts >= 2 or second.done()

    await until(retried_or_committed, "the racing batch retrying or committing", 30)
    await reader.read()  # resumes after whatever is committed by now
    release.set()
    await asyncio.gather(first, second)
    await reader.read()
    ids = [e.envelope.event_id for e in [*held, *racing]]
    assert [seq for seq, _ in reader.seen] == list(range(1, 7))
    assert sorted(event_id for _, event_id in reader.seen[1:]) == sorted(ids)


async def test_racing_batches_never_leave_a_resumed_reader_a_gap_or_a_duplicate(
    log_and_client: tuple[EventLog, Client],
) -> None:
    log, client = log_and_client
    rand = random.Random(13)
    batches = [batch(rand.choice([TENANT, OTHER]), rand.randint(1, 30)) for _ in range(24)]
    reader = Reader(log, TENANT)
    appended = asyncio.Event()

    async def consumer(mine: list[list[events_pb2.Event]]) -> None:
        for found in mine:
            await append(client, log, found)

    async def follow() -> None:
        while not appended.is_set():
            await reader.read()

    following = asyncio.create_task(follow())
    # Two consumers of the same tenants, as during a rebalance.
    await asyncio.gather(consumer(batches[0::2]), consumer(batches[1::2]))
    appended.set()
    await following
    await reader.read()
    expected = [
        e.envelope.event_id for b in batches if b[0].envelope.tenant_id == TENANT for e in b
    ]
    seqs = [seq for seq, _ in reader.seen]
    assert seqs == list(range(1, len(expected) + 1))
    assert sorted(event_id for _, event_id in reader.seen) == sorted(expected)
    # Each batch's events are numbered together, in batch order.
    position = {event_id: seq for seq, event_id in reader.seen}
    for found in batches:
        if found[0].envelope.tenant_id == TENANT:
            numbers = [position[e.envelope.event_id] for e in found]
            assert numbers == list(range(numbers[0], numbers[0] + len(found)))

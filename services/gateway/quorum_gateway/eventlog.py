"""The tenant's event stream behind WatchEvents.

The gateway consumes every topic (ideas, validation, notifications) into its own
`event_log` collection, numbering each tenant's events with a sequence taken in the
same transaction as the insert: a consumed batch reserves one block of numbers per
tenant (one counter update) and inserts its events with one command. Transactions
that take the same tenant's counter conflict and retry, so sequence order is commit
order: a reader that resumes after sequence N can never miss an event committed
later with a smaller number. That sequence is the cursor clients resume from.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import timedelta

from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from quorum.events.v1 import events_pb2
from quorum_common.events import event_type, from_timestamp
from quorum_common.mongo import Document, ensure_indexes
from quorum_common.processed import PROCESSED, PROCESSED_INDEXES, Consumed
from quorum_common.unit_of_work import Unit
from quorum_common.waits import within

log = logging.getLogger(__name__)

EVENT_LOG = "event_log"
SEQUENCES = "event_sequences"
RETENTION = timedelta(days=7)
PAGE = 500


def _entry(event: events_pb2.Event, seq: int) -> Document:
    return {
        "_id": event.envelope.event_id,
        "tenant_id": event.envelope.tenant_id,
        "seq": seq,
        "idea_id": event.envelope.idea_id,
        "type": event_type(event),
        "at": from_timestamp(event.envelope.occurred_at),
        "value": event.SerializeToString(),
    }


class EventLog:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._database = database
        self._log = database[EVENT_LOG]
        self._sequences = database[SEQUENCES]
        self._changed = asyncio.Condition()
        # Bumped on every wake-up; a watcher compares it to what it saw before its
        # query, so an insert between the query and the wait is never slept through.
        self._generation = 0

    async def create_indexes(self) -> None:
        await ensure_indexes(
            self._database,
            {
                EVENT_LOG: [
                    IndexModel([("tenant_id", ASCENDING), ("seq", ASCENDING)], unique=True),
                    IndexModel(
                        [("at", ASCENDING)],
                        expireAfterSeconds=int(RETENTION.total_seconds()),
                    ),
                ],
                SEQUENCES: [],
                PROCESSED: PROCESSED_INDEXES,
            },
        )

    async def append(self, unit: Unit, consumed: Sequence[Consumed]) -> None:
        """Store consumed events (the consumer's handler, inside its transaction).

        Per batch: one counter update per tenant, reserving a block of as many
        sequence numbers as the batch has events of that tenant, and one insert.
        The block is taken in the same transaction as the insert, so a concurrent
        batch of the same tenant conflicts on the counter and retries after this
        one commits: sequence order stays commit order.
        """
        by_tenant: dict[str, list[events_pb2.Event]] = {}
        for item in consumed:
            by_tenant.setdefault(item.event.envelope.tenant_id, []).append(item.event)
        docs: list[Document] = []
        for tenant_id, events in by_tenant.items():
            counter = await self._sequences.find_one_and_update(
                {"_id": tenant_id},
                {"$inc": {"seq": len(events)}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
                session=unit.session,
            )
            assert counter is not None
            first = int(counter["seq"]) - len(events) + 1
            docs.extend(_entry(event, seq) for seq, event in enumerate(events, start=first))
        await self._log.insert_many(docs, session=unit.session)

    async def wake(self) -> None:
        async with self._changed:
            self._generation += 1
            self._changed.notify_all()

    def appended(self) -> None:
        """Called after a commit in this process; wakes the watchers."""
        asyncio.get_running_loop().create_task(self.wake())

    async def follow_changes(
        self, about: Callable[[str, str], None] = lambda tenant_id, idea_id: None
    ) -> None:
        """Wake watchers on inserts by any gateway replica (a change stream).

        `about(tenant_id, idea_id)` hears of every event any replica logged: with several
        replicas each consumes only some partitions, and the idea cache of every replica
        must forget an idea whichever replica consumed the event about it.
        """
        while True:
            try:
                async with await self._log.watch(
                    [
                        {"$match": {"operationType": "insert"}},
                        {"$project": {"fullDocument.tenant_id": 1, "fullDocument.idea_id": 1}},
                    ]
                ) as stream:
                    async for change in stream:
                        entry = change.get("fullDocument") or {}
                        if entry.get("idea_id"):
                            about(str(entry.get("tenant_id", "")), str(entry["idea_id"]))
                        await self.wake()
            except PyMongoError as error:
                log.warning("event log change stream stopped, restarting: %s", error)
                await asyncio.sleep(1.0)

    async def latest(self, tenant_id: str) -> int:
        doc = await self._sequences.find_one({"_id": tenant_id})
        return int(doc["seq"]) if doc else 0

    async def page(
        self, tenant_id: str, after: int, idea_id: str = "", kinds: Sequence[str] = ()
    ) -> list[tuple[int, bytes]]:
        """Up to PAGE matching events committed with a sequence above `after`, in order."""
        query: Document = {"tenant_id": tenant_id, "seq": {"$gt": after}}
        if idea_id:
            query["idea_id"] = idea_id
        if kinds:
            query["type"] = {"$in": list(kinds)}
        docs = await self._log.find(query, sort=[("seq", ASCENDING)], limit=PAGE).to_list()
        return [(int(doc["seq"]), bytes(doc["value"])) for doc in docs]

    async def watch(
        self, tenant_id: str, after: int, idea_id: str, kinds: list[str]
    ) -> AsyncIterator[tuple[int, bytes]]:
        """Every matching event with a sequence above `after`, forever, in order."""
        while True:
            seen = self._generation
            page = await self.page(tenant_id, after, idea_id, kinds)
            for seq, value in page:
                after = seq
                yield seq, value
            if len(page) < PAGE:
                async with self._changed:
                    # The timeout only bounds the cost of a lost change-stream event.
                    with contextlib.suppress(TimeoutError):
                        await within(
                            self._changed.wait_for(lambda seen=seen: self._generation != seen),  # type: ignore[misc]
                            1.0,
                        )

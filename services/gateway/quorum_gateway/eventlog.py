"""The tenant's event stream behind WatchEvents.

The gateway consumes every topic (ideas, validation, notifications) into its own
`event_log` collection, numbering each tenant's events with a sequence taken in the
same transaction as the insert. Transactions that take the same tenant's counter
conflict and retry, so sequence order is commit order: a reader that resumes after
sequence N can never miss an event committed later with a smaller number. That
sequence is the cursor clients resume from.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from quorum.events.v1 import events_pb2
from quorum_common.consumer import PROCESSED, PROCESSED_INDEXES
from quorum_common.events import event_type, from_timestamp
from quorum_common.mongo import Document, ensure_indexes

log = logging.getLogger(__name__)

EVENT_LOG = "event_log"
SEQUENCES = "event_sequences"
RETENTION = timedelta(days=7)
PAGE = 500


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

    async def append(self, session: AsyncClientSession, event: events_pb2.Event) -> None:
        """Store one consumed event (inside the consumer's transaction)."""
        tenant_id = event.envelope.tenant_id
        counter = await self._sequences.find_one_and_update(
            {"_id": tenant_id},
            {"$inc": {"seq": 1}},
            upsert=True,
            return_document=True,
            session=session,
        )
        assert counter is not None
        await self._log.insert_one(
            {
                "_id": event.envelope.event_id,
                "tenant_id": tenant_id,
                "seq": int(counter["seq"]),
                "idea_id": event.envelope.idea_id,
                "type": event_type(event),
                "at": from_timestamp(event.envelope.occurred_at),
                "value": event.SerializeToString(),
            },
            session=session,
        )

    async def wake(self) -> None:
        async with self._changed:
            self._generation += 1
            self._changed.notify_all()

    def appended(self) -> None:
        """Called after a commit in this process; wakes the watchers."""
        asyncio.get_running_loop().create_task(self.wake())

    async def follow_changes(self) -> None:
        """Wake watchers on inserts by any gateway replica (a change stream)."""
        while True:
            try:
                async with await self._log.watch(
                    [{"$match": {"operationType": "insert"}}]
                ) as stream:
                    async for _ in stream:
                        await self.wake()
            except PyMongoError as error:
                log.warning("event log change stream stopped, restarting: %s", error)
                await asyncio.sleep(1.0)

    async def latest(self, tenant_id: str) -> int:
        doc = await self._sequences.find_one({"_id": tenant_id})
        return int(doc["seq"]) if doc else 0

    async def watch(
        self, tenant_id: str, after: int, idea_id: str, kinds: list[str]
    ) -> AsyncIterator[tuple[int, bytes]]:
        """Every matching event with a sequence above `after`, forever, in order."""
        query: Document = {"tenant_id": tenant_id}
        if idea_id:
            query["idea_id"] = idea_id
        if kinds:
            query["type"] = {"$in": kinds}
        while True:
            seen = self._generation
            page = await self._log.find(
                {**query, "seq": {"$gt": after}}, sort=[("seq", ASCENDING)], limit=PAGE
            ).to_list()
            for doc in page:
                after = int(doc["seq"])
                yield after, bytes(doc["value"])
            if len(page) < PAGE:
                async with self._changed:
                    # The timeout only bounds the cost of a lost change-stream event.
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(
                            self._changed.wait_for(lambda seen=seen: self._generation != seen),  # type: ignore[misc]
                            timeout=1.0,
                        )

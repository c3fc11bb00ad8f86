"""Transactional outbox: events are written with the state change, then relayed.

A service owes its events in the same MongoDB transaction as its state change
(`unit_of_work.commit` → `Outbox.insert`). Once that transaction has committed, its
rows are handed to the relay in memory (`Outbox.committed`), which publishes them in
order in batches (idempotent producer, acks=all) and then deletes them with one
command. Nothing is read back on the way: the relay publishes what the transaction
wrote. A crash between the commit and the publish leaves the rows in the collection;
a sweep every second publishes rows no relay of this process knows (a process that
died, a relay that failed). A crash between publishing and deleting publishes a row
twice; consumers deduplicate by event id, so nothing is lost and nothing counts twice.

Each row keeps the W3C trace context of the span that wrote it (the request or the
consumed event); the relay publishes it in the record's headers under a "send" span,
so the consumer's work joins the trace of whatever caused the event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Iterable, Mapping
from datetime import timedelta

from aiokafka.errors import KafkaError
from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure, PyMongoError

from quorum.events.v1 import events_pb2
from quorum_common import observability
from quorum_common.events import EVENT_TYPE_HEADER, headers, now
from quorum_common.kafka import Outgoing, RelayProducer
from quorum_common.mongo import Document

log = logging.getLogger(__name__)

COLLECTION = "outbox"
INDEXES = [IndexModel([("seq", ASCENDING)], name="in_order")]
# Indexes of the layout before rows were deleted once published (kept a week then).
_OLD_INDEXES = ("pending_in_order", "expire_published")
# The sweep leaves rows younger than this to the relay that wrote them: between a commit
# and its hand-over the row is already visible, and publishing it twice costs consumers.
SWEEP_GRACE = timedelta(seconds=2)
BATCH = 500


class Outbox:
    def __init__(self, database: AsyncDatabase[Document], topic: str) -> None:
        self._entries = database[COLLECTION]
        self.topic = topic
        self._ready: deque[Document] = deque()
        # Ids handed over in memory and not yet deleted: the sweep leaves them alone.
        self._known: set[str] = set()
        self._wake = asyncio.Event()
        self._sweep_now = True  # the first round looks for what a previous process left
        self._last_seq = 0

    @property
    def database_name(self) -> str:
        return self._entries.database.name

    async def prepare(self) -> None:
        """Bring the collection to this layout (idempotent; run at start)."""
        indexes = await self._entries.index_information()
        for name in _OLD_INDEXES:
            if name in indexes:
                with contextlib.suppress(OperationFailure):
                    await self._entries.drop_index(name)
        # Rows the old layout kept after publishing them.
        await self._entries.delete_many({"published": True})

    def _next_seq(self) -> int:
        # Microseconds since the epoch, strictly increasing within this process.
        # One idea's changes are serialized by its version check, so their rows get
        # increasing sequence numbers (across processes up to clock skew, which a
        # shared host does not have). A global counter document would make every
        # transaction in the service conflict with every other.
        self._last_seq = max(self._last_seq + 1, time.time_ns() // 1000)
        return self._last_seq

    def rows(
        self,
        events: Iterable[events_pb2.Event],
        trace: Mapping[str, str] | None = None,
        topic: str | None = None,
    ) -> list[Document]:
        """The rows for these events (to `topic`, by default the outbox's), to insert
        inside the caller's transaction."""
        # Captured now, inside the caller's span; the relay runs in another task.
        context = dict(trace) if trace is not None else observability.current_trace_context()
        created = now()
        return [
            {
                "_id": event.envelope.event_id,
                "seq": self._next_seq(),
                "topic": topic or self.topic,
                "key": event.envelope.idea_id or event.envelope.tenant_id,
                "value": event.SerializeToString(),
                "headers": headers(event),
                "trace": context,
                "created_at": created,
            }
            for event in events
        ]

    async def insert(self, session: AsyncClientSession, rows: list[Document]) -> None:
        await self._entries.insert_many(rows, session=session)

    def committed(self, rows: list[Document]) -> None:
        """Hand over the rows of a transaction that has committed."""
        self._ready.extend(rows)
        self._known.update(row["_id"] for row in rows)
        self._wake.set()

    async def add(
        self, session: AsyncClientSession, topic: str, events: list[events_pb2.Event]
    ) -> None:
        """Owe events inside the caller's transaction; call `notify()` after its commit.

        The relay finds these with a sweep; `unit_of_work.commit` hands them over in
        memory instead.
        """
        if not events:
            return
        await self.insert(session, self.rows(events, topic=topic))

    def notify(self) -> None:
        """A transaction that used `add` has committed: sweep for its rows now."""
        self._sweep_now = True
        self._wake.set()

    async def run_relay(self, producer: RelayProducer, sweep_seconds: float = 1.0) -> None:
        """Publish owed rows forever; cancel the task to stop it."""
        # The backlog gauge counts while this relay runs, on its event loop.
        stop_observing = observability.observe_outbox_backlog(
            self._entries.database.name, self.pending_count
        )
        last_sweep = time.monotonic()
        try:
            while True:
                self._wake.clear()
                sweep = self._sweep_now or time.monotonic() - last_sweep >= sweep_seconds
                try:
                    if sweep:
                        notified, self._sweep_now = self._sweep_now, False
                        last_sweep = time.monotonic()
                        await self._sweep(producer, all_rows=notified)
                    while self._ready:
                        await self._publish_ready(producer)
                except (PyMongoError, KafkaError, OSError, TimeoutError) as error:
                    # A failed producer was replaced already (RelayProducer); the rows
                    # stay owed and go again in the same order.
                    log.warning("outbox relay failed, will retry: %s", error)
                    await asyncio.sleep(sweep_seconds)
                    continue
                if self._ready or self._sweep_now:
                    continue
                timeout = max(0.0, sweep_seconds - (time.monotonic() - last_sweep))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=timeout)
        finally:
            stop_observing()
            await producer.stop()

    async def _publish_ready(self, producer: RelayProducer) -> None:
        batch = [self._ready[i] for i in range(min(BATCH, len(self._ready)))]
        await self._publish(producer, batch)
        for _ in batch:
            self._ready.popleft()
        self._known.difference_update(row["_id"] for row in batch)

    async def _sweep(self, producer: RelayProducer, all_rows: bool) -> None:
        """Publish rows in the collection that no relay of this process holds."""
        query: Document = {}
        if not all_rows:
            query["created_at"] = {"$lt": now() - SWEEP_GRACE}
        while True:
            found = await self._entries.find(
                query, sort=[("seq", ASCENDING)], limit=BATCH
            ).to_list()
            orphans = [row for row in found if row["_id"] not in self._known]
            if orphans:
                await self._publish(producer, orphans)
            if len(found) < BATCH:
                return
            query["seq"] = {"$gt": found[-1]["seq"]}

    async def _publish(self, producer: RelayProducer, rows: list[Document]) -> None:
        spans = []
        records = []
        for row in rows:
            span, trace_headers = observability.start_send_span(
                row["topic"],
                row.get("trace") or {},
                key=row["key"],
                event_id=row["_id"],
                event_type=row["headers"].get(EVENT_TYPE_HEADER, ""),
            )
            spans.append(span)
            records.append(
                Outgoing(
                    row["topic"],
                    row["key"].encode(),
                    row["value"],
                    {**row["headers"], **trace_headers},
                )
            )
        try:
            await producer.send(records)
        except BaseException as error:
            for span in spans:
                observability.end_with_error(span, error)
            raise
        # A send span lasts until the broker acknowledged the whole batch.
        for span in spans:
            span.end()
        await self._entries.delete_many({"_id": {"$in": [row["_id"] for row in rows]}})

    async def pending_count(self) -> int:
        return await self._entries.count_documents({})

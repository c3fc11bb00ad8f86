"""Transactional outbox: events are written with the state change, then relayed.

A service adds the events it owes to the `outbox` collection inside the same MongoDB
transaction as its state change (`Outbox.add`). The relay publishes pending entries
to Kafka in order (idempotent producer, acks=all) and marks them published. A crash
between publishing and marking publishes an entry twice; consumers deduplicate by
event id, so nothing is lost and nothing counts twice.

The relay is woken right after a commit (`Outbox.notify`), so latency is a publish,
not a polling interval; a slow sweep picks up entries written by a process that died.

Each entry keeps the W3C trace context of the span that wrote it (the request or the
consumed event); the relay publishes it in the record's headers under a "send" span,
so the consumer's work joins the trace of whatever caused the event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import timedelta
from typing import Any

from aiokafka.errors import KafkaError
from faststream.kafka import KafkaBroker
from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from quorum.events.v1 import events_pb2
from quorum_common import observability
from quorum_common.events import EVENT_TYPE_HEADER, headers, now

log = logging.getLogger(__name__)

COLLECTION = "outbox"
INDEXES = [
    IndexModel([("published", ASCENDING), ("seq", ASCENDING)], name="pending_in_order"),
    # Published entries are kept a week for forensics, then expire.
    IndexModel(
        [("published_at", ASCENDING)],
        name="expire_published",
        expireAfterSeconds=int(timedelta(days=7).total_seconds()),
    ),
]


class Outbox:
    def __init__(self, database: AsyncDatabase[dict[str, Any]]) -> None:
        self._entries = database[COLLECTION]
        self._wake = asyncio.Event()
        self._last_seq = 0

    def _next_seq(self) -> int:
        # Microseconds since the epoch, strictly increasing within this process.
        # One idea's changes are serialized by its version check, so their entries
        # get increasing sequence numbers (across processes up to clock skew, which
        # a shared host does not have). A global counter document would make every
        # transaction in the service conflict with every other.
        self._last_seq = max(self._last_seq + 1, time.time_ns() // 1000)
        return self._last_seq

    async def add(
        self, session: AsyncClientSession, topic: str, events: list[events_pb2.Event]
    ) -> None:
        """Record events to publish, inside the caller's transaction."""
        if not events:
            return
        # Captured now, inside the caller's span; the relay runs in another task.
        trace_context = observability.current_trace_context()
        await self._entries.insert_many(
            [
                {
                    "_id": event.envelope.event_id,
                    "seq": self._next_seq(),
                    "topic": topic,
                    "key": event.envelope.idea_id or event.envelope.tenant_id,
                    "value": event.SerializeToString(),
                    "headers": headers(event),
                    "trace": trace_context,
                    "created_at": now(),
                    "published": False,
                }
                for event in events
            ],
            session=session,
        )

    def notify(self) -> None:
        """Tell the relay that a transaction with outbox entries has committed."""
        self._wake.set()

    async def run_relay(
        self, broker: KafkaBroker, sweep_seconds: float = 1.0, batch: int = 500
    ) -> None:
        """Publish pending entries forever; cancel the task to stop it."""
        # The backlog gauge counts while this relay runs, on its event loop.
        stop_observing = observability.observe_outbox_backlog(
            self._entries.database.name, self.pending_count
        )
        try:
            while True:
                try:
                    published = await self._relay_once(broker, batch)
                except (PyMongoError, KafkaError, OSError) as error:
                    log.warning("outbox relay failed, will retry: %s", error)
                    published = 0
                    await asyncio.sleep(sweep_seconds)
                if published >= batch:
                    continue
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=sweep_seconds)
        finally:
            stop_observing()

    async def _relay_once(self, broker: KafkaBroker, batch: int) -> int:
        pending = await self._entries.find(
            {"published": False}, sort=[("seq", ASCENDING)], limit=batch
        ).to_list()
        if not pending:
            return 0
        # Pipelined: send all, then wait. The idempotent producer keeps per-partition
        # order across in-flight requests, so one idea's events stay ordered.
        spans = []
        try:
            futures = []
            for entry in pending:
                span, trace_headers = observability.start_send_span(
                    entry["topic"],
                    entry.get("trace") or {},
                    key=entry["key"],
                    event_id=entry["_id"],
                    event_type=entry["headers"].get(EVENT_TYPE_HEADER, ""),
                )
                spans.append(span)
                futures.append(
                    await broker.publish(
                        entry["value"],
                        topic=entry["topic"],
                        key=entry["key"].encode(),
                        headers={**entry["headers"], **trace_headers},
                        no_confirm=True,
                    )
                )
            await asyncio.gather(*futures)
        except BaseException as error:
            for span in spans:
                observability.end_with_error(span, error)
            raise
        # A send span lasts until the broker acknowledged the whole batch.
        for span in spans:
            span.end()
        await self._entries.update_many(
            {"_id": {"$in": [entry["_id"] for entry in pending]}},
            {"$set": {"published": True, "published_at": now()}},
        )
        return len(pending)

    async def pending_count(self) -> int:
        return await self._entries.count_documents({"published": False})

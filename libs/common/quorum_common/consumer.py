"""Idempotent event consumption with a dead-letter topic.

Each consumed event is applied in one MongoDB transaction together with a record
of its event id (unique `_id`), so a redelivered event changes nothing. An event
that can never be applied (undecodable, failing validation) is published to the
consumer's dead-letter topic with the reason, and the stream moves on. Any other
failure (MongoDB unreachable, ...) is retried with backoff; the offset is committed
only after the effect is, so a crash loses nothing.

Each record is processed in a "process <topic>" span whose parent is the producer's
context from the record's headers (see outbox.py), and timed per subscription.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from aiokafka import TopicPartition
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from pymongo import ASCENDING, AsyncMongoClient, IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from quorum.events.v1 import events_pb2
from quorum_common import observability
from quorum_common.events import PoisonEvent, Topics, decode, event_type, now
from quorum_common.mongo import in_transaction

log = logging.getLogger(__name__)

PROCESSED = "processed_events"
PROCESSED_INDEXES = [
    # Kept longer than Kafka's retention, so no redelivery can outlive its record.
    IndexModel(
        [("processed_at", ASCENDING)],
        name="expire_processed",
        expireAfterSeconds=int(timedelta(days=30).total_seconds()),
    )
]

# Applies one event inside the transaction; raises PoisonEvent if it never can.
Handler = Callable[[AsyncClientSession, events_pb2.Event], Awaitable[None]]


async def _raw_body(message: KafkaMessage) -> bytes:
    return bytes(message.body)


class EventConsumer:
    def __init__(
        self,
        *,
        name: str,
        broker: KafkaBroker,
        client: AsyncMongoClient[dict[str, Any]],
        database: AsyncDatabase[dict[str, Any]],
        topics: Topics,
        sources: list[str],
        handle: Handler,
        after_commit: Callable[[], None] | None = None,
        max_backoff_seconds: float = 30.0,
    ) -> None:
        self.name = name
        self._broker = broker
        self._client = client
        self._processed = database[PROCESSED]
        self._dead_letter_topic = topics.dead_letter(name)
        # The prefix isolates consumer groups as it isolates topics: copies of the
        # platform sharing a broker (tests, benchmarks) must never share a group.
        self._group_id = f"{topics.prefix}quorum-{name}"
        self._sources = sources
        self._handle = handle
        self._after_commit = after_commit
        self._max_backoff = max_backoff_seconds
        self._failures: dict[str, int] = {}

    @property
    def dead_letter_topic(self) -> str:
        return self._dead_letter_topic

    def subscribe(self) -> None:
        """Register with the broker; call before the broker starts."""
        subscriber = self._broker.subscriber(
            *self._sources,
            group_id=self._group_id,
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.NACK_ON_ERROR,
            # Protobuf bytes as they are: faststream would otherwise try JSON on
            # records without a content type, and a poison record must reach us raw.
            decoder=_raw_body,
        )
        subscriber(self.on_message)

    async def on_message(self, body: bytes, message: KafkaMessage) -> None:
        record = message.raw_message
        topic = str(getattr(record, "topic", "?"))
        partition = int(getattr(record, "partition", -1))
        offset = int(getattr(record, "offset", -1))
        with observability.processing(
            group=self._group_id,
            topic=topic,
            partition=partition,
            offset=offset,
            headers=message.headers,
        ) as processing:
            processing.outcome = await self._process(message, processing)
        self._observe_lag(message, topic, partition, offset)

    async def _process(self, message: KafkaMessage, processing: observability.Processing) -> str:
        """Apply, skip or dead-letter one record; the outcome names which."""
        raw = message.body
        try:
            event = decode(raw)
        except PoisonEvent as poison:
            await self._dead_letter(message, str(poison))
            return "dead_lettered"
        processing.span.set_attributes(
            {
                "messaging.message.id": event.envelope.event_id,
                "quorum.event.type": event_type(event),
                "quorum.tenant.id": event.envelope.tenant_id,
            }
        )
        try:
            applied = await in_transaction(self._client, lambda s: self._apply(s, event))
        except DuplicateKeyError:
            applied = False  # processed before, or a concurrent delivery got there first
        except PoisonEvent as poison:
            await self._dead_letter(message, str(poison))
            return "dead_lettered"
        except Exception as error:
            # Transient (or a bug): back off, then let the broker redeliver it.
            await self._back_off(event.envelope.event_id, error)
            raise
        self._failures.pop(event.envelope.event_id, None)
        if applied and self._after_commit is not None:
            self._after_commit()
        log.debug(
            "%s %s %s",
            "applied" if applied else "skipped duplicate",
            event_type(event),
            event.envelope.event_id,
        )
        return "applied" if applied else "duplicate"

    def _observe_lag(self, message: KafkaMessage, topic: str, partition: int, offset: int) -> None:
        # The consumer already knows each partition's high watermark from its last
        # fetch, so lag costs no request; a consumer without one reports nothing.
        highwater = getattr(message.consumer, "highwater", None)
        if highwater is None or offset < 0:
            return
        try:
            end = highwater(TopicPartition(topic, partition))
        except Exception:
            return
        if isinstance(end, int):
            observability.record_consumer_lag(self._group_id, topic, partition, end - offset - 1)

    async def _apply(self, session: AsyncClientSession, event: events_pb2.Event) -> bool:
        # The mark goes in first: for an event seen before, its unique _id fails the
        # insert (DuplicateKeyError, handled by the caller as a duplicate) and the
        # transaction aborts with nothing done, which spares every event a lookup.
        await self._processed.insert_one(
            {
                "_id": event.envelope.event_id,
                "tenant_id": event.envelope.tenant_id,
                "type": event_type(event),
                "processed_at": now(),
            },
            session=session,
        )
        await self._handle(session, event)
        return True

    async def _back_off(self, event_id: str, error: Exception) -> None:
        attempts = self._failures.get(event_id, 0) + 1
        self._failures[event_id] = attempts
        delay = min(self._max_backoff, 0.1 * 2 ** (attempts - 1))
        log.warning(
            "%s could not apply event %s (attempt %d, retrying in %.1fs): %r",
            self.name,
            event_id,
            attempts,
            delay,
            error,
        )
        await asyncio.sleep(delay)

    async def _dead_letter(self, message: KafkaMessage, reason: str) -> None:
        record = message.raw_message
        origin = getattr(record, "topic", "?"), getattr(record, "partition", -1)
        offset = getattr(record, "offset", -1)
        headers = {key: str(value) for key, value in message.headers.items()}
        headers.update(
            {
                "quorum-dlq-reason": reason,
                "quorum-dlq-consumer": self.name,
                "quorum-dlq-origin": f"{origin[0]}/{origin[1]}@{offset}",
            }
        )
        # Whoever inspects the dead letter lands on this failed processing span.
        headers.update(observability.current_trace_context())
        log.error("%s dead-lettered %s/%s@%s: %s", self.name, *origin, offset, reason)
        # Confirmed before the offset is committed: the poison is kept, not lost.
        await self._broker.publish(
            message.body,
            topic=self._dead_letter_topic,
            key=getattr(record, "key", None),
            headers=headers,
        )

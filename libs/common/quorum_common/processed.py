"""What a consumer's handler is given, and how a consumer marks what it applied.

`EventConsumer` (consumer.py) applies each fetched batch in one transaction: it marks
every fresh event in PROCESSED (so a redelivered one is skipped) and hands the batch to
the service's `Handler`. The mark and the handler's writes commit together.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.errors import BulkWriteError, DuplicateKeyError

from quorum.events.v1 import events_pb2
from quorum_common.events import event_type, now
from quorum_common.mongo import Document
from quorum_common.unit_of_work import Unit

__all__ = [
    "PROCESSED",
    "PROCESSED_INDEXES",
    "Consumed",
    "Handler",
    "duplicate",
    "one_by_one",
    "processed_mark",
]

PROCESSED = "processed_events"
PROCESSED_INDEXES = [
    # Kept longer than Kafka's retention, so no redelivery can outlive its record.
    IndexModel(
        [("processed_at", ASCENDING)],
        name="expire_processed",
        expireAfterSeconds=int(timedelta(days=30).total_seconds()),
    )
]


@dataclass(frozen=True)
class Consumed:
    """One fresh event handed to a handler, and the trace context the events it causes continue."""

    event: events_pb2.Event
    trace: dict[str, str] = field(default_factory=dict)


# Applies fresh events in order inside one transaction; raises PoisonEvent for one that
# can never apply (the batch then goes one by one and that event is dead-lettered).
Handler = Callable[[Unit, Sequence[Consumed]], Awaitable[None]]


def duplicate(error: DuplicateKeyError | BulkWriteError) -> bool:
    """A unique key refused the write: the event's mark, or a handler's own key."""
    if isinstance(error, DuplicateKeyError):
        return True
    errors = error.details.get("writeErrors") or []
    return bool(errors) and all(e.get("code") == 11000 for e in errors)


def processed_mark(event: events_pb2.Event) -> Document:
    return {
        "_id": event.envelope.event_id,
        "tenant_id": event.envelope.tenant_id,
        "type": event_type(event),
        "processed_at": now(),
    }


def one_by_one(
    apply: Callable[[Any, events_pb2.Event], Awaitable[None]],
) -> Handler:
    """A handler that applies each event with `apply(session, event)`, in order.

    For handlers whose work is small or rare enough not to need set-based code.
    """

    async def handle(unit: Unit, consumed: Sequence[Consumed]) -> None:
        for item in consumed:
            await apply(unit.session, item.event)

    return handle

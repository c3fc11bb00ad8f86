"""The event envelope, topic names and Kafka headers every service agrees on."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from google.protobuf.message import DecodeError
from google.protobuf.timestamp_pb2 import Timestamp

from quorum.events.v1 import events_pb2

SCHEMA_VERSION = 1
EVENT_TYPE_HEADER = "quorum-event-type"
EVENT_ID_HEADER = "quorum-event-id"
TENANT_HEADER = "quorum-tenant-id"


@dataclass(frozen=True)
class Topics:
    """Topic names; one per publishing service and version, optionally prefixed."""

    prefix: str = ""

    @property
    def ideas(self) -> str:
        return f"{self.prefix}quorum.ideas.v1"

    @property
    def validation(self) -> str:
        return f"{self.prefix}quorum.validation.v1"

    @property
    def notifications(self) -> str:
        return f"{self.prefix}quorum.notifications.v1"

    def dead_letter(self, consumer: str) -> str:
        return f"{self.prefix}quorum.{consumer}.dlq.v1"


def now() -> datetime:
    return datetime.now(UTC)


def timestamp(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def from_timestamp(stamp: Timestamp) -> datetime:
    return stamp.ToDatetime(tzinfo=UTC)


def new_event(
    *, tenant_id: str, idea_id: str, producer: str, at: datetime | None = None
) -> events_pb2.Event:
    """An Event with a fresh envelope; the caller sets exactly one payload."""
    event = events_pb2.Event()
    envelope = event.envelope
    envelope.event_id = str(uuid.uuid4())
    envelope.tenant_id = tenant_id
    envelope.idea_id = idea_id
    envelope.occurred_at.CopyFrom(timestamp(at or now()))
    envelope.producer = producer
    envelope.schema_version = SCHEMA_VERSION
    return event


def event_type(event: events_pb2.Event) -> str:
    """The payload's message name, e.g. "IdeaSubmitted"; empty when none is set."""
    field = event.WhichOneof("payload")
    if field is None:
        return ""
    return str(type(getattr(event, field)).DESCRIPTOR.name)


def headers(event: events_pb2.Event) -> dict[str, str]:
    return {
        EVENT_TYPE_HEADER: event_type(event),
        EVENT_ID_HEADER: event.envelope.event_id,
        TENANT_HEADER: event.envelope.tenant_id,
    }


class PoisonEvent(Exception):
    """An event that can never be processed; it goes to the dead-letter topic."""


def decode(raw: bytes) -> events_pb2.Event:
    """Parse and check an event; raise PoisonEvent saying what is wrong."""
    event = events_pb2.Event()
    try:
        event.ParseFromString(raw)
    except DecodeError as error:
        raise PoisonEvent(f"undecodable: {error}") from None
    envelope = event.envelope
    problems = []
    try:
        uuid.UUID(envelope.event_id)
    except ValueError:
        problems.append("envelope.event_id is not a UUID")
    if not envelope.tenant_id:
        problems.append("envelope.tenant_id is empty")
    if not envelope.producer:
        problems.append("envelope.producer is empty")
    if envelope.schema_version != SCHEMA_VERSION:
        problems.append(f"envelope.schema_version {envelope.schema_version} is not supported")
    if event.WhichOneof("payload") is None:
        problems.append("no payload")
    if problems:
        raise PoisonEvent("; ".join(problems))
    return event

"""The AsyncAPI 3 document of Quorum's Kafka events, generated from the protos' descriptors.

Written by `make proto` beside the generated code (quorum/events/v1/asyncapi.json) and
compared by `make proto-check`, so it is never edited by hand and never stale. What it
says comes from where the code says it: topic names from `quorum_common.events.Topics`,
headers and keys from `quorum_common.events` and the outbox, the payloads (JSON Schema
of each message's proto3 JSON form, with the protos' comments) from the descriptors,
and what each consumer takes from the services' own declarations (the `kinds` they
hand to their EventConsumer). Which service publishes which payload is declared here,
in PUBLISHES: the code builds events in many places and declares it nowhere else, and
a payload added to `Event` without a line here stops `make proto` (see `_publishers`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from google.protobuf import descriptor_pb2

from quorum_common import events
from quorum_devtools.openapi import _Protos, _Schemas
from quorum_ideas.store import PROJECTED
from quorum_notifications.__main__ import DELIVERY_DEAD_LETTERS
from quorum_notifications.fanout import Intake
from quorum_validation.handler import KINDS as VALIDATION_KINDS

EVENT = "quorum.events.v1.Event"
ENVELOPE = "quorum.events.v1.Envelope"
KAFKA_BINDING = "0.5.0"
PROTOBUF = "application/x-protobuf"
TOPICS = events.Topics()

# The payloads each service publishes on its own topic (its outbox's).
PUBLISHES: dict[str, tuple[str, ...]] = {
    "ideas": ("IdeaSubmitted", "IdeaEndorsed", "EndorsementWithdrawn", "IdeasMerged"),
    "validation": (
        "StageAdvanced",
        "StageAdvanceRejected",
        "GateOpened",
        "GateClosed",
        "IdeaDeclined",
        "CouncilVoteCast",
        "StageOverridden",
        "IdeaCoSigned",
        "IntroductionRequested",
        "IntroductionAnswered",
    ),
    "notifications": ("NotificationDelivered", "NotificationFailed"),
}


@dataclass(frozen=True)
class Consumer:
    """One consumer group: the topics it reads (its __main__'s `sources`) and the kinds
    it applies (its `kinds`; None: every kind)."""

    name: str
    sources: tuple[str, ...]
    kinds: frozenset[str] | None
    purpose: str


CONSUMERS = (
    Consumer(
        "ideas",
        ("validation",),
        frozenset(PROJECTED),
        "Projects each idea's stage and status for ListIdeas and GetIdea.",
    ),
    Consumer(
        "validation",
        ("ideas",),
        frozenset(VALIDATION_KINDS),
        "Folds ideas and endorsements into the stage ledger and judges the gates.",
    ),
    Consumer(
        "notifications",
        ("ideas", "validation"),
        frozenset(Intake.KINDS),
        "Keeps who submitted and endorsed each idea, and notifies them.",
    ),
    Consumer(
        "gateway",
        ("ideas", "validation", "notifications"),
        None,
        "Keeps the tenant's event log for WatchEvents and forgets cached ideas.",
    ),
)

TOPIC_TEXT = {
    "ideas": "Ideas and endorsements, published by the ideas service.",
    "validation": "Stages, gates, decisions, councils and peer introductions, published by "
    "the validation service (the stage ledger).",
    "notifications": "What became of each notification, published by the notifications service.",
}

RECORD_TEXT = (
    "Every record's value is one `quorum.events.v1.Event` in protobuf binary encoding "
    "(content type application/x-protobuf): the envelope and exactly one payload. The "
    "payload schemas below describe that message in its proto3 JSON form (what "
    "`google.protobuf.json_format.MessageToDict` gives: lowerCamelCase names, 64-bit "
    "integers as strings, enums by name, Timestamps as RFC 3339), generated from "
    "proto/quorum/events/v1/events.proto; decode the value with the generated code of "
    "that file in any language. The record key is the envelope's idea id (UTF-8), or the "
    "tenant id for a tenant-wide event, so one idea's events stay in order on one "
    "partition. Consumers must deduplicate on the event id (delivery is at least once) "
    "and skip payloads they do not know (new ones are added without a new topic "
    "version). Topic names carry `KAFKA_TOPIC_PREFIX` in front when it is set."
)


def _publishers() -> dict[str, str]:
    """Payload type → publishing service, every payload once."""
    publisher: dict[str, str] = {}
    for service, kinds in PUBLISHES.items():
        for kind in kinds:
            if kind in publisher:
                raise ValueError(f"{kind} is published by {publisher[kind]} and {service}")
            publisher[kind] = service
    return publisher


def _headers(kind: str | None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    type_header: dict[str, Any] = {
        "type": "string",
        "description": "The payload's message name (the `Event.payload` field set).",
    }
    if kind is not None:
        type_header["const"] = kind
    properties: dict[str, Any] = {
        events.EVENT_TYPE_HEADER: type_header,
        events.EVENT_ID_HEADER: {
            "type": "string",
            "format": "uuid",
            "description": "The envelope's event id: deduplicate on it.",
        },
        events.TENANT_HEADER: {"type": "string", "description": "The envelope's tenant id."},
        "traceparent": {
            "type": "string",
            "description": "W3C trace context of the span that sent the record (the "
            "request or consumed event that caused it).",
        },
        "tracestate": {"type": "string", "description": "W3C trace state, when any."},
        "baggage": {"type": "string", "description": "W3C baggage, when any."},
        **(extra or {}),
    }
    required = [events.EVENT_TYPE_HEADER, events.EVENT_ID_HEADER, events.TENANT_HEADER]
    if extra:
        required += list(extra)
    return {
        "type": "object",
        "description": "Kafka record headers, UTF-8 strings.",
        "properties": properties,
        "required": required,
    }


KEY = {
    "type": "string",
    "description": "The envelope's idea id (a UUID), or its tenant id when the event "
    "concerns no idea.",
}

DEAD_LETTER_HEADERS = {
    "quorum-dlq-reason": {
        "type": "string",
        "maxLength": 1000,
        "description": "Why the consumer could never apply the record.",
    },
    "quorum-dlq-consumer": {"type": "string", "description": "The consumer that gave up."},
    "quorum-dlq-origin": {
        "type": "string",
        "pattern": "^.+/[0-9]+@[0-9]+$",
        "description": "Where the record was read: <topic>/<partition>@<offset>.",
    },
}


class _Document:
    def __init__(self, files: descriptor_pb2.FileDescriptorSet) -> None:
        self.protos = _Protos(files)
        self.schemas = _Schemas(self.protos)
        event = self.protos.messages[EVENT]
        # Payload name (e.g. IdeaSubmitted) → its field in the oneof.
        self.payloads = {
            field.type_name.rsplit(".", 1)[-1]: field
            for field in event.field
            if field.HasField("oneof_index")
        }
        self.messages: dict[str, Any] = {}

    def payload_message(self, kind: str) -> str:
        """The component message of one payload type, added once."""
        if kind not in self.messages:
            field = self.payloads[kind]
            type_name = field.type_name.lstrip(".")
            self.messages[kind] = {
                "name": kind,
                "title": kind,
                "summary": self.protos.comments.get(type_name, kind),
                "contentType": PROTOBUF,
                "headers": _headers(kind),
                "payload": {
                    "type": "object",
                    "description": f"A quorum.events.v1.Event whose payload is `{field.name}`.",
                    "properties": {
                        "envelope": self.schemas.ref(ENVELOPE),
                        field.json_name: self.schemas.ref(type_name),
                    },
                    "required": ["envelope", field.json_name],
                    "additionalProperties": False,
                },
                "bindings": {"kafka": {"key": KEY, "bindingVersion": KAFKA_BINDING}},
            }
        return kind

    def dead_letter_message(self) -> str:
        if "DeadLetter" not in self.messages:
            self.messages["DeadLetter"] = {
                "name": "DeadLetter",
                "title": "Dead letter",
                "summary": "A record a consumer could never apply, as it was read.",
                "description": "The value, key and headers of the original record, plus "
                "the reason. The value is usually a quorum.events.v1.Event, but may be "
                "undecodable (the reason then starts with `undecodable`).",
                "contentType": PROTOBUF,
                "headers": _headers(None, DEAD_LETTER_HEADERS),
                "payload": self.schemas.ref(EVENT),
                "bindings": {"kafka": {"key": KEY, "bindingVersion": KAFKA_BINDING}},
            }
        return "DeadLetter"


def _refs(channel: str, names: Iterable[str]) -> list[dict[str, str]]:
    return [{"$ref": f"#/channels/{channel}/messages/{name}"} for name in names]


def document(files: descriptor_pb2.FileDescriptorSet) -> dict[str, Any]:
    doc = _Document(files)
    publisher = _publishers()
    missing = sorted(set(doc.payloads) - set(publisher))
    if missing:
        raise ValueError(
            f"Event payloads {missing} have no publisher: declare them in "
            "quorum_devtools.asyncapi.PUBLISHES"
        )
    unknown = sorted(set(publisher) - set(doc.payloads))
    if unknown:
        raise ValueError(f"PUBLISHES names {unknown}, which are not Event payloads")
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for service, kinds in PUBLISHES.items():
        names = [doc.payload_message(kind) for kind in kinds]
        channels[service] = {
            "address": getattr(TOPICS, service),
            "title": getattr(TOPICS, service),
            "description": TOPIC_TEXT[service],
            "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in names},
            "bindings": {"kafka": {"topic": getattr(TOPICS, service), "bindingVersion": "0.5.0"}},
        }
        operations[f"{service}.sends.{service}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{service}"},
            "title": f"The {service} service publishes",
            "description": "From its transactional outbox: each event is committed with "
            "the state change it tells, then published in order (idempotent producer, "
            "acks=all).",
            "messages": _refs(service, names),
        }
    for consumer in CONSUMERS:
        for source in consumer.sources:
            kinds = PUBLISHES[source]
            taken = [k for k in kinds if consumer.kinds is None or k in consumer.kinds]
            if not taken:
                raise ValueError(f"consumer {consumer.name} reads {source} but takes nothing")
            operations[f"{consumer.name}.receives.{source}"] = {
                "action": "receive",
                "channel": {"$ref": f"#/channels/{source}"},
                "title": f"The {consumer.name} service consumes",
                "description": f"{consumer.purpose} Other payloads are passed over.",
                "messages": _refs(source, taken),
                "bindings": {
                    "kafka": {
                        "groupId": {"type": "string", "enum": [f"quorum-{consumer.name}"]},
                        "clientId": {"type": "string", "enum": [f"quorum-{consumer.name}"]},
                        "bindingVersion": KAFKA_BINDING,
                    }
                },
            }
        if consumer.kinds is not None:
            unread = consumer.kinds - {k for s in consumer.sources for k in PUBLISHES[s]}
            if unread:
                raise ValueError(f"consumer {consumer.name} takes {sorted(unread)} it never reads")
        dlq = f"{consumer.name}-dead-letters"
        channels[dlq] = {
            "address": TOPICS.dead_letter(consumer.name),
            "title": TOPICS.dead_letter(consumer.name),
            "description": f"Records the {consumer.name} consumer could never apply "
            "(undecodable, or invalid), with the reason; the stream went on without them.",
            "messages": {"DeadLetter": {"$ref": "#/components/messages/DeadLetter"}},
        }
        doc.dead_letter_message()
        operations[f"{consumer.name}.sends.{dlq}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{dlq}"},
            "messages": _refs(dlq, ["DeadLetter"]),
        }
    deliveries = "notifications-delivery-dead-letters"
    channels[deliveries] = {
        "address": TOPICS.dead_letter(DELIVERY_DEAD_LETTERS),
        "title": TOPICS.dead_letter(DELIVERY_DEAD_LETTERS),
        "description": "Notifications given up after NOTIFICATIONS_MAX_ATTEMPTS: a "
        "NotificationFailed of its own (its own event id) beside the one on "
        f"{TOPICS.notifications}.",
        "messages": {"NotificationFailed": {"$ref": "#/components/messages/NotificationFailed"}},
    }
    operations[f"notifications.sends.{deliveries}"] = {
        "action": "send",
        "channel": {"$ref": f"#/channels/{deliveries}"},
        "messages": _refs(deliveries, ["NotificationFailed"]),
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Quorum events on Kafka",
            "version": "v1",
            "description": RECORD_TEXT,
        },
        "defaultContentType": PROTOBUF,
        "servers": {
            "local": {
                "host": "127.0.0.1:19092",
                "protocol": "kafka",
                "description": "`make run`'s local broker (QUORUM_KAFKA_PORT).",
            },
            "kubernetes": {
                "host": "quorum-kafka-kafka-bootstrap:9092",
                "protocol": "kafka",
                "description": "The Strimzi cluster of deploy/, inside its namespace.",
            },
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": dict(sorted(doc.messages.items())),
            "schemas": dict(sorted(doc.schemas.schemas.items())),
        },
    }


def render(files: descriptor_pb2.FileDescriptorSet) -> str:
    return json.dumps(document(files), indent=2) + "\n"

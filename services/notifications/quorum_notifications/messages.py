"""Translations between the notification rules' types, MongoDB documents and protobuf."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from quorum.domain.v1 import domain_pb2
from quorum.events.v1 import events_pb2
from quorum.notifications.v1 import notifications_pb2
from quorum_common.events import SCHEMA_VERSION, now, timestamp
from quorum_notifications.domain import (
    Channel,
    Kind,
    Member,
    Outcome,
    Recipient,
    Scope,
    Status,
    Subscription,
    Team,
)
from quorum_notifications.signatures import Scheme

Document = dict[str, Any]
PRODUCER = "notifications"


# --- enums: protobuf numbers <-> the rules' names -------------------------------


def kind_of(number: int) -> Kind:
    return Kind(domain_pb2.NotificationKind.Name(number).removeprefix("NOTIFICATION_KIND_"))  # type: ignore[arg-type]


def kind_number(kind: Kind) -> domain_pb2.NotificationKind.ValueType:
    return domain_pb2.NotificationKind.Value(f"NOTIFICATION_KIND_{kind.value}")


def status_of(number: int) -> Status:
    return Status(notifications_pb2.DeliveryStatus.Name(number).removeprefix("DELIVERY_STATUS_"))  # type: ignore[arg-type]


def status_number(status: Status) -> notifications_pb2.DeliveryStatus.ValueType:
    return notifications_pb2.DeliveryStatus.Value(f"DELIVERY_STATUS_{status.value}")


def channel_number(channel: Channel) -> domain_pb2.Channel.ValueType:
    return domain_pb2.Channel.Value(f"CHANNEL_{channel.value}")


def outcome_number(outcome: Outcome) -> notifications_pb2.AttemptOutcome.ValueType:
    return notifications_pb2.AttemptOutcome.Value(f"ATTEMPT_OUTCOME_{outcome.value}")


def team_of(number: int) -> Team:
    return Team(domain_pb2.Team.Name(number).removeprefix("TEAM_"))  # type: ignore[arg-type]


def team_number(team: Team) -> domain_pb2.Team.ValueType:
    return domain_pb2.Team.Value(f"TEAM_{team.value}")


# --- recipients ------------------------------------------------------------------


def recipient_document(recipient: Recipient) -> Document:
    if recipient.member is not None:
        return {
            "type": "member",
            "organization_id": recipient.member.organization_id,
            "member_id": recipient.member.member_id,
        }
    if recipient.organization_id is not None:
        return {"type": "organization", "organization_id": recipient.organization_id}
    assert recipient.team is not None
    return {"type": "team", "team": recipient.team.value}


def recipient_of(doc: Document) -> Recipient:
    if doc["type"] == "member":
        return Recipient(member=Member(doc["organization_id"], doc["member_id"]))
    if doc["type"] == "organization":
        return Recipient(organization_id=doc["organization_id"])
    return Recipient(team=Team(doc["team"]))


def recipient_from(message: domain_pb2.Subscriber) -> Recipient:
    """A validated Subscriber message as a recipient."""
    which = message.WhichOneof("who")
    if which == "member":
        return Recipient(member=Member(message.member.organization_id, message.member.member_id))
    if which == "organization_id":
        return Recipient(organization_id=message.organization_id)
    return Recipient(team=team_of(message.team))


def scope_from(message: notifications_pb2.SubscriberScope) -> Scope:
    """A validated SubscriberScope message as a scope."""
    return Scope(
        recipients=tuple(recipient_from(s) for s in message.subscribers),
        organization_ids=tuple(message.organization_ids),
    )


def subscriber_message(recipient: Recipient) -> domain_pb2.Subscriber:
    if recipient.member is not None:
        return domain_pb2.Subscriber(
            member=domain_pb2.MemberRef(
                organization_id=recipient.member.organization_id,
                member_id=recipient.member.member_id,
            )
        )
    if recipient.organization_id is not None:
        return domain_pb2.Subscriber(organization_id=recipient.organization_id)
    assert recipient.team is not None
    return domain_pb2.Subscriber(team=team_number(recipient.team))


# --- subscriptions ---------------------------------------------------------------


def subscription_of(doc: Document) -> Subscription:
    return Subscription(
        subscription_id=doc["_id"],
        tenant_id=doc["tenant_id"],
        subscriber=recipient_of(doc["subscriber"]),
        channel=Channel(doc["channel"]),
        target=doc["target"],
        kinds=frozenset(Kind(k) for k in doc.get("kinds", [])),
    )


SCHEME_NUMBERS = {
    Scheme.QUORUM_V1: notifications_pb2.WEBHOOK_SCHEME_QUORUM_V1,
    Scheme.STANDARD: notifications_pb2.WEBHOOK_SCHEME_STANDARD,
}


def scheme_of(number: int) -> Scheme:
    """UNSPECIFIED is quorum-v1: what every subscription was before the choice existed."""
    return (
        Scheme.STANDARD if number == notifications_pb2.WEBHOOK_SCHEME_STANDARD else Scheme.QUORUM_V1
    )


def subscription_message(doc: Document, secret: str = "") -> notifications_pb2.Subscription:
    """The subscription as the API shows it; `secret` (plain) only in the answer that set it."""
    message = notifications_pb2.Subscription(
        subscription_id=doc["_id"],
        subscriber=subscriber_message(recipient_of(doc["subscriber"])),
        kinds=[kind_number(Kind(k)) for k in doc.get("kinds", [])],
        description=doc.get("description", ""),
        created_at=timestamp(doc["created_at"]),
    )
    if doc["channel"] == Channel.WEBHOOK.value:
        message.webhook.url = doc["target"]
        message.webhook.secret = secret
        message.webhook.scheme = SCHEME_NUMBERS[Scheme(doc.get("scheme", Scheme.QUORUM_V1))]
        expires = doc.get("previous_secret_expires_at")
        # A rollover that ran out is over, whether or not anyone ended it.
        if expires is not None and expires > now():
            message.webhook.previous_secret_expires_at.CopyFrom(timestamp(expires))
    else:
        message.email.address = doc["target"]
    return message


# --- deliveries ------------------------------------------------------------------


def attempt_message(doc: Document) -> notifications_pb2.DeliveryAttempt:
    return notifications_pb2.DeliveryAttempt(
        number=doc["number"],
        attempted_at=timestamp(doc["attempted_at"]),
        outcome=outcome_number(Outcome(doc["outcome"])),
        response_code=doc.get("response_code", 0),
        error=doc.get("error", ""),
        duration_ms=doc.get("duration_ms", 0),
    )


def delivery_message(doc: Document) -> notifications_pb2.Delivery:
    message = notifications_pb2.Delivery(
        delivery_id=doc["_id"],
        subscription_id=doc["subscription_id"],
        recipient=subscriber_message(recipient_of(doc["recipient"])),
        channel=channel_number(Channel(doc["channel"])),
        target=doc["target"],
        kind=kind_number(Kind(doc["kind"])),
        event_id=doc["event_id"],
        idea_id=doc["idea_id"],
        status=status_number(Status(doc["status"])),
        attempts=[attempt_message(a) for a in doc.get("attempts", [])],
        created_at=timestamp(doc["created_at"]),
    )
    if doc["status"] == Status.PENDING.value and doc.get("due_at") is not None:
        message.next_attempt_at.CopyFrom(timestamp(doc["due_at"]))
    if doc.get("completed_at") is not None:
        message.completed_at.CopyFrom(timestamp(doc["completed_at"]))
    return message


# --- events ----------------------------------------------------------------------


def _event(doc: Document, at: datetime) -> events_pb2.Event:
    event = events_pb2.Event()
    envelope = event.envelope
    envelope.event_id = str(uuid.uuid4())
    envelope.tenant_id = doc["tenant_id"]
    envelope.idea_id = doc["idea_id"]
    envelope.occurred_at.CopyFrom(timestamp(at))
    envelope.producer = PRODUCER
    envelope.schema_version = SCHEMA_VERSION
    return event


def _attempted(
    payload: events_pb2.NotificationDelivered | events_pb2.NotificationFailed,
    doc: Document,
    attempts: int,
    response_code: int,
) -> None:
    """What a delivered and a failed notification both say: which delivery, how it went."""
    payload.delivery_id = doc["_id"]
    payload.subscription_id = doc["subscription_id"]
    payload.recipient.CopyFrom(subscriber_message(recipient_of(doc["recipient"])))
    payload.channel = channel_number(Channel(doc["channel"]))
    payload.kind = kind_number(Kind(doc["kind"]))
    payload.source_event_id = doc["event_id"]
    payload.attempts = attempts
    payload.response_code = response_code


def delivered_event(
    doc: Document, attempts: int, response_code: int, at: datetime
) -> events_pb2.Event:
    event = _event(doc, at)
    _attempted(event.notification_delivered, doc, attempts, response_code)
    return event


def failed_event(
    doc: Document, attempts: int, response_code: int, error: str, at: datetime
) -> events_pb2.Event:
    event = _event(doc, at)
    payload = event.notification_failed
    _attempted(payload, doc, attempts, response_code)
    payload.error = error
    payload.endpoint = doc["endpoint"]
    return event

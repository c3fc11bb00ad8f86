"""Who hears of overrides and introductions (issue 8's notifications), pure."""

from __future__ import annotations

import uuid

from quorum.domain.v1 import domain_pb2
from quorum.events.v1 import events_pb2
from quorum_common.events import new_event
from quorum_notifications import content
from quorum_notifications.domain import (
    IdeaPeople,
    Kind,
    Member,
    Recipient,
    Team,
    audience,
    notification_of,
)


def event() -> events_pb2.Event:
    return new_event(tenant_id="acme", idea_id=str(uuid.uuid4()), producer="validation")


def test_an_override_tells_councils_admins_and_endorsers() -> None:
    overridden = event()
    payload = overridden.stage_overridden
    payload.from_stage, payload.to_stage = "IDEATION", "DISCOVERY"
    payload.justification = "A regulatory deadline forces this before evidence."
    payload.actor.CopyFrom(domain_pb2.Actor(principal_id="admin", display_name="Ada"))
    payload.council_organization_ids.extend(["bank", "shop"])
    notification = notification_of(overridden)
    assert notification is not None
    assert notification.kind is Kind.STAGE_OVERRIDDEN
    endorser = Member("megacorp", "m1")
    told = audience(
        notification, IdeaPeople(title="Hub", submitter=endorser, members=frozenset({endorser}))
    )
    recipients = told.recipients()
    assert Recipient(member=endorser) in recipients
    assert Recipient(organization_id="bank") in recipients
    assert Recipient(organization_id="shop") in recipients
    assert Recipient(team=Team.ADMINS) in recipients


def test_an_introduction_reaches_only_the_peer_then_only_the_requester() -> None:
    asked = event()
    asked.introduction_requested.introduction_id = "intro-1"
    asked.introduction_requested.requester_organization_id = "bakery"
    asked.introduction_requested.peer_organization_id = "clinic"
    asked.introduction_requested.message = "Shall we push this together?"
    notification = notification_of(asked)
    assert notification is not None
    assert notification.kind is Kind.INTRODUCTION_REQUESTED
    people = IdeaPeople(members=frozenset({Member("bakery", "b1"), Member("megacorp", "m1")}))
    assert audience(notification, people).recipients() == [Recipient(organization_id="clinic")]

    answered = event()
    answered.introduction_answered.introduction_id = "intro-1"
    answered.introduction_answered.requester_organization_id = "bakery"
    answered.introduction_answered.peer_organization_id = "clinic"
    answered.introduction_answered.accepted = True
    answered.introduction_answered.peer_contact = "cto@clinic.example"
    notification = notification_of(answered)
    assert notification is not None
    assert audience(notification, people).recipients() == [Recipient(organization_id="bakery")]
    assert notification.data["peer_contact"] == "cto@clinic.example"


def test_override_e_mails_carry_the_justification() -> None:
    document = {
        "id": "d1",
        "event_id": "e1",
        "occurred_at": "2026-11-23T12:00:00Z",
        "idea": {"id": "i1", "title": "Hub"},
        "recipient": {"type": "organization", "organization_id": "bank"},
        "data": {
            "from_stage": "IDEATION",
            "to_stage": "DISCOVERY",
            "justification": "A regulatory deadline forces this before evidence.",
            "by": "Ada",
            "summary": "needs 2 more customers",
        },
    }
    subject, body = content.email(document, Kind.STAGE_OVERRIDDEN)
    assert "override" in subject
    assert "A regulatory deadline forces this before evidence." in body

"""The recipients projection's rules: a batch folded into its last word, ids that sort."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from quorum.domain.v1 import domain_pb2
from quorum.events.v1 import events_pb2
from quorum_common.events import event_type, new_event
from quorum_notifications.domain import NOTIFYING_EVENTS, Member, notification_of
from quorum_notifications.fanout import Intake
from quorum_notifications.projection import (
    RECIPIENT_EVENTS,
    changes,
    idea_prefix,
    member_key,
    member_of_key,
    organization_prefix,
    prefix_end,
)
from support import events

TENANT = "acme-software"


def merged(source: str, target: str, *orgs: str) -> events_pb2.Event:
    event = new_event(tenant_id=TENANT, idea_id=target, producer="ideas")
    payload = event.ideas_merged
    payload.source_idea_id, payload.target_idea_id = source, target
    for org in orgs:
        payload.carried_members.add(organization_id=org, member_id=f"{org}-m1")
    payload.part, payload.parts = 1, 1
    return event


def test_the_last_event_about_a_member_in_a_batch_decides() -> None:
    first = events.submitted(TENANT, "megacorp")
    idea = first.envelope.idea_id
    found = changes(
        [
            first,
            events.endorsed(TENANT, idea, "bakery", 2),
            events.withdrawn(TENANT, idea, "bakery", 3),
            events.endorsed(TENANT, idea, "clinic", 4),
            events.withdrawn(TENANT, idea, "clinic", 5),
            events.endorsed(TENANT, idea, "clinic", 6),
            events.withdrawn(TENANT, idea, "megacorp", 7),
        ]
    )
    assert found.members == {
        (TENANT, idea, Member("megacorp", "megacorp-m1")): False,
        (TENANT, idea, Member("bakery", "bakery-m1")): False,
        (TENANT, idea, Member("clinic", "clinic-m1")): True,
    }
    # The submitter stays the submitter after withdrawing.
    assert found.ideas == {
        (TENANT, idea): {
            "title": "An idea",
            "submitter": {"organization_id": "megacorp", "member_id": "megacorp-m1"},
        }
    }


def test_a_merge_part_adds_its_members_to_the_target_and_marks_the_source() -> None:
    source, target = str(uuid.uuid4()), str(uuid.uuid4())
    found = changes([merged(source, target, "bakery", "clinic")])
    assert found.members == {
        (TENANT, target, Member("bakery", "bakery-m1")): True,
        (TENANT, target, Member("clinic", "clinic-m1")): True,
    }
    assert found.ideas == {(TENANT, source): {"merged_into": target}}


def test_events_that_are_not_about_endorsers_change_nothing() -> None:
    event = new_event(tenant_id=TENANT, idea_id=str(uuid.uuid4()), producer="validation")
    event.idea_declined.reason = "no"
    found = changes([event])
    assert not found.members
    assert not found.ideas


ids = st.text(min_size=1, max_size=12)


@given(st.tuples(ids, ids, ids, ids), st.tuples(ids, ids, ids, ids))
def test_member_ids_sort_by_tenant_idea_organization_and_member(
    a: tuple[str, str, str, str], b: tuple[str, str, str, str]
) -> None:
    key_a = member_key(a[0], a[1], Member(a[2], a[3]))
    key_b = member_key(b[0], b[1], Member(b[2], b[3]))
    assert member_of_key(key_a) == Member(a[2], a[3])
    # An idea's (and an organization's) records lie in its range, and nobody else's do.
    for prefix, same in [
        (idea_prefix(a[0], a[1]), a[:2] == b[:2]),
        (organization_prefix(a[0], a[1], a[2]), a[:3] == b[:3]),
    ]:
        assert prefix <= key_a < prefix_end(prefix)
        assert (prefix <= key_b < prefix_end(prefix)) == same
    assert (key_a == key_b) == (a == b)


def _every_payload() -> list[events_pb2.Event]:
    found = []
    for oneof_field in events_pb2.Event.DESCRIPTOR.oneofs_by_name["payload"].fields:
        event = new_event(tenant_id=TENANT, idea_id=str(uuid.uuid4()), producer="test")
        getattr(event, oneof_field.name).SetInParent()
        found.append(event)
    return found


def test_the_consumer_takes_every_kind_that_can_notify_or_change_recipients() -> None:
    everything = _every_payload()
    for event in everything:
        if event.WhichOneof("payload") == "stage_advanced":
            event.stage_advanced.from_stage = "IDEATION"  # an advance, not an entry
            event.stage_advanced.status = domain_pb2.IDEA_STATUS_OPEN
        notifies = notification_of(event) is not None
        assert notifies == (event_type(event) in NOTIFYING_EVENTS), event_type(event)
        touches = bool(changes([event]).members or changes([event]).ideas)
        if touches:
            assert event_type(event) in RECIPIENT_EVENTS
    # Every kind the consumer takes is a real event type (no typo drops one silently).
    assert {event_type(e) for e in everything} >= Intake.KINDS
    assert RECIPIENT_EVENTS | NOTIFYING_EVENTS <= Intake.KINDS

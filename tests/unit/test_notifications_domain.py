"""The notification rules: which events notify whom, deliveries, retries."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quorum.domain.v1 import domain_pb2
from quorum.events.v1 import events_pb2
from quorum_common.events import new_event
from quorum_notifications import content
from quorum_notifications.domain import (
    AttemptResult,
    Audience,
    Channel,
    IdeaPeople,
    Kind,
    Member,
    Outcome,
    Recipient,
    RetryPolicy,
    Subscription,
    Team,
    Verdict,
    audience,
    delivery_id,
    endpoint,
    http_result,
    notification_of,
    plan,
    ready,
)

TENANT = "acme-software"
ANA = Member("megacorp", "ana")
BO = Member("bakery", "bo")
CY = Member("bakery", "cy")


def validation_event(idea_id: str | None = None) -> events_pb2.Event:
    return new_event(tenant_id=TENANT, idea_id=idea_id or str(uuid.uuid4()), producer="validation")


def advanced(
    from_stage: str,
    to_stage: str,
    status: int = domain_pb2.IDEA_STATUS_OPEN,
    organizations: tuple[str, ...] = (),
    justification: str = "",
) -> events_pb2.Event:
    event = validation_event()
    payload = event.stage_advanced
    payload.from_stage, payload.to_stage = from_stage, to_stage
    payload.status = status  # type: ignore[assignment]
    payload.override_justification = justification
    for org in organizations:
        payload.report.weights.add(organization_id=org, eligible=True)
    return event


def gate_opened(stage: str = "DISCOVERY") -> events_pb2.Event:
    event = validation_event()
    event.gate_opened.stage = stage
    event.gate_opened.report.summary = f"gate into {stage} holds"
    event.gate_opened.report.policy_version = 2
    return event


def declined(reason: str = "Out of scope for this year") -> events_pb2.Event:
    event = validation_event()
    event.idea_declined.stage = "DISCOVERY"
    event.idea_declined.reason = reason
    return event


def subscription(
    subscriber: Recipient,
    target: str = "https://hooks.example.com/quorum",
    channel: Channel = Channel.WEBHOOK,
    kinds: frozenset[Kind] = frozenset(),
    subscription_id: str | None = None,
    tenant_id: str = TENANT,
) -> Subscription:
    return Subscription(
        subscription_id or str(uuid.uuid4()), tenant_id, subscriber, channel, target, kinds
    )


# --- which events notify, and whom ------------------------------------------------


def test_entering_the_pipeline_is_not_an_advance() -> None:
    assert notification_of(advanced("", "IDEATION")) is None


def test_an_advance_tells_its_endorsers_without_other_organizations_evidence() -> None:
    event = advanced("IDEATION", "DISCOVERY", organizations=("megacorp", "bakery"))
    found = notification_of(event)
    assert found is not None
    assert found.kind is Kind.STAGE_ADVANCED
    assert found.event_id == event.envelope.event_id
    assert found.data == {"from_stage": "IDEATION", "to_stage": "DISCOVERY", "overridden": False}
    assert found.organizations == {"megacorp", "bakery"}


def test_the_last_advance_is_told_as_a_launch() -> None:
    found = notification_of(advanced("BETA", "LAUNCH", domain_pb2.IDEA_STATUS_LAUNCHED))
    assert found is not None
    assert found.kind is Kind.IDEA_LAUNCHED


def test_an_override_is_visible_to_the_endorsers() -> None:
    found = notification_of(advanced("IDEATION", "DISCOVERY", justification="Strategic bet"))
    assert found is not None
    assert found.data["overridden"] is True


def test_a_decline_carries_its_reason() -> None:
    found = notification_of(declined("Out of scope for this year"))
    assert found is not None
    assert found.kind is Kind.IDEA_DECLINED
    assert found.data == {"stage": "DISCOVERY", "reason": "Out of scope for this year"}


def test_an_opened_gate_is_for_the_product_team() -> None:
    found = notification_of(gate_opened())
    assert found is not None
    assert found.kind is Kind.GATE_OPENED
    assert audience(found, IdeaPeople(members=frozenset({ANA}))) == Audience(
        teams=frozenset({Team.PRODUCT})
    )


@pytest.mark.parametrize("payload", ["gate_closed", "stage_advance_rejected"])
def test_closed_gates_and_refusals_notify_nobody(payload: str) -> None:
    event = validation_event()
    if payload == "gate_closed":
        event.gate_closed.stage = "DISCOVERY"
    else:
        event.stage_advance_rejected.to_stage = "DISCOVERY"
    assert notification_of(event) is None


def test_idea_events_notify_nobody() -> None:
    event = new_event(tenant_id=TENANT, idea_id=str(uuid.uuid4()), producer="ideas")
    event.idea_endorsed.member.organization_id = "bakery"
    assert notification_of(event) is None


def test_the_submitter_is_told_even_after_withdrawing() -> None:
    found = notification_of(advanced("IDEATION", "DISCOVERY"))
    assert found is not None
    people = IdeaPeople(title="t", submitter=ANA, members=frozenset({BO}))
    told = audience(found, people)
    assert told.members == {ANA, BO}
    # Organizations hear what their members hear: once each.
    assert [r.key for r in told.recipients()] == [
        "member:bakery/bo",
        "member:megacorp/ana",
        "organization:bakery",
        "organization:megacorp",
    ]


def test_waits_for_the_endorsements_the_event_names_but_not_forever() -> None:
    found = notification_of(advanced("IDEATION", "DISCOVERY", organizations=("megacorp", "bakery")))
    assert found is not None
    patience = timedelta(seconds=10)
    only_ana = IdeaPeople(submitter=ANA, members=frozenset({ANA}))
    both = IdeaPeople(submitter=ANA, members=frozenset({ANA, BO}))
    assert not ready(found, None, timedelta(0), patience)
    assert not ready(found, only_ana.organizations, timedelta(seconds=1), patience)
    assert ready(found, both.organizations, timedelta(0), patience)
    assert ready(found, only_ana.organizations, patience, patience)
    gate = notification_of(gate_opened())
    assert gate is not None
    assert ready(gate, None, timedelta(0), patience)


# --- subscriptions and deliveries --------------------------------------------------


def test_recipient_keys_are_unambiguous() -> None:
    assert Recipient(member=Member("a/b", "c")).key != Recipient(member=Member("a", "b/c")).key
    with pytest.raises(ValueError, match="exactly one"):
        Recipient(member=ANA, organization_id="megacorp")
    with pytest.raises(ValueError, match="exactly one"):
        Recipient()


def test_plan_matches_subscribers_kinds_and_tenant() -> None:
    found = notification_of(advanced("IDEATION", "DISCOVERY"))
    assert found is not None
    told = audience(found, IdeaPeople(submitter=ANA, members=frozenset({ANA, BO})))
    ana = subscription(Recipient(member=ANA))
    bakery = subscription(
        Recipient(organization_id="bakery"), channel=Channel.EMAIL, target="x@b.io"
    )
    cy = subscription(Recipient(member=CY))  # not an endorser
    declines_only = subscription(Recipient(member=BO), kinds=frozenset({Kind.IDEA_DECLINED}))
    product = subscription(Recipient(team=Team.PRODUCT))
    elsewhere = subscription(Recipient(member=ANA), tenant_id="other-vendor")
    planned = plan(found, told, [ana, bakery, cy, declines_only, product, elsewhere])
    assert {(p.subscription.subscription_id, p.recipient.key) for p in planned} == {
        (ana.subscription_id, "member:megacorp/ana"),
        (bakery.subscription_id, "organization:bakery"),
    }


def test_one_delivery_per_recipient_and_channel() -> None:
    found = notification_of(declined())
    assert found is not None
    told = audience(found, IdeaPeople(submitter=ANA))
    first = subscription(Recipient(member=ANA), subscription_id="1", kinds=frozenset())
    again = subscription(
        Recipient(member=ANA), subscription_id="2", kinds=frozenset({Kind.IDEA_DECLINED})
    )
    other = subscription(Recipient(member=ANA), target="https://other.example.com/")
    planned = plan(found, told, [again, other, first])
    assert len(planned) == 2
    assert {p.subscription.subscription_id for p in planned} == {"1", other.subscription_id}


def test_delivery_ids_are_derived_from_event_recipient_and_channel() -> None:
    event_id = str(uuid.uuid4())
    one = delivery_id(event_id, "member:megacorp/ana", "webhook:https://a.example/")
    assert one == delivery_id(event_id, "member:megacorp/ana", "webhook:https://a.example/")
    assert uuid.UUID(one).version == 5
    assert one != delivery_id(event_id, "member:megacorp/ana", "email:ana@megacorp.com")
    assert one != delivery_id(
        str(uuid.uuid4()), "member:megacorp/ana", "webhook:https://a.example/"
    )


def test_endpoints_group_by_origin_and_mail_domain() -> None:
    assert endpoint(Channel.WEBHOOK, "https://Hooks.Example.com:8443/a?b=c") == (
        "https://hooks.example.com:8443"
    )
    assert endpoint(Channel.WEBHOOK, "https://hooks.example.com/other") == (
        "https://hooks.example.com"
    )
    assert endpoint(Channel.EMAIL, "Ana@MegaCorp.com") == "email:megacorp.com"


# --- retries -----------------------------------------------------------------------


def test_success_is_a_2xx_only() -> None:
    assert http_result(200).succeeded
    assert http_result(204).succeeded
    assert not http_result(301).succeeded
    assert http_result(500, "boom") == AttemptResult(Outcome.FAILED, 500, "HTTP 500: boom")


def test_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    policy = RetryPolicy(max_attempts=10, base_seconds=2, max_seconds=60)
    assert policy.delay(1, 0.0) == 2
    assert policy.delay(2, 0.0) == 4
    assert policy.delay(3, 0.0) == 8
    assert policy.delay(3, 0.999) == pytest.approx(4, rel=0.01)
    assert policy.delay(9, 0.0) == 60
    assert policy.delay(1000, 0.0) == 60


@given(attempts=st.integers(min_value=1, max_value=200), rand=st.floats(0, 1, exclude_max=True))
def test_every_delay_is_within_half_and_all_of_its_ceiling(attempts: int, rand: float) -> None:
    policy = RetryPolicy(max_attempts=300, base_seconds=0.5, max_seconds=3600)
    ceiling = min(3600.0, 0.5 * 2.0 ** min(attempts - 1, 62))
    assert ceiling / 2 <= policy.delay(attempts, rand) <= ceiling


def test_attempts_are_bounded_and_refusals_final() -> None:
    policy = RetryPolicy(max_attempts=3, base_seconds=1, max_seconds=10)
    failed = AttemptResult(Outcome.FAILED, 503, "HTTP 503")
    assert policy.decide(1, failed, 0.0).verdict is Verdict.RETRY
    assert policy.decide(2, failed, 0.0).verdict is Verdict.RETRY
    assert policy.decide(3, failed, 0.0).verdict is Verdict.FAILED
    assert policy.decide(3, http_result(200), 0.0).verdict is Verdict.DELIVERED
    refused = AttemptResult(Outcome.REFUSED, 0, "refused")
    assert policy.decide(1, refused, 0.0).verdict is Verdict.FAILED
    timed_out = AttemptResult(Outcome.TIMED_OUT)
    assert policy.decide(1, timed_out, 0.5).delay == pytest.approx(0.75)


# --- content -----------------------------------------------------------------------


def test_the_body_names_the_idea_recipient_and_change() -> None:
    event = advanced("IDEATION", "DISCOVERY")
    found = notification_of(event)
    assert found is not None
    document = content.payload(found, Recipient(member=ANA), "d-1", "Export gate reports")
    assert document["type"] == "idea.stage_advanced"
    assert document["recipient"] == {
        "type": "member",
        "organization_id": "megacorp",
        "member_id": "ana",
    }
    assert document["idea"] == {"id": event.envelope.idea_id, "title": "Export gate reports"}
    assert document["occurred_at"].endswith("Z")
    assert content.body(document) == content.body(dict(reversed(document.items())))
    subject, text = content.email(document, Kind.STAGE_ADVANCED)
    assert subject == 'Quorum: "Export gate reports" moved to DISCOVERY'
    assert "moved from IDEATION to DISCOVERY" in text


def test_a_title_cannot_forge_mail_headers() -> None:
    found = notification_of(declined())
    assert found is not None
    document = content.payload(
        found, Recipient(team=Team.PRODUCT), "d-2", "Hi\r\nBcc: victim@example.com"
    )
    subject, text = content.email(document, Kind.IDEA_DECLINED)
    assert "\n" not in subject
    assert "\r" not in subject
    assert "Reason: Out of scope for this year" in text


def test_a_scope_admits_its_subscribers_and_its_organizations_members_only() -> None:
    from quorum_notifications.domain import Member, Recipient, Scope

    scope = Scope(
        recipients=(Recipient(member=Member("bakery", "ann")),),
        organization_ids=("shop/1",),
    )
    admitted = [
        Recipient(member=Member("bakery", "ann")),
        Recipient(organization_id="shop/1"),
        Recipient(member=Member("shop/1", "bo")),
    ]
    refused = [
        Recipient(member=Member("bakery", "cy")),
        Recipient(organization_id="bakery"),
        Recipient(organization_id="shop"),
        Recipient(member=Member("shop", "bo")),
        Recipient(member=Member("shop/10", "bo")),
    ]
    assert all(scope.admits(r.key) for r in admitted)
    assert not any(scope.admits(r.key) for r in refused)

"""Who is told what, and when to try again: the notification rules, without I/O.

An event becomes at most one `Notification` (its kind and who it is meant for).
The audience is resolved against a snapshot of the recipients projection; every
subscription whose subscriber is in the audience and wants that kind gets one
`Delivery` per (recipient, channel), identified by a deterministic id so that a
redelivered event can never notify the same recipient twice. Attempts follow a
`RetryPolicy`: exponential backoff with jitter, a bounded number of attempts.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum, StrEnum
from typing import Any
from urllib.parse import quote, urlsplit

from quorum.domain.v1 import domain_pb2
from quorum.events.v1 import events_pb2
from quorum_common.events import from_timestamp


class Kind(StrEnum):
    STAGE_ADVANCED = "STAGE_ADVANCED"
    IDEA_DECLINED = "IDEA_DECLINED"
    IDEA_LAUNCHED = "IDEA_LAUNCHED"
    GATE_OPENED = "GATE_OPENED"
    STAGE_OVERRIDDEN = "STAGE_OVERRIDDEN"
    INTRODUCTION_REQUESTED = "INTRODUCTION_REQUESTED"
    INTRODUCTION_ANSWERED = "INTRODUCTION_ANSWERED"

    @property
    def webhook_type(self) -> str:
        """The `type` field of a webhook body, e.g. "idea.stage_advanced"."""
        return _WEBHOOK_TYPES[self]


_WEBHOOK_TYPES = {
    Kind.STAGE_ADVANCED: "idea.stage_advanced",
    Kind.IDEA_DECLINED: "idea.declined",
    Kind.IDEA_LAUNCHED: "idea.launched",
    Kind.GATE_OPENED: "gate.opened",
    Kind.STAGE_OVERRIDDEN: "gate.overridden",
    Kind.INTRODUCTION_REQUESTED: "peer.introduction_requested",
    Kind.INTRODUCTION_ANSWERED: "peer.introduction_answered",
}


class Team(StrEnum):
    PRODUCT = "PRODUCT"
    ADMINS = "ADMINS"


class Channel(StrEnum):
    WEBHOOK = "WEBHOOK"
    EMAIL = "EMAIL"


class Status(StrEnum):
    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class Outcome(StrEnum):
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    REFUSED = "REFUSED"


@dataclass(frozen=True, order=True)
class Member:
    organization_id: str
    member_id: str


@dataclass(frozen=True)
class Recipient:
    """A subscriber: exactly one of a member, an organization or a team."""

    member: Member | None = None
    organization_id: str | None = None
    team: Team | None = None

    def __post_init__(self) -> None:
        if sum(x is not None for x in (self.member, self.organization_id, self.team)) != 1:
            raise ValueError("a recipient is exactly one of member, organization, team")

    @property
    def key(self) -> str:
        """Stable and unambiguous (ids are escaped), used in indexes and delivery ids."""
        if self.member is not None:
            org, member = self.member.organization_id, self.member.member_id
            return f"member:{quote(org, safe='')}/{quote(member, safe='')}"
        if self.organization_id is not None:
            return f"organization:{quote(self.organization_id, safe='')}"
        assert self.team is not None
        return f"team:{self.team.value}"


def members_prefix(organization_id: str) -> str:
    """What every member recipient key of this organization starts with."""
    return f"member:{quote(organization_id, safe='')}/"


@dataclass(frozen=True)
class Scope:
    """The subscribers a caller answers for: these recipients, these organizations and
    every member of them. What lies outside is, to that caller, not there at all."""

    recipients: tuple[Recipient, ...] = ()
    organization_ids: tuple[str, ...] = ()

    def keys(self) -> list[str]:
        """Recipient keys admitted exactly."""
        return [r.key for r in self.recipients] + [
            Recipient(organization_id=o).key for o in self.organization_ids
        ]

    def prefixes(self) -> list[str]:
        """Recipient key prefixes admitted: the members of the scope's organizations."""
        return [members_prefix(o) for o in self.organization_ids]

    def admits(self, recipient_key: str) -> bool:
        return recipient_key in self.keys() or recipient_key.startswith(tuple(self.prefixes()))


class Who(Enum):
    """Whom a kind of notification is meant for (the SPEC's table)."""

    ENDORSERS_AND_SUBMITTER = "endorsers_and_submitter"
    PRODUCT_TEAM = "product_team"
    # An override: the councils' member organizations, the admins, and the endorsers.
    COUNCILS_ADMINS_AND_ENDORSERS = "councils_admins_and_endorsers"
    # Organizations named by the event itself (a peer, a requester).
    ADDRESSED = "addressed"


@dataclass(frozen=True)
class Notification:
    """What an event tells, before anyone is chosen to hear it."""

    kind: Kind
    who: Who
    event_id: str
    tenant_id: str
    idea_id: str
    occurred_at: datetime
    # Kind-specific facts for the webhook body and the e-mail; JSON-ready.
    data: dict[str, Any]
    # Organizations the event says endorse the idea: the recipients projection must
    # know them before the endorsers can be chosen (idea and validation events
    # arrive on different topics, so one can overtake the other).
    organizations: frozenset[str] = frozenset()
    # Organizations told as a whole because the event names them (not endorsers).
    addressed: frozenset[str] = frozenset()


def _stage_advanced(event: events_pb2.Event) -> tuple[Kind, dict[str, Any]] | None:
    advanced = event.stage_advanced
    if not advanced.from_stage:
        return None  # the idea entered the pipeline: nobody moved it anywhere
    kind = (
        Kind.IDEA_LAUNCHED
        if advanced.status == domain_pb2.IDEA_STATUS_LAUNCHED
        else Kind.STAGE_ADVANCED
    )
    # No gate summary for customers: it can name other organizations, and
    # customers see only aggregate evidence.
    return kind, {
        "from_stage": advanced.from_stage,
        "to_stage": advanced.to_stage,
        "overridden": bool(advanced.override_justification),
    }


# The events that can call for a notification (event_type names): the consumer
# passes over every other kind but the idea events that say who endorses.
NOTIFYING_EVENTS = frozenset(
    {
        "StageAdvanced",
        "IdeaDeclined",
        "StageOverridden",
        "IntroductionRequested",
        "IntroductionAnswered",
        "GateOpened",
    }
)


def notification_of(event: events_pb2.Event) -> Notification | None:
    """The notification an event calls for, or None when nobody is to be told."""
    payload = event.WhichOneof("payload")
    who = Who.ENDORSERS_AND_SUBMITTER
    organizations: frozenset[str] = frozenset()
    addressed: frozenset[str] = frozenset()
    if payload == "stage_advanced":
        found = _stage_advanced(event)
        if found is None:
            return None
        kind, data = found
        # Whose endorsements the advance was judged on, to wait for them to be known here.
        # A report lists at most the 100 heaviest (weights_omitted counts the rest): on a
        # larger idea those stand for all, since every endorsement reaches the projection
        # in the order the ideas service published them.
        organizations = frozenset(w.organization_id for w in event.stage_advanced.report.weights)
    elif payload == "idea_declined":
        declined = event.idea_declined
        kind, data = Kind.IDEA_DECLINED, {"stage": declined.stage, "reason": declined.reason}
    elif payload == "stage_overridden":
        overridden = event.stage_overridden
        kind, who = Kind.STAGE_OVERRIDDEN, Who.COUNCILS_ADMINS_AND_ENDORSERS
        data = {
            "from_stage": overridden.from_stage,
            "to_stage": overridden.to_stage,
            "justification": overridden.justification,
            "by": overridden.actor.display_name or overridden.actor.principal_id,
            "summary": overridden.report.summary,
        }
        addressed = frozenset(overridden.council_organization_ids)
    elif payload == "introduction_requested":
        asked = event.introduction_requested
        kind, who = Kind.INTRODUCTION_REQUESTED, Who.ADDRESSED
        data = {
            "introduction_id": asked.introduction_id,
            "requester_organization_id": asked.requester_organization_id,
            "message": asked.message,
        }
        addressed = frozenset({asked.peer_organization_id})
    elif payload == "introduction_answered":
        answered = event.introduction_answered
        kind, who = Kind.INTRODUCTION_ANSWERED, Who.ADDRESSED
        data = {
            "introduction_id": answered.introduction_id,
            "peer_organization_id": answered.peer_organization_id,
            "accepted": answered.accepted,
            "peer_contact": answered.peer_contact if answered.accepted else "",
        }
        addressed = frozenset({answered.requester_organization_id})
    elif payload == "gate_opened":
        opened = event.gate_opened
        kind, who = Kind.GATE_OPENED, Who.PRODUCT_TEAM
        data = {
            "stage": opened.stage,
            "summary": opened.report.summary,
            "policy_version": opened.report.policy_version,
        }
    else:
        return None
    envelope = event.envelope
    return Notification(
        kind=kind,
        who=who,
        event_id=envelope.event_id,
        tenant_id=envelope.tenant_id,
        idea_id=envelope.idea_id,
        occurred_at=from_timestamp(envelope.occurred_at),
        data=data,
        organizations=organizations,
        addressed=addressed,
    )


@dataclass(frozen=True)
class IdeaPeople:
    """The recipients projection's view of one idea."""

    title: str = ""
    submitter: Member | None = None
    members: frozenset[Member] = frozenset()

    @property
    def organizations(self) -> frozenset[str]:
        return frozenset(m.organization_id for m in self.members)


@dataclass(frozen=True)
class Audience:
    """Everyone a notification is meant for.

    Organizations are told what their members are told; `organizations` also holds
    organizations addressed as a whole (e.g. a peer asked for an introduction).
    """

    members: frozenset[Member] = frozenset()
    organizations: frozenset[str] = frozenset()
    teams: frozenset[Team] = frozenset()

    def recipients(self) -> list[Recipient]:
        organizations = self.organizations | {m.organization_id for m in self.members}
        return [
            *(Recipient(member=m) for m in sorted(self.members)),
            *(Recipient(organization_id=o) for o in sorted(organizations)),
            *(Recipient(team=t) for t in sorted(self.teams)),
        ]


def audience(notification: Notification, idea: IdeaPeople | None) -> Audience:
    if notification.who is Who.PRODUCT_TEAM:
        return Audience(teams=frozenset({Team.PRODUCT}))
    if notification.who is Who.ADDRESSED:
        return Audience(organizations=notification.addressed)
    people = idea or IdeaPeople()
    members = set(people.members)
    if people.submitter is not None:
        members.add(people.submitter)  # told even after withdrawing their endorsement
    if notification.who is Who.COUNCILS_ADMINS_AND_ENDORSERS:
        # An override is never silent: the councils and the admins hear of it too.
        return Audience(
            members=frozenset(members),
            organizations=notification.addressed,
            teams=frozenset({Team.ADMINS}),
        )
    return Audience(members=frozenset(members))


def tells_endorsers(notification: Notification) -> bool:
    """Whether the audience includes the idea's endorsers (read from the projection)."""
    return notification.who in (Who.ENDORSERS_AND_SUBMITTER, Who.COUNCILS_ADMINS_AND_ENDORSERS)


def ready(
    notification: Notification,
    known: frozenset[str] | None,
    waited: timedelta,
    patience: timedelta,
) -> bool:
    """Whether the audience can be chosen now.

    Endorsers come from idea events, which may lag the validation event that
    calls for the notification; wait (up to `patience`) until the projection knows
    the idea (`known` is None until then) and every organization the event names
    (`known`: those of them with an endorsing member in the projection).
    """
    if notification.who is not Who.ENDORSERS_AND_SUBMITTER or waited >= patience:
        return True
    if known is None:
        return False
    return notification.organizations <= known


@dataclass(frozen=True)
class Subscription:
    subscription_id: str
    tenant_id: str
    subscriber: Recipient
    channel: Channel
    # The webhook URL or the e-mail address.
    target: str
    # Empty: every kind.
    kinds: frozenset[Kind] = frozenset()

    def wants(self, kind: Kind) -> bool:
        return not self.kinds or kind in self.kinds

    @property
    def channel_key(self) -> str:
        return channel_key(self.channel, self.target)


def channel_key(channel: Channel, target: str) -> str:
    # Mailbox names are case-insensitive in practice; URLs are compared as given.
    return f"email:{target.lower()}" if channel is Channel.EMAIL else f"webhook:{target}"


def endpoint(channel: Channel, target: str) -> str:
    """What one slow receiver has in common: a webhook's origin, a mailbox's domain.

    Deliveries in flight are limited per endpoint, so one slow or failing receiver
    occupies a few workers at most and never holds back the others.
    """
    if channel is Channel.EMAIL:
        return f"email:{target.rpartition('@')[2].lower()}"
    parts = urlsplit(target)
    return f"{parts.scheme}://{(parts.netloc.rpartition('@')[2]).lower()}"


_DELIVERY_NAMESPACE = uuid.UUID("6f1c2a52-2d0e-4c55-9a53-6e3d4f0b8a17")


def delivery_id(event_id: str, recipient_key: str, channel_key: str) -> str:
    """The same (event, recipient, channel) always yields the same delivery."""
    return str(uuid.uuid5(_DELIVERY_NAMESPACE, f"{event_id}\n{recipient_key}\n{channel_key}"))


@dataclass(frozen=True)
class Planned:
    delivery_id: str
    subscription: Subscription
    recipient: Recipient


def plan(
    notification: Notification, audience: Audience, subscriptions: Iterable[Subscription]
) -> list[Planned]:
    """One delivery per (recipient, channel) among the subscriptions that want it.

    Two subscriptions of one subscriber to the same address (say, for different
    kinds) still make one delivery; the first subscription by id carries it.
    """
    wanted = {r.key: r for r in audience.recipients()}
    planned: dict[str, Planned] = {}
    for subscription in sorted(subscriptions, key=lambda s: s.subscription_id):
        recipient = wanted.get(subscription.subscriber.key)
        if recipient is None or subscription.tenant_id != notification.tenant_id:
            continue
        if not subscription.wants(notification.kind):
            continue
        identity = delivery_id(notification.event_id, recipient.key, subscription.channel_key)
        planned.setdefault(identity, Planned(identity, subscription, recipient))
    return list(planned.values())


@dataclass(frozen=True)
class AttemptResult:
    outcome: Outcome
    # HTTP status or SMTP reply code; 0 when none came back.
    response_code: int = 0
    error: str = ""

    @property
    def succeeded(self) -> bool:
        return self.outcome is Outcome.SUCCEEDED

    @property
    def permanent(self) -> bool:
        """Trying again cannot help: the address is one Quorum never calls."""
        return self.outcome is Outcome.REFUSED


def http_result(status: int, detail: str = "") -> AttemptResult:
    """Success is a 2xx; a redirect is not followed, so it is a failure too."""
    if 200 <= status < 300:
        return AttemptResult(Outcome.SUCCEEDED, status)
    error = f"HTTP {status}" + (f": {detail}" if detail else "")
    return AttemptResult(Outcome.FAILED, status, error)


class Verdict(Enum):
    DELIVERED = "delivered"
    RETRY = "retry"
    FAILED = "failed"


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    # Seconds until the next attempt, for RETRY.
    delay: float = 0.0


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter and a bounded number of attempts.

    After attempt n fails, the next one waits base * 2^(n-1) seconds, capped at
    `max_seconds`, scaled by a random factor in (0.5, 1] so that deliveries that
    failed together do not retry together.
    """

    max_attempts: int = 10
    base_seconds: float = 5.0
    max_seconds: float = 3600.0
    jitter: float = 0.5

    def delay(self, attempts: int, rand: float) -> float:
        """Seconds to wait after `attempts` failed attempts; `rand` is uniform in [0, 1)."""
        exponent = min(attempts - 1, 62)  # beyond this the cap applies anyway
        ceiling = min(self.max_seconds, self.base_seconds * 2.0**exponent)
        return ceiling * (1.0 - self.jitter * rand)

    def decide(self, attempts: int, result: AttemptResult, rand: float) -> Decision:
        """What follows the `attempts`-th attempt, which ended with `result`."""
        if result.succeeded:
            return Decision(Verdict.DELIVERED)
        if result.permanent or attempts >= self.max_attempts:
            return Decision(Verdict.FAILED)
        return Decision(Verdict.RETRY, self.delay(attempts, rand))

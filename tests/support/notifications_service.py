"""The notifications service in the test's event loop, the events it is fed, and what the
integration tests ask it.

Idea and validation events are published to Kafka as their services publish them; the
service runs in-process; deliveries land on a real aiohttp webhook receiver (which
checks signatures) and a real aiosmtpd SMTP server.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import grpc
from conftest import Isolation
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from quorum.domain.v1 import domain_pb2
from quorum.events.v1 import events_pb2
from quorum.notifications.v1 import notifications_pb2, notifications_pb2_grpc
from quorum_common.events import Topics, new_event
from quorum_devtools.sinks import WebhookSink
from quorum_notifications.__main__ import DELIVERY_DEAD_LETTERS, serve
from quorum_notifications.settings import NotificationsSettings
from support import events
from support.kafka import publish
from support.servers import Servers, free_port
from support.serving import serving
from support.waiting import until

if TYPE_CHECKING:
    from quorum.notifications.v1.notifications_pb2_grpc import NotificationsServiceAsyncStub


TENANT = "acme-software"
N = notifications_pb2
SECRET = "whsec_integration_tests_only"


# --- the service, in this test's event loop ----------------------------------------


@dataclass
class RunningNotifications:
    channel: grpc.aio.Channel
    api: NotificationsServiceAsyncStub
    topics: Topics
    database: AsyncDatabase[dict[str, Any]]
    bootstrap: str
    settings: NotificationsSettings

    @property
    def delivery_dead_letters(self) -> str:
        return self.topics.dead_letter(DELIVERY_DEAD_LETTERS)


@contextlib.asynccontextmanager
async def running_notifications(
    infra: Servers, isolation: Isolation, **overrides: Any
) -> AsyncIterator[RunningNotifications]:
    """The service with test-sized retries: 3 attempts, backoff of tens of milliseconds."""
    fields: dict[str, Any] = {
        "kafka_bootstrap_servers": infra.kafka_bootstrap_servers,
        "mongodb_uri": infra.mongodb_uri,
        "kafka_topic_prefix": isolation.topic_prefix,
        "notifications_mongodb_database": isolation.database("notifications"),
        "notifications_grpc_port": free_port(),
        "notifications_webhook_allow_private_networks": True,
        "notifications_max_attempts": 3,
        "notifications_backoff_base_seconds": 0.02,
        "notifications_backoff_max_seconds": 0.1,
        "notifications_webhook_timeout_seconds": 10,
        "notifications_recipients_wait_seconds": 10,
    }
    fields.update(overrides)
    settings = NotificationsSettings(**fields)
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongodb_uri, tz_aware=True)
    try:
        async with serving(
            "notifications",
            lambda stop: serve(settings, stop),
            settings.notifications_grpc_port,
        ) as channel:
            yield RunningNotifications(
                channel,
                notifications_pb2_grpc.NotificationsServiceStub(channel),
                Topics(isolation.topic_prefix),
                client[settings.notifications_mongodb_database],
                infra.kafka_bootstrap_servers,
                settings,
            )
    finally:
        await client.close()


@contextlib.asynccontextmanager
async def receiver(**options: Any) -> AsyncIterator[WebhookSink]:
    sink = WebhookSink(**options)
    await sink.start()
    try:
        yield sink
    finally:
        await sink.stop()


# --- events as the validation service publishes them --------------------------------


def _validation_event(idea_id: str) -> events_pb2.Event:
    return new_event(tenant_id=TENANT, idea_id=idea_id, producer="validation")


def entered(idea_id: str) -> events_pb2.Event:
    event = _validation_event(idea_id)
    event.stage_advanced.to_stage = "IDEATION"
    event.stage_advanced.status = domain_pb2.IDEA_STATUS_OPEN
    return event


def advanced(
    idea_id: str, from_stage: str, to_stage: str, organizations: list[str]
) -> events_pb2.Event:
    event = _validation_event(idea_id)
    payload = event.stage_advanced
    payload.from_stage, payload.to_stage = from_stage, to_stage
    payload.status = domain_pb2.IDEA_STATUS_OPEN
    payload.report.stage, payload.report.holds = to_stage, True
    for org in organizations:
        payload.report.weights.add(organization_id=org, eligible=True)
    payload.actor.principal_id = "pm-1"
    return event


def gate_opened(idea_id: str, stage: str = "DISCOVERY") -> events_pb2.Event:
    event = _validation_event(idea_id)
    event.gate_opened.stage = stage
    event.gate_opened.report.stage = stage
    event.gate_opened.report.holds = True
    event.gate_opened.report.summary = f"gate into {stage} holds"
    return event


def declined(idea_id: str, reason: str = "Not this year") -> events_pb2.Event:
    event = _validation_event(idea_id)
    event.idea_declined.stage = "IDEATION"
    event.idea_declined.reason = reason
    event.idea_declined.actor.principal_id = "pm-1"
    return event


def idea_with(*organizations: str) -> tuple[str, list[events_pb2.Event]]:
    """An idea submitted by the first organization, endorsed by the others."""
    first = events.submitted(TENANT, organizations[0])
    idea_id = first.envelope.idea_id
    rest = [
        events.endorsed(TENANT, idea_id, org, version)
        for version, org in enumerate(organizations[1:], start=2)
    ]
    return idea_id, [first, *rest]


# --- subscriptions and the log -------------------------------------------------------


def member(org: str) -> domain_pb2.Subscriber:
    # support.events names each organization's member "<org>-m1".
    return domain_pb2.Subscriber(
        member=domain_pb2.MemberRef(organization_id=org, member_id=f"{org}-m1")
    )


def organization(org: str) -> domain_pb2.Subscriber:
    return domain_pb2.Subscriber(organization_id=org)


PRODUCT = domain_pb2.Subscriber(team=domain_pb2.TEAM_PRODUCT)


async def subscribe_webhook(
    service: RunningNotifications,
    subscriber: domain_pb2.Subscriber,
    url: str,
    secret: str = SECRET,
    kinds: tuple[int, ...] = (),
    tenant_id: str = TENANT,
) -> N.Subscription:
    answer = await service.api.CreateSubscription(
        N.CreateSubscriptionRequest(
            tenant_id=tenant_id,
            subscription=N.Subscription(
                subscriber=subscriber,
                webhook=N.WebhookChannel(url=url, secret=secret),
                kinds=list(kinds),  # type: ignore[arg-type]
            ),
        )
    )
    return answer.subscription


async def subscribe_email(
    service: RunningNotifications,
    subscriber: domain_pb2.Subscriber,
    address: str,
    kinds: tuple[int, ...] = (),
) -> N.Subscription:
    answer = await service.api.CreateSubscription(
        N.CreateSubscriptionRequest(
            tenant_id=TENANT,
            subscription=N.Subscription(
                subscriber=subscriber,
                email=N.EmailChannel(address=address),
                kinds=list(kinds),  # type: ignore[arg-type]
            ),
        )
    )
    return answer.subscription


async def deliveries(service: RunningNotifications, **filters: Any) -> list[N.Delivery]:
    found: list[N.Delivery] = []
    token = ""
    while True:
        page = await service.api.ListDeliveries(
            N.ListDeliveriesRequest(tenant_id=TENANT, page_token=token, **filters)
        )
        found.extend(page.deliveries)
        token = page.next_page_token
        if not token:
            return found


async def eventually(check: Callable[[], Any], what: str, within: float = 30.0) -> None:
    """Poll until `check()` (sync or async) is truthy; the deadline only stops a hang."""
    await until(check, what, within)


async def introduce(service: RunningNotifications, history: list[events_pb2.Event]) -> None:
    """Publish an idea's events and wait until the recipients projection has them.

    The validation service decides about an idea only after it consumed these events;
    the notifications service consumes them on its own, and may lag behind it. An
    advance names the organizations it counted, so the service waits for those; a
    decline does not, so the tests that decline wait here.
    """
    await publish(service.bootstrap, service.topics.ideas, *history)
    idea_id = history[0].envelope.idea_id

    async def applied() -> bool:
        idea = await service.database["recipients"].find_one({"_id": idea_id})
        members = await service.database["recipient_members"].count_documents(
            {"tenant_id": TENANT, "idea_id": idea_id}
        )
        return idea is not None and members == len(history)

    await eventually(applied, f"the projection of idea {idea_id}")


async def settled(service: RunningNotifications, count: int, **filters: Any) -> list[N.Delivery]:
    """Wait until `count` deliveries match and none of them is PENDING any more."""
    found: list[N.Delivery] = []

    async def check() -> bool:
        nonlocal found
        found = await deliveries(service, **filters)
        return len(found) >= count and all(d.status != N.DELIVERY_STATUS_PENDING for d in found)

    await eventually(check, f"{count} settled deliveries matching {filters}")
    assert len(found) == count, [(d.recipient, d.kind) for d in found]
    return found

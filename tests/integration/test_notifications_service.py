"""The notifications service against the real broker and MongoDB, with real receivers.

Idea and validation events are published to Kafka as their services publish them;
the notifications service runs in-process; deliveries land on a real aiohttp
webhook receiver (which checks signatures) and a real aiosmtpd SMTP server.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import grpc
import pytest
from conftest import Isolation
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from quorum.domain.v1 import domain_pb2
from quorum.events.v1 import events_pb2
from quorum.notifications.v1 import notifications_pb2, notifications_pb2_grpc
from quorum_common.events import Topics, new_event, now
from quorum_devtools.sinks import MailSink, ReceivedWebhook, WebhookSink
from quorum_notifications.__main__ import DELIVERY_DEAD_LETTERS, serve
from quorum_notifications.settings import NotificationsSettings
from support import events
from support.kafka import Collector, publish
from support.servers import Servers, free_port

if TYPE_CHECKING:
    from quorum.notifications.v1.notifications_pb2_grpc import NotificationsServiceAsyncStub

pytestmark = pytest.mark.integration

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


async def _wait_serving(channel: grpc.aio.Channel, task: asyncio.Task[None]) -> None:
    deadline = time.monotonic() + 60
    stub = health_pb2_grpc.HealthStub(channel)
    while True:
        if task.done():
            task.result()
            raise RuntimeError("notifications stopped during start")
        with contextlib.suppress(grpc.aio.AioRpcError):
            answer = await stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
            if answer.status == health_pb2.HealthCheckResponse.SERVING:
                return
        if time.monotonic() > deadline:
            raise RuntimeError("notifications not SERVING after 60s")
        await asyncio.sleep(0.05)


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
    stop = asyncio.Event()
    task = asyncio.create_task(serve(settings, stop))
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongodb_uri, tz_aware=True)
    address = f"127.0.0.1:{settings.notifications_grpc_port}"
    async with grpc.aio.insecure_channel(address) as channel:
        try:
            await _wait_serving(channel, task)
            yield RunningNotifications(
                channel,
                notifications_pb2_grpc.NotificationsServiceStub(channel),
                Topics(isolation.topic_prefix),
                client[settings.notifications_mongodb_database],
                infra.kafka_bootstrap_servers,
                settings,
            )
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=30)
            await client.close()


@pytest.fixture
async def mail() -> AsyncIterator[MailSink]:
    sink = MailSink()
    await sink.start()
    yield sink
    await sink.stop()


@pytest.fixture
async def notifications(
    infra: Servers, isolation: Isolation, mail: MailSink
) -> AsyncIterator[RunningNotifications]:
    async with running_notifications(
        infra, isolation, notifications_smtp_port=mail.port
    ) as running:
        yield running


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
    deadline = time.monotonic() + within
    while True:
        outcome = check()
        if asyncio.iscoroutine(outcome):
            outcome = await outcome
        if outcome:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"never saw {what}")
        await asyncio.sleep(0.05)


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


def bad_fields(error: grpc.aio.AioRpcError) -> dict[str, str]:
    raw = dict(error.trailing_metadata() or ())["grpc-status-details-bin"]
    status = status_pb2.Status.FromString(raw)
    request = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(request)
    return {v.field: v.description for v in request.field_violations}


# --- the tests ------------------------------------------------------------------------


async def test_endorsers_receive_a_signed_webhook_when_their_idea_advances(
    notifications: RunningNotifications,
) -> None:
    async with receiver(secret=SECRET) as sink:
        bakery = await subscribe_webhook(notifications, member("bakery"), sink.url("/bakery"))
        clinic = await subscribe_webhook(notifications, organization("clinic"), sink.url("/clinic"))
        await subscribe_webhook(notifications, PRODUCT, sink.url("/product"))
        idea_id, history = idea_with("bakery", "clinic")
        entry = entered(idea_id)
        advance = advanced(idea_id, "IDEATION", "DISCOVERY", ["bakery", "clinic"])
        async with Collector(notifications.bootstrap, notifications.topics.notifications) as out:
            # The advance overtakes the idea events that say who endorsed: it names the
            # organizations it counted, and the service waits until it knows them.
            await publish(notifications.bootstrap, notifications.topics.validation, entry, advance)
            await publish(notifications.bootstrap, notifications.topics.ideas, *history)

            log = await settled(notifications, 2, idea_id=idea_id)
            await out.wait_for(lambda: len(out.records) >= 2, "two NotificationDelivered")

        assert {d.subscription_id for d in log} == {bakery.subscription_id, clinic.subscription_id}
        for delivery in log:
            assert delivery.status == N.DELIVERY_STATUS_DELIVERED
            assert delivery.kind == domain_pb2.NOTIFICATION_KIND_STAGE_ADVANCED
            assert delivery.event_id == advance.envelope.event_id
            assert delivery.channel == domain_pb2.CHANNEL_WEBHOOK
            assert [(a.number, a.outcome, a.response_code) for a in delivery.attempts] == [
                (1, N.ATTEMPT_OUTCOME_SUCCEEDED, 204)
            ]
            assert delivery.completed_at.seconds > 0
        # Entering the first stage tells nobody anything.
        assert await deliveries(notifications, event_id=entry.envelope.event_id) == []

        assert sink.on("/product") == []
        for path, recipient in [
            ("/bakery", {"type": "member", "organization_id": "bakery", "member_id": "bakery-m1"}),
            ("/clinic", {"type": "organization", "organization_id": "clinic"}),
        ]:
            [request] = sink.on(path)
            assert request.signature_ok is True
            assert request.headers["content-type"] == "application/json"
            assert request.headers["quorum-event-type"] == "idea.stage_advanced"
            body = request.json
            assert request.event_id == body["id"]
            assert body["id"] in {d.delivery_id for d in log}
            assert body["type"] == "idea.stage_advanced"
            assert body["event_id"] == advance.envelope.event_id
            assert body["tenant_id"] == TENANT
            assert body["recipient"] == recipient
            assert body["idea"] == {"id": idea_id, "title": "An idea"}
            assert body["data"] == {
                "from_stage": "IDEATION",
                "to_stage": "DISCOVERY",
                "overridden": False,
            }

        published = [events_pb2.Event.FromString(r.value) for r in out.records]
        assert {e.WhichOneof("payload") for e in published} == {"notification_delivered"}
        assert {e.notification_delivered.delivery_id for e in published} == {
            d.delivery_id for d in log
        }
        assert {dict(r.headers)["quorum-event-type"] for r in out.records} == {
            b"NotificationDelivered"
        }
        assert all(e.envelope.producer == "notifications" for e in published)
        assert all(e.envelope.idea_id == idea_id for e in published)


async def test_the_product_team_receives_an_email_when_a_gate_opens(
    notifications: RunningNotifications, mail: MailSink
) -> None:
    await subscribe_email(notifications, PRODUCT, "pm@acme-software.example")
    # Wants advances only: a gate opening is not for it anyway.
    await subscribe_email(
        notifications,
        member("bakery"),
        "bo@bakery.example",
        kinds=(domain_pb2.NOTIFICATION_KIND_STAGE_ADVANCED,),
    )
    idea_id, history = idea_with("bakery", "clinic", "bank")
    await introduce(notifications, history)
    await publish(notifications.bootstrap, notifications.topics.validation, gate_opened(idea_id))

    [delivery] = await settled(notifications, 1, idea_id=idea_id)
    assert delivery.status == N.DELIVERY_STATUS_DELIVERED
    assert delivery.recipient == PRODUCT
    assert delivery.target == "pm@acme-software.example"
    assert [(a.outcome, a.response_code) for a in delivery.attempts] == [
        (N.ATTEMPT_OUTCOME_SUCCEEDED, 250)
    ]
    await eventually(lambda: mail.messages, "the e-mail")
    [message] = mail.messages
    assert message.recipients == ("pm@acme-software.example",)
    assert message.subject == 'Quorum: The gate into DISCOVERY holds for "An idea"'
    assert "gate into DISCOVERY holds" in message.text
    assert message.message["Quorum-Event-Id"] == delivery.delivery_id
    assert delivery.delivery_id in str(message.message["Message-ID"])


async def test_a_receiver_that_fails_twice_gets_three_attempts_and_one_success(
    notifications: RunningNotifications,
) -> None:
    answers = iter([500, 503])

    async def flaky(request: ReceivedWebhook) -> int:
        return next(answers, 200)

    async with receiver(secret=SECRET, respond=flaky) as sink:
        await subscribe_webhook(notifications, member("bakery"), sink.url("/flaky"))
        idea_id, history = idea_with("bakery")
        async with Collector(notifications.bootstrap, notifications.topics.notifications) as out:
            await introduce(notifications, history)
            await publish(
                notifications.bootstrap,
                notifications.topics.validation,
                declined(idea_id, "Not on this year's roadmap"),
            )
            [delivery] = await settled(notifications, 1, idea_id=idea_id)
            await out.wait_for(lambda: bool(out.records), "NotificationDelivered")

        assert delivery.status == N.DELIVERY_STATUS_DELIVERED
        assert [(a.number, a.outcome, a.response_code) for a in delivery.attempts] == [
            (1, N.ATTEMPT_OUTCOME_FAILED, 500),
            (2, N.ATTEMPT_OUTCOME_FAILED, 503),
            (3, N.ATTEMPT_OUTCOME_SUCCEEDED, 200),
        ]
        assert delivery.attempts[0].error == "HTTP 500"
        requests = sink.on("/flaky")
        assert len(requests) == 3
        # Every attempt is signed afresh, with the same idempotency key and body.
        assert {r.event_id for r in requests} == {delivery.delivery_id}
        assert all(r.signature_ok for r in requests)
        assert len({r.body for r in requests}) == 1
        assert requests[0].json["data"] == {
            "stage": "IDEATION",
            "reason": "Not on this year's roadmap",
        }
        [event] = [events_pb2.Event.FromString(r.value) for r in out.records]
        assert event.notification_delivered.delivery_id == delivery.delivery_id
        assert event.notification_delivered.attempts == 3
        assert event.notification_delivered.response_code == 200


async def test_an_always_failing_receiver_is_dead_lettered_and_others_are_unaffected(
    notifications: RunningNotifications,
) -> None:
    async def down(request: ReceivedWebhook) -> int:
        return 500 if request.path == "/down" else 204

    async with receiver(secret=SECRET, respond=down) as sink:
        failing = await subscribe_webhook(notifications, member("bakery"), sink.url("/down"))
        working = await subscribe_webhook(notifications, member("clinic"), sink.url("/up"))
        idea_id, history = idea_with("bakery", "clinic")
        advance = advanced(idea_id, "IDEATION", "DISCOVERY", ["bakery", "clinic"])
        topics = [notifications.topics.notifications, notifications.delivery_dead_letters]
        async with Collector(notifications.bootstrap, *topics) as out:
            await publish(notifications.bootstrap, notifications.topics.ideas, *history)
            await publish(notifications.bootstrap, notifications.topics.validation, advance)
            log = {d.subscription_id: d for d in await settled(notifications, 2, idea_id=idea_id)}
            await out.wait_for(lambda: len(out.records) >= 3, "delivered, failed, dead letter")

        dead = log[failing.subscription_id]
        assert dead.status == N.DELIVERY_STATUS_FAILED
        assert [(a.outcome, a.response_code) for a in dead.attempts] == [
            (N.ATTEMPT_OUTCOME_FAILED, 500)
        ] * 3
        assert len(sink.on("/down")) == 3
        alive = log[working.subscription_id]
        assert alive.status == N.DELIVERY_STATUS_DELIVERED
        assert len(alive.attempts) == 1
        assert len(sink.on("/up")) == 1

        failed_only = await deliveries(notifications, status=N.DELIVERY_STATUS_FAILED)
        assert [d.delivery_id for d in failed_only] == [dead.delivery_id]

        by_topic: dict[str, list[events_pb2.Event]] = {}
        for record in out.records:
            by_topic.setdefault(record.topic, []).append(events_pb2.Event.FromString(record.value))
        [letter] = by_topic[notifications.delivery_dead_letters]
        assert letter.notification_failed.delivery_id == dead.delivery_id
        assert letter.notification_failed.endpoint == sink.url("")
        assert letter.notification_failed.attempts == 3
        assert letter.notification_failed.error == "HTTP 500"
        kinds = sorted(
            e.WhichOneof("payload") or "" for e in by_topic[notifications.topics.notifications]
        )
        assert kinds == ["notification_delivered", "notification_failed"]


async def test_a_slow_receiver_does_not_hold_back_others(
    infra: Servers, isolation: Isolation
) -> None:
    release = asyncio.Event()

    async def stuck(request: ReceivedWebhook) -> int:
        await release.wait()
        return 204

    organizations = [f"org{i}" for i in range(7)]
    async with (
        running_notifications(
            infra,
            isolation,
            # Without the per-endpoint cap, the slow receiver would take every slot.
            notifications_delivery_concurrency=5,
            notifications_endpoint_concurrency=2,
            notifications_webhook_timeout_seconds=120,
        ) as service,
        receiver(secret=SECRET, respond=stuck) as slow,
        receiver(secret=SECRET) as fast,
    ):
        for org in organizations[:6]:
            await subscribe_webhook(service, member(org), slow.url(f"/{org}"))
        await subscribe_webhook(service, member(organizations[6]), fast.url("/fast"))
        idea_id, history = idea_with(*organizations)
        await publish(service.bootstrap, service.topics.ideas, *history)
        await publish(
            service.bootstrap,
            service.topics.validation,
            advanced(idea_id, "IDEATION", "DISCOVERY", organizations),
        )
        try:
            [quick] = await settled(service, 1, idea_id=idea_id, status=N.DELIVERY_STATUS_DELIVERED)
            assert quick.target == fast.url("/fast")
            await eventually(lambda: len(slow.requests) == 2, "the slow receiver's two requests")
            # Held at the cap: no third request while two hang.
            assert len(slow.requests) == 2
            waiting = await deliveries(service, idea_id=idea_id, status=N.DELIVERY_STATUS_PENDING)
            assert len(waiting) == 6
            assert all(not d.attempts for d in waiting)
        finally:
            release.set()
        await settled(service, 7, idea_id=idea_id, status=N.DELIVERY_STATUS_DELIVERED)
        assert len(slow.requests) == 6


async def test_every_event_delivered_twice_notifies_nobody_twice(
    notifications: RunningNotifications, mail: MailSink
) -> None:
    async with receiver(secret=SECRET) as sink:
        await subscribe_webhook(notifications, member("bakery"), sink.url("/bakery"))
        await subscribe_email(notifications, organization("clinic"), "team@clinic.example")
        await subscribe_webhook(notifications, PRODUCT, sink.url("/product"))
        idea_id, history = idea_with("bakery", "clinic")
        told = [
            gate_opened(idea_id),
            advanced(idea_id, "IDEATION", "DISCOVERY", ["bakery", "clinic"]),
        ]
        bus, ideas, validation = (
            notifications.bootstrap,
            notifications.topics.ideas,
            notifications.topics.validation,
        )
        # Each event three times: the first copy right behind the original, one later.
        await introduce(notifications, history)
        await publish(bus, ideas, *history, *history)
        await publish(bus, validation, *[e for e in told for _ in (1, 2)], *told)
        # One partition per idea keeps order: once the marker is told, so were the copies.
        await publish(bus, validation, declined(idea_id))
        log = await settled(notifications, 5, idea_id=idea_id)

        def summary() -> list[tuple[str, int, int]]:
            return sorted((d.target.rsplit("/", 1)[-1], d.kind, len(d.attempts)) for d in log)

        assert summary() == [
            ("bakery", domain_pb2.NOTIFICATION_KIND_STAGE_ADVANCED, 1),
            ("bakery", domain_pb2.NOTIFICATION_KIND_IDEA_DECLINED, 1),
            ("product", domain_pb2.NOTIFICATION_KIND_GATE_OPENED, 1),
            ("team@clinic.example", domain_pb2.NOTIFICATION_KIND_STAGE_ADVANCED, 1),
            ("team@clinic.example", domain_pb2.NOTIFICATION_KIND_IDEA_DECLINED, 1),
        ]
        await eventually(lambda: len(mail.messages) == 2, "two e-mails")

        # Even with the consumer's memory of event ids gone (expired) and the fan-out
        # jobs with it, the same events cannot notify anyone again.
        await notifications.database["processed_events"].delete_many({})
        await notifications.database["fanout"].delete_many({})
        await publish(bus, ideas, *history)
        await publish(bus, validation, *told)
        marker = declined(idea_id, "Declined again, to mark the end of the stream")
        await publish(bus, validation, marker)
        await settled(
            notifications, 1, event_id=marker.envelope.event_id, recipient=member("bakery")
        )
        log = await settled(notifications, 7, idea_id=idea_id)
        assert len([d for d in log if d.event_id != marker.envelope.event_id]) == 5
        assert len(sink.on("/bakery")) == 3
        assert len(sink.on("/product")) == 1
        await eventually(lambda: len(mail.messages) == 3, "the marker's e-mail")
        assert len(mail.messages) == 3


async def test_subscriptions_are_checked_listed_and_deleted(
    notifications: RunningNotifications,
) -> None:
    api = notifications.api

    async def refused(subscription: N.Subscription, tenant_id: str = TENANT) -> dict[str, str]:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await api.CreateSubscription(
                N.CreateSubscriptionRequest(tenant_id=tenant_id, subscription=subscription)
            )
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        return bad_fields(caught.value)

    def hook(url: str, secret: str = "") -> N.Subscription:
        return N.Subscription(
            subscriber=member("bakery"), webhook=N.WebhookChannel(url=url, secret=secret)
        )

    for url in [
        "http://169.254.169.254/latest/meta-data/iam/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://[fe80::1]:8080/hook",
        "http://[::ffff:169.254.169.254]/",
    ]:
        assert set(await refused(hook(url))) == {"subscription.webhook.url"}, url
    problems = await refused(
        N.Subscription(
            webhook=N.WebhookChannel(url="gopher://x", secret="short"),
            kinds=[domain_pb2.NOTIFICATION_KIND_UNSPECIFIED, 99],  # type: ignore[list-item]
            description="x" * 201,
        ),
        tenant_id="",
    )
    assert set(problems) == {
        "tenant_id",
        "subscription.subscriber",
        "subscription.webhook.url",
        "subscription.webhook.secret",
        "subscription.kinds[0]",
        "subscription.kinds[1]",
        "subscription.description",
    }
    assert set(
        await refused(N.Subscription(subscriber=PRODUCT, email=N.EmailChannel(address="pm")))
    ) == {"subscription.email.address"}
    assert set(await refused(N.Subscription(subscriber=member("bakery")))) == {"subscription"}

    created = await subscribe_webhook(
        notifications, member("bakery"), "https://hooks.example.com/q", secret=""
    )
    assert created.webhook.secret.startswith("whsec_")
    assert len(created.webhook.secret) > 30
    mailbox = await subscribe_email(
        notifications,
        organization("bakery"),
        "team@bakery.example",
        (domain_pb2.NOTIFICATION_KIND_IDEA_DECLINED,),
    )
    await subscribe_webhook(notifications, PRODUCT, "https://pm.example.com/q")
    await subscribe_webhook(
        notifications, PRODUCT, "https://pm.example.com/q", tenant_id="other-vendor"
    )

    everything = await api.ListSubscriptions(N.ListSubscriptionsRequest(tenant_id=TENANT))
    assert len(everything.subscriptions) == 3
    assert all(not s.webhook.secret for s in everything.subscriptions)
    assert everything.subscriptions[0].subscription_id == created.subscription_id
    assert everything.subscriptions[1].kinds == [domain_pb2.NOTIFICATION_KIND_IDEA_DECLINED]
    first = await api.ListSubscriptions(N.ListSubscriptionsRequest(tenant_id=TENANT, page_size=2))
    rest = await api.ListSubscriptions(
        N.ListSubscriptionsRequest(tenant_id=TENANT, page_size=2, page_token=first.next_page_token)
    )
    assert [s.subscription_id for s in [*first.subscriptions, *rest.subscriptions]] == [
        s.subscription_id for s in everything.subscriptions
    ]
    assert rest.next_page_token == ""
    theirs = await api.ListSubscriptions(
        N.ListSubscriptionsRequest(tenant_id=TENANT, subscriber=organization("bakery"))
    )
    assert [s.subscription_id for s in theirs.subscriptions] == [mailbox.subscription_id]

    with pytest.raises(grpc.aio.AioRpcError) as other_tenant:
        await api.DeleteSubscription(
            N.DeleteSubscriptionRequest(
                tenant_id="other-vendor", subscription_id=created.subscription_id
            )
        )
    assert other_tenant.value.code() == grpc.StatusCode.NOT_FOUND
    await api.DeleteSubscription(
        N.DeleteSubscriptionRequest(tenant_id=TENANT, subscription_id=created.subscription_id)
    )
    with pytest.raises(grpc.aio.AioRpcError) as again:
        await api.DeleteSubscription(
            N.DeleteSubscriptionRequest(tenant_id=TENANT, subscription_id=created.subscription_id)
        )
    assert again.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as bad_token:
        await api.ListDeliveries(N.ListDeliveriesRequest(tenant_id=TENANT, page_token="nope"))
    assert bad_fields(bad_token.value) == {"page_token": "is not a token from a previous page"}


async def test_deleting_a_subscription_cancels_what_it_still_owed(
    infra: Servers, isolation: Isolation
) -> None:
    async def down(request: ReceivedWebhook) -> int:
        return 502

    async with (
        running_notifications(
            infra,
            isolation,
            notifications_backoff_base_seconds=600,
            notifications_backoff_max_seconds=600,
        ) as service,
        receiver(secret=SECRET, respond=down) as sink,
    ):
        subscription = await subscribe_webhook(service, member("bakery"), sink.url("/down"))
        idea_id, history = idea_with("bakery")
        await introduce(service, history)
        await publish(service.bootstrap, service.topics.validation, declined(idea_id))

        async def retrying() -> bool:
            found = await deliveries(service, idea_id=idea_id)
            return bool(found) and len(found[0].attempts) == 1

        await eventually(retrying, "the first failed attempt")
        [waiting] = await deliveries(service, idea_id=idea_id)
        assert waiting.status == N.DELIVERY_STATUS_PENDING
        assert waiting.next_attempt_at.seconds > waiting.attempts[0].attempted_at.seconds
        answer = await service.api.DeleteSubscription(
            N.DeleteSubscriptionRequest(
                tenant_id=TENANT, subscription_id=subscription.subscription_id
            )
        )
        assert answer.cancelled_deliveries == 1
        [cancelled] = await deliveries(service, idea_id=idea_id)
        assert cancelled.status == N.DELIVERY_STATUS_CANCELLED
        assert not cancelled.HasField("next_attempt_at")


async def test_metadata_and_private_addresses_are_refused_when_sending_too(
    infra: Servers, isolation: Isolation
) -> None:
    """Rules apply on every attempt: a host may resolve elsewhere than when it was checked."""
    async with (
        running_notifications(
            infra, isolation, notifications_webhook_allow_private_networks=False
        ) as service,
        receiver(secret=SECRET) as sink,
    ):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await subscribe_webhook(service, member("bakery"), f"http://localhost:{sink.port}/x")
        assert "resolves to" in bad_fields(caught.value)["subscription.webhook.url"]
        # Written as an older version (or a changed DNS record) could have left them.
        for org, url in [
            ("bakery", f"http://localhost:{sink.port}/x"),
            ("clinic", "http://169.254.169.254/latest/meta-data/"),
        ]:
            await service.database["subscriptions"].insert_one(
                {
                    "_id": str(uuid.uuid4()),
                    "tenant_id": TENANT,
                    "subscriber": {
                        "type": "member",
                        "organization_id": org,
                        "member_id": f"{org}-m1",
                    },
                    "subscriber_key": f"member:{org}/{org}-m1",
                    "channel": "WEBHOOK",
                    "target": url,
                    "secret": SECRET,
                    "kinds": [],
                    "description": "",
                    "created_at": now(),
                }
            )
        idea_id, history = idea_with("bakery", "clinic")
        await introduce(service, history)
        await publish(service.bootstrap, service.topics.validation, declined(idea_id))
        log = await settled(service, 2, idea_id=idea_id)
        for delivery in log:
            assert delivery.status == N.DELIVERY_STATUS_FAILED
            [attempt] = delivery.attempts
            assert attempt.outcome == N.ATTEMPT_OUTCOME_REFUSED
            assert attempt.error.startswith("refused: ")
        assert sink.requests == []

"""The notifications service delivering, against the real broker and MongoDB, with real
receivers: signed webhooks, e-mail, retries, dead letters, slow receivers, redelivered
events (the service: support/notifications_service.py).
"""

from __future__ import annotations

import asyncio

import pytest
from conftest import Isolation

from quorum.domain.v1 import domain_pb2
from quorum.events.v1 import events_pb2
from quorum_devtools.sinks import MailSink, ReceivedWebhook
from support.kafka import Collector, publish
from support.notifications_service import (
    PRODUCT,
    SECRET,
    TENANT,
    N,
    RunningNotifications,
    advanced,
    declined,
    deliveries,
    entered,
    eventually,
    gate_opened,
    idea_with,
    introduce,
    member,
    organization,
    receiver,
    running_notifications,
    settled,
    subscribe_email,
    subscribe_webhook,
)
from support.servers import Servers

pytestmark = pytest.mark.integration


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

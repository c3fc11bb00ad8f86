"""The notifications service's subscriptions against the real broker and MongoDB: checked,
listed and deleted, what a deleted one still owed, addresses refused when sending (the
service: support/notifications_service.py).
"""

from __future__ import annotations

import uuid

import grpc
import pytest
from conftest import Isolation

from quorum.domain.v1 import domain_pb2
from quorum_common.events import now
from quorum_devtools.sinks import ReceivedWebhook
from support.kafka import publish
from support.notifications_service import (
    PRODUCT,
    SECRET,
    TENANT,
    N,
    RunningNotifications,
    declined,
    deliveries,
    eventually,
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
from support.statuses import bad_fields

pytestmark = pytest.mark.integration


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
    bad = N.Subscription(
        webhook=N.WebhookChannel(url="gopher://x", secret="short"),
        kinds=[domain_pb2.NOTIFICATION_KIND_UNSPECIFIED, 99],  # type: ignore[list-item]
        description="x" * 201,
    )
    # Whose the request is comes first (quorum_common.callers), then every other field.
    assert set(await refused(bad, tenant_id="")) == {"tenant_id"}
    problems = await refused(bad)
    assert set(problems) == {
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

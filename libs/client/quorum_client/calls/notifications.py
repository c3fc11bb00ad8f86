"""The calls of `quorum.gateway.v1.NotificationsService`.

Subscriptions (webhook or e-mail) and the delivery log.
"""

from __future__ import annotations

from functools import cached_property

from quorum.domain.v1 import domain_pb2
from quorum.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from quorum.notifications.v1 import notifications_pb2
from quorum_client.channel import Connection

UNSPECIFIED_STATUS = notifications_pb2.DELIVERY_STATUS_UNSPECIFIED


class NotificationsCalls(Connection):
    @cached_property
    def _notifications(self) -> gateway_pb2_grpc.NotificationsServiceStub:
        return gateway_pb2_grpc.NotificationsServiceStub(self._channel)

    def create_subscription(
        self, subscription: notifications_pb2.Subscription
    ) -> notifications_pb2.Subscription:
        """Subscribe; a webhook's generated secret is in the answer, and only there."""
        return self._call(
            self._notifications.CreateSubscription,
            gateway_pb2.CreateSubscriptionRequest(subscription=subscription),
        ).subscription

    def list_subscriptions(
        self,
        subscriber: domain_pb2.Subscriber | None = None,
        page_size: int = 0,
        page_token: str = "",
    ) -> gateway_pb2.ListSubscriptionsResponse:
        request = gateway_pb2.ListSubscriptionsRequest(page_size=page_size, page_token=page_token)
        if subscriber is not None:
            request.subscriber.CopyFrom(subscriber)
        return self._call(self._notifications.ListSubscriptions, request)

    def delete_subscription(self, subscription_id: str) -> int:
        """Ends a subscription; returns how many pending deliveries were cancelled."""
        return self._call(
            self._notifications.DeleteSubscription,
            gateway_pb2.DeleteSubscriptionRequest(subscription_id=subscription_id),
        ).cancelled_deliveries

    def list_deliveries(
        self,
        *,
        idea_id: str = "",
        subscription_id: str = "",
        status: notifications_pb2.DeliveryStatus.ValueType = UNSPECIFIED_STATUS,
        page_size: int = 0,
        page_token: str = "",
    ) -> gateway_pb2.ListDeliveriesResponse:
        return self._call(
            self._notifications.ListDeliveries,
            gateway_pb2.ListDeliveriesRequest(
                idea_id=idea_id,
                subscription_id=subscription_id,
                status=status,
                page_size=page_size,
                page_token=page_token,
            ),
        )

    def rotate_webhook_secret(
        self, subscription_id: str, *, secret: str = "", previous_valid_seconds: int = 0
    ) -> notifications_pb2.Subscription:
        """A new signing secret (in the answer only); the previous one signs too for a while."""
        return self._call(
            self._notifications.RotateWebhookSecret,
            gateway_pb2.RotateWebhookSecretRequest(
                subscription_id=subscription_id,
                secret=secret,
                previous_valid_seconds=previous_valid_seconds,
            ),
        ).subscription

    def end_webhook_secret_rollover(self, subscription_id: str) -> notifications_pb2.Subscription:
        return self._call(
            self._notifications.EndWebhookSecretRollover,
            gateway_pb2.EndWebhookSecretRolloverRequest(subscription_id=subscription_id),
        ).subscription

"""The calls of `quorum.gateway.v1.NotificationsService`.

Subscriptions (webhook or e-mail) and the delivery log.
"""

# mypy: disable-error-code="empty-body"
# (each call is declared by its signature; quorum_client.channel.unary makes the call)

from __future__ import annotations

from quorum.domain.v1 import domain_pb2
from quorum.gateway.v1 import gateway_pb2
from quorum.notifications.v1 import notifications_pb2
from quorum_client.channel import Connection, unary

UNSPECIFIED_STATUS = notifications_pb2.DELIVERY_STATUS_UNSPECIFIED


class NotificationsCalls(Connection):
    @unary(
        gateway_pb2.CreateSubscriptionRequest,
        gateway_pb2.CreateSubscriptionResponse,
        lambda answer: answer.subscription,
    )
    def create_subscription(
        self, subscription: notifications_pb2.Subscription
    ) -> notifications_pb2.Subscription:
        """Subscribe; a webhook's generated secret is in the answer, and only there."""

    @unary(gateway_pb2.ListSubscriptionsRequest, gateway_pb2.ListSubscriptionsResponse)
    def list_subscriptions(
        self,
        subscriber: domain_pb2.Subscriber | None = None,
        page_size: int = 0,
        page_token: str = "",
    ) -> gateway_pb2.ListSubscriptionsResponse: ...

    @unary(
        gateway_pb2.DeleteSubscriptionRequest,
        gateway_pb2.DeleteSubscriptionResponse,
        lambda answer: answer.cancelled_deliveries,
    )
    def delete_subscription(self, subscription_id: str) -> int:
        """Ends a subscription; returns how many pending deliveries were cancelled."""

    @unary(gateway_pb2.ListDeliveriesRequest, gateway_pb2.ListDeliveriesResponse)
    def list_deliveries(
        self,
        *,
        idea_id: str = "",
        subscription_id: str = "",
        status: notifications_pb2.DeliveryStatus.ValueType = UNSPECIFIED_STATUS,
        page_size: int = 0,
        page_token: str = "",
    ) -> gateway_pb2.ListDeliveriesResponse: ...

    @unary(
        gateway_pb2.RotateWebhookSecretRequest,
        gateway_pb2.RotateWebhookSecretResponse,
        lambda answer: answer.subscription,
    )
    def rotate_webhook_secret(
        self, subscription_id: str, *, secret: str = "", previous_valid_seconds: int = 0
    ) -> notifications_pb2.Subscription:
        """A new signing secret (in the answer only); the previous one signs too for a while."""

    @unary(
        gateway_pb2.EndWebhookSecretRolloverRequest,
        gateway_pb2.EndWebhookSecretRolloverResponse,
        lambda answer: answer.subscription,
    )
    def end_webhook_secret_rollover(
        self, subscription_id: str
    ) -> notifications_pb2.Subscription: ...

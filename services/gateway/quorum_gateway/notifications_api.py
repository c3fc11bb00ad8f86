"""The public NotificationsService: each caller's subscriptions and delivery log."""

from __future__ import annotations

from quorum.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from quorum.notifications.v1 import notifications_pb2
from quorum_gateway.api import Context, Gateway
from quorum_gateway.auth import current_principal
from quorum_gateway.principals import Principal, own_subscriber, subscriber_scope


class NotificationsApi(gateway_pb2_grpc.NotificationsServiceServicer):
    def __init__(self, gateway: Gateway) -> None:
        self._backends = gateway.backends

    async def CreateSubscription(
        self, request: gateway_pb2.CreateSubscriptionRequest, context: Context
    ) -> gateway_pb2.CreateSubscriptionResponse:
        principal = current_principal()
        subscription = notifications_pb2.Subscription()
        subscription.CopyFrom(request.subscription)
        subscription.subscriber.CopyFrom(own_subscriber(principal, subscription.subscriber))
        answer = await self._backends.call(
            self._backends.notifications.CreateSubscription,
            notifications_pb2.CreateSubscriptionRequest(
                tenant_id=principal.tenant_id, subscription=subscription
            ),
            context,
        )
        return gateway_pb2.CreateSubscriptionResponse(subscription=answer.subscription)

    async def ListSubscriptions(
        self, request: gateway_pb2.ListSubscriptionsRequest, context: Context
    ) -> gateway_pb2.ListSubscriptionsResponse:
        principal = current_principal()
        inner = notifications_pb2.ListSubscriptionsRequest(
            tenant_id=principal.tenant_id,
            page_size=request.page_size,
            page_token=request.page_token,
        )
        if request.HasField("subscriber"):
            inner.subscriber.CopyFrom(own_subscriber(principal, request.subscriber))
        _scoped(inner, principal)
        answer = await self._backends.call(
            self._backends.notifications.ListSubscriptions, inner, context
        )
        return gateway_pb2.ListSubscriptionsResponse(
            subscriptions=answer.subscriptions, next_page_token=answer.next_page_token
        )

    async def DeleteSubscription(
        self, request: gateway_pb2.DeleteSubscriptionRequest, context: Context
    ) -> gateway_pb2.DeleteSubscriptionResponse:
        principal = current_principal()
        # A customer or integration ends only its own: anything else is NOT_FOUND to it.
        answer = await self._backends.call(
            self._backends.notifications.DeleteSubscription,
            notifications_pb2.DeleteSubscriptionRequest(
                tenant_id=principal.tenant_id,
                subscription_id=request.subscription_id,
                scope=subscriber_scope(principal),
            ),
            context,
        )
        return gateway_pb2.DeleteSubscriptionResponse(
            cancelled_deliveries=answer.cancelled_deliveries
        )

    async def ListDeliveries(
        self, request: gateway_pb2.ListDeliveriesRequest, context: Context
    ) -> gateway_pb2.ListDeliveriesResponse:
        principal = current_principal()
        inner = notifications_pb2.ListDeliveriesRequest(
            tenant_id=principal.tenant_id,
            subscription_id=request.subscription_id,
            idea_id=request.idea_id,
            event_id=request.event_id,
            status=request.status,
            kind=request.kind,
            page_size=request.page_size,
            page_token=request.page_token,
        )
        if request.HasField("recipient"):
            inner.recipient.CopyFrom(own_subscriber(principal, request.recipient))
        _scoped(inner, principal)
        answer = await self._backends.call(
            self._backends.notifications.ListDeliveries, inner, context
        )
        return gateway_pb2.ListDeliveriesResponse(
            deliveries=answer.deliveries, next_page_token=answer.next_page_token
        )

    async def RotateWebhookSecret(
        self, request: gateway_pb2.RotateWebhookSecretRequest, context: Context
    ) -> gateway_pb2.RotateWebhookSecretResponse:
        principal = current_principal()
        # As with deleting: a customer or integration rotates only its own.
        answer = await self._backends.call(
            self._backends.notifications.RotateWebhookSecret,
            notifications_pb2.RotateWebhookSecretRequest(
                tenant_id=principal.tenant_id,
                subscription_id=request.subscription_id,
                secret=request.secret,
                previous_valid_seconds=request.previous_valid_seconds,
                scope=subscriber_scope(principal),
            ),
            context,
        )
        return gateway_pb2.RotateWebhookSecretResponse(subscription=answer.subscription)

    async def EndWebhookSecretRollover(
        self, request: gateway_pb2.EndWebhookSecretRolloverRequest, context: Context
    ) -> gateway_pb2.EndWebhookSecretRolloverResponse:
        principal = current_principal()
        answer = await self._backends.call(
            self._backends.notifications.EndWebhookSecretRollover,
            notifications_pb2.EndWebhookSecretRolloverRequest(
                tenant_id=principal.tenant_id,
                subscription_id=request.subscription_id,
                scope=subscriber_scope(principal),
            ),
            context,
        )
        return gateway_pb2.EndWebhookSecretRolloverResponse(subscription=answer.subscription)


def _scoped(
    inner: notifications_pb2.ListSubscriptionsRequest | notifications_pb2.ListDeliveriesRequest,
    principal: Principal,
) -> None:
    """A customer's or an integration's list holds only what is its own."""
    scope = subscriber_scope(principal)
    if scope is not None:
        inner.scope.CopyFrom(scope)

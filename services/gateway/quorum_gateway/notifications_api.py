"""The public NotificationsService: each caller's subscriptions and delivery log."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from google.protobuf.message import Message

from quorum.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from quorum.notifications.v1 import notifications_pb2
from quorum_gateway.api import Context, Gateway
from quorum_gateway.auth import current_principal
from quorum_gateway.backends import Shown
from quorum_gateway.principals import own_subscriber, subscriber_scope


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
            notifications_pb2.CreateSubscriptionRequest(subscription=subscription),
            context,
        )
        return gateway_pb2.CreateSubscriptionResponse(subscription=answer.subscription)

    async def ListSubscriptions(
        self, request: gateway_pb2.ListSubscriptionsRequest, context: Context
    ) -> gateway_pb2.ListSubscriptionsResponse:
        principal = current_principal()
        # A customer's or an integration's list holds only what is its own.
        return await self._backends.forward(
            self._backends.notifications.ListSubscriptions,
            request,
            gateway_pb2.ListSubscriptionsResponse,
            context,
            subscriber=(
                own_subscriber(principal, request.subscriber)
                if request.HasField("subscriber")
                else None
            ),
            scope=subscriber_scope(principal),
        )

    async def DeleteSubscription(
        self, request: gateway_pb2.DeleteSubscriptionRequest, context: Context
    ) -> gateway_pb2.DeleteSubscriptionResponse:
        return await self._within_scope(
            self._backends.notifications.DeleteSubscription,
            request,
            gateway_pb2.DeleteSubscriptionResponse,
            context,
        )

    async def ListDeliveries(
        self, request: gateway_pb2.ListDeliveriesRequest, context: Context
    ) -> gateway_pb2.ListDeliveriesResponse:
        principal = current_principal()
        # As with the subscriptions: only what is the caller's own.
        return await self._backends.forward(
            self._backends.notifications.ListDeliveries,
            request,
            gateway_pb2.ListDeliveriesResponse,
            context,
            recipient=(
                own_subscriber(principal, request.recipient)
                if request.HasField("recipient")
                else None
            ),
            scope=subscriber_scope(principal),
        )

    async def RotateWebhookSecret(
        self, request: gateway_pb2.RotateWebhookSecretRequest, context: Context
    ) -> gateway_pb2.RotateWebhookSecretResponse:
        return await self._within_scope(
            self._backends.notifications.RotateWebhookSecret,
            request,
            gateway_pb2.RotateWebhookSecretResponse,
            context,
        )

    async def EndWebhookSecretRollover(
        self, request: gateway_pb2.EndWebhookSecretRolloverRequest, context: Context
    ) -> gateway_pb2.EndWebhookSecretRolloverResponse:
        return await self._within_scope(
            self._backends.notifications.EndWebhookSecretRollover,
            request,
            gateway_pb2.EndWebhookSecretRolloverResponse,
            context,
        )

    async def _within_scope(
        self,
        method: Callable[..., Awaitable[Message]],
        request: Message,
        answer: type[Shown],
        context: Context,
    ) -> Shown:
        """A call about one subscription, field by field, within the caller's own: a
        customer or an integration ends or rotates only its own, anything else is
        NOT_FOUND to it."""
        scope = subscriber_scope(current_principal())
        return await self._backends.forward(method, request, answer, context, scope=scope)

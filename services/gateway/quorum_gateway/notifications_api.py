"""The public NotificationsService: each caller's subscriptions and delivery log.

All but CreateSubscription are the notifications service's own calls, field by field
(`forwarding.py`), within what is the caller's own: a customer or an integration sees,
ends and rotates only its own subscriptions and deliveries, anything else is NOT_FOUND
to it (`principals.subscriber_scope`).
"""

from __future__ import annotations

from typing import Any, Literal

from quorum.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from quorum.notifications.v1 import notifications_pb2
from quorum_gateway.api import Context, Servicer
from quorum_gateway.auth import current_principal
from quorum_gateway.forwarding import Also, forwarded
from quorum_gateway.principals import Principal, own_subscriber, subscriber_scope


def _own(principal: Principal, request: Any) -> dict[str, Any]:
    """A call about one subscription: within the caller's own, else NOT_FOUND to it."""
    return {"scope": subscriber_scope(principal)}


def _own_list(filter_field: Literal["subscriber", "recipient"]) -> Also:
    """A list holds only the caller's own, and the subscriber it is filtered by (a
    subscriptions' subscriber, a deliveries' recipient), if it names one, is its own."""

    def also(principal: Principal, request: Any) -> dict[str, Any]:
        named = getattr(request, filter_field) if request.HasField(filter_field) else None
        return {
            filter_field: own_subscriber(principal, named) if named is not None else None,
            "scope": subscriber_scope(principal),
        }

    return also


class NotificationsApi(Servicer, gateway_pb2_grpc.NotificationsServiceServicer):
    ListSubscriptions = forwarded(
        "notifications", gateway_pb2.ListSubscriptionsResponse, also=_own_list("subscriber")
    )
    DeleteSubscription = forwarded(
        "notifications", gateway_pb2.DeleteSubscriptionResponse, also=_own
    )
    ListDeliveries = forwarded(
        "notifications", gateway_pb2.ListDeliveriesResponse, also=_own_list("recipient")
    )
    RotateWebhookSecret = forwarded(
        "notifications", gateway_pb2.RotateWebhookSecretResponse, also=_own
    )
    EndWebhookSecretRollover = forwarded(
        "notifications", gateway_pb2.EndWebhookSecretRolloverResponse, also=_own
    )

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

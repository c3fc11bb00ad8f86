"""The notifications service's internal gRPC API (only the gateway calls it)."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession

from quorum.domain.v1 import domain_pb2
from quorum.notifications.v1 import notifications_pb2, notifications_pb2_grpc
from quorum_common.errors import FieldViolation, InvalidArgument, NotFound, Violations
from quorum_common.events import now
from quorum_common.grpc_server import Context
from quorum_common.mongo import Document, in_transaction
from quorum_common.secretbox import SecretBox
from quorum_notifications import paging, signatures
from quorum_notifications.deliveries import DeliveryLog, Filters
from quorum_notifications.domain import Channel, Recipient, Scope
from quorum_notifications.messages import (
    delivery_message,
    kind_of,
    recipient_document,
    recipient_from,
    scheme_of,
    scope_from,
    status_of,
    subscription_message,
)
from quorum_notifications.signatures import Scheme
from quorum_notifications.subscriptions import Subscriptions
from quorum_notifications.webhooks import check_resolves

ID_MAX = 128
DESCRIPTION_MAX = 200
ADDRESS_MAX = 254
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$")
# Deliberately loose (mailbox syntax is vast); the SMTP server has the last word.
_ADDRESS = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$")
# Every defined value but UNSPECIFIED.
_KNOWN_KINDS = {n for n in domain_pb2.NotificationKind.values() if n != 0}
_KNOWN_TEAMS = {n for n in domain_pb2.Team.values() if n != 0}
_KNOWN_STATUSES = {n for n in notifications_pb2.DeliveryStatus.values() if n != 0}
# UNSPECIFIED too: it is quorum-v1, what every subscription had before the choice.
_KNOWN_SCHEMES = set(notifications_pb2.WebhookScheme.values())
ROLLOVER_DEFAULT_SECONDS = 86_400
ROLLOVER_MAX_SECONDS = 7 * 86_400


def _check_id(violations: Violations, field: str, value: str) -> None:
    if not value:
        violations.add(field, "is required")
    elif len(value) > ID_MAX or not _ID.match(value):
        violations.add(field, f"must be 1-{ID_MAX} letters, digits or ._:@- (no spaces)")


def _check_uuid(violations: Violations, field: str, value: str, required: bool = True) -> None:
    if not value and not required:
        return
    try:
        uuid.UUID(value)
    except ValueError:
        violations.add(field, "must be a UUID")


def _check_subscriber(
    violations: Violations, field: str, subscriber: domain_pb2.Subscriber
) -> None:
    which = subscriber.WhichOneof("who")
    if which is None:
        violations.add(field, "must name a member, an organization or a team")
    elif which == "member":
        _check_id(violations, f"{field}.member.organization_id", subscriber.member.organization_id)
        _check_id(violations, f"{field}.member.member_id", subscriber.member.member_id)
    elif which == "organization_id":
        _check_id(violations, f"{field}.organization_id", subscriber.organization_id)
    elif subscriber.team not in _KNOWN_TEAMS:
        violations.add(f"{field}.team", "must be a team, e.g. TEAM_PRODUCT")


def _check_scope(violations: Violations, message: Any, field: str = "scope") -> Scope | None:
    """The request's scope when it has one, each subscriber and organization checked."""
    if not message.HasField(field):
        return None
    scope = getattr(message, field)
    for i, subscriber in enumerate(scope.subscribers):
        _check_subscriber(violations, f"{field}.subscribers[{i}]", subscriber)
    for i, organization_id in enumerate(scope.organization_ids):
        _check_id(violations, f"{field}.organization_ids[{i}]", organization_id)
    if not scope.subscribers and not scope.organization_ids:
        violations.add(field, "must name a subscriber or an organization when set")
    return scope_from(scope) if not violations else None


def _check_email(violations: Violations, field: str, address: str) -> None:
    if not address:
        violations.add(field, "is required")
    elif len(address) > ADDRESS_MAX or not _ADDRESS.match(address):
        violations.add(field, "must be an e-mail address like name@example.com")


def _check_secret(violations: Violations, field: str, scheme: Scheme, secret: str) -> None:
    if secret:
        problem = signatures.secret_problem(scheme, secret)
        if problem is not None:
            violations.add(field, problem)


def _page_size(violations: Violations, size: int) -> int:
    if size > paging.PAGE_SIZE_MAX:
        violations.add("page_size", f"must be at most {paging.PAGE_SIZE_MAX}")
    return size or paging.PAGE_SIZE_DEFAULT


class NotificationsApi(notifications_pb2_grpc.NotificationsServiceServicer):
    def __init__(
        self,
        client: AsyncMongoClient[Document],
        subscriptions: Subscriptions,
        deliveries: DeliveryLog,
        allow_private_networks: bool,
        box: SecretBox,
    ) -> None:
        self._client = client
        self._subscriptions = subscriptions
        self._deliveries = deliveries
        self._allow_private = allow_private_networks
        self._box = box

    async def CreateSubscription(
        self, request: notifications_pb2.CreateSubscriptionRequest, context: Context
    ) -> notifications_pb2.CreateSubscriptionResponse:
        violations = Violations()
        wanted = request.subscription
        if not request.HasField("subscription"):
            violations.add("subscription", "is required")
        _check_subscriber(violations, "subscription.subscriber", wanted.subscriber)
        channel = wanted.WhichOneof("channel")
        if channel is None:
            violations.add("subscription", "must have a webhook or an email channel")
        elif channel == "webhook":
            problem = await check_resolves(wanted.webhook.url, self._allow_private)
            if problem is not None:
                violations.add("subscription.webhook.url", problem)
            if wanted.webhook.scheme not in _KNOWN_SCHEMES:
                violations.add("subscription.webhook.scheme", "must be a webhook scheme")
            scheme = scheme_of(wanted.webhook.scheme)
            _check_secret(violations, "subscription.webhook.secret", scheme, wanted.webhook.secret)
        else:
            _check_email(violations, "subscription.email.address", wanted.email.address)
        for index, number in enumerate(wanted.kinds):
            if number not in _KNOWN_KINDS:
                violations.add(f"subscription.kinds[{index}]", "must be a notification kind")
        if len(wanted.description) > DESCRIPTION_MAX:
            violations.add(
                "subscription.description", f"must be at most {DESCRIPTION_MAX} characters"
            )
        violations.raise_if_any()

        subscriber = recipient_from(wanted.subscriber)
        secret = ""
        doc: Document = {
            "_id": str(uuid.uuid4()),
            "tenant_id": request.tenant_id,
            "subscriber": recipient_document(subscriber),
            "subscriber_key": subscriber.key,
            "kinds": sorted({kind_of(n).value for n in wanted.kinds}),
            "description": wanted.description.strip(),
            "created_at": now(),
        }
        if channel == "webhook":
            doc["channel"] = Channel.WEBHOOK.value
            doc["target"] = wanted.webhook.url
            scheme = scheme_of(wanted.webhook.scheme)
            secret = wanted.webhook.secret or signatures.new_secret(scheme)
            doc["secret"] = self._box.seal(secret)
            doc["scheme"] = scheme.value
        else:
            doc["channel"] = Channel.EMAIL.value
            doc["target"] = wanted.email.address.strip()
        await self._subscriptions.add(doc)
        return notifications_pb2.CreateSubscriptionResponse(
            subscription=subscription_message(doc, secret)
        )

    async def ListSubscriptions(
        self, request: notifications_pb2.ListSubscriptionsRequest, context: Context
    ) -> notifications_pb2.ListSubscriptionsResponse:
        violations = Violations()
        key = None
        if request.HasField("subscriber"):
            _check_subscriber(violations, "subscriber", request.subscriber)
        size = _page_size(violations, request.page_size)
        scope = _check_scope(violations, request)
        violations.raise_if_any()
        if request.HasField("subscriber"):
            key = recipient_from(request.subscriber).key
        docs, last = await self._subscriptions.page(
            request.tenant_id, key, size, paging.decode(request.page_token), scope
        )
        return notifications_pb2.ListSubscriptionsResponse(
            subscriptions=[subscription_message(d) for d in docs],
            next_page_token=paging.encode(last),
        )

    async def DeleteSubscription(
        self, request: notifications_pb2.DeleteSubscriptionRequest, context: Context
    ) -> notifications_pb2.DeleteSubscriptionResponse:
        violations = Violations()
        _check_uuid(violations, "subscription_id", request.subscription_id)
        scope = _check_scope(violations, request)
        violations.raise_if_any()
        if scope is not None:
            # Outside the caller's scope a subscription is, to that caller, not there.
            found = await self._subscriptions.find(request.tenant_id, request.subscription_id)
            if found is None or not scope.admits(found["subscriber_key"]):
                raise NotFound(f"subscription {request.subscription_id} not found")

        async def work(session: AsyncClientSession) -> int | None:
            removed = await self._subscriptions.remove(
                session, request.tenant_id, request.subscription_id
            )
            if not removed:
                return None
            return await self._deliveries.cancel_subscription(
                session, request.tenant_id, request.subscription_id, now()
            )

        cancelled = await in_transaction(self._client, work)
        if cancelled is None:
            raise NotFound(f"subscription {request.subscription_id} not found")
        return notifications_pb2.DeleteSubscriptionResponse(cancelled_deliveries=cancelled)

    async def ListDeliveries(
        self, request: notifications_pb2.ListDeliveriesRequest, context: Context
    ) -> notifications_pb2.ListDeliveriesResponse:
        violations = Violations()
        _check_uuid(violations, "subscription_id", request.subscription_id, required=False)
        _check_uuid(violations, "idea_id", request.idea_id, required=False)
        _check_uuid(violations, "event_id", request.event_id, required=False)
        if request.status and request.status not in _KNOWN_STATUSES:
            violations.add("status", "must be a delivery status")
        if request.kind and request.kind not in _KNOWN_KINDS:
            violations.add("kind", "must be a notification kind")
        if request.HasField("recipient"):
            _check_subscriber(violations, "recipient", request.recipient)
        size = _page_size(violations, request.page_size)
        scope = _check_scope(violations, request)
        violations.raise_if_any()
        recipient: Recipient | None = (
            recipient_from(request.recipient) if request.HasField("recipient") else None
        )
        filters = Filters(
            subscription_id=request.subscription_id,
            idea_id=request.idea_id,
            event_id=request.event_id,
            status=status_of(request.status) if request.status else None,
            kind=kind_of(request.kind) if request.kind else None,
            recipient_key=recipient.key if recipient is not None else "",
            scope=scope,
        )
        docs, last = await self._deliveries.page(
            request.tenant_id, filters, size, paging.decode(request.page_token)
        )
        return notifications_pb2.ListDeliveriesResponse(
            deliveries=[delivery_message(d) for d in docs], next_page_token=paging.encode(last)
        )

    async def _own_webhook(
        self, tenant_id: str, subscription_id: str, scope: Scope | None
    ) -> Document:
        """The webhook subscription a rotation is about; NOT_FOUND outside the caller's scope."""
        found = await self._subscriptions.find(tenant_id, subscription_id)
        if found is None or (scope is not None and not scope.admits(found["subscriber_key"])):
            raise NotFound(f"subscription {subscription_id} not found")
        if found["channel"] != Channel.WEBHOOK.value:
            raise InvalidArgument(
                [FieldViolation("subscription_id", "is an e-mail subscription: it has no secret")]
            )
        return found

    async def RotateWebhookSecret(
        self, request: notifications_pb2.RotateWebhookSecretRequest, context: Context
    ) -> notifications_pb2.RotateWebhookSecretResponse:
        violations = Violations()
        _check_uuid(violations, "subscription_id", request.subscription_id)
        if request.previous_valid_seconds > ROLLOVER_MAX_SECONDS:
            violations.add(
                "previous_valid_seconds",
                f"must be at most {ROLLOVER_MAX_SECONDS} (seven days; 0: a day)",
            )
        scope = _check_scope(violations, request)
        violations.raise_if_any()
        found = await self._own_webhook(request.tenant_id, request.subscription_id, scope)
        scheme = Scheme(found.get("scheme", Scheme.QUORUM_V1))
        _check_secret(violations, "secret", scheme, request.secret)
        violations.raise_if_any()
        secret = request.secret or signatures.new_secret(scheme)
        keep = timedelta(seconds=request.previous_valid_seconds or ROLLOVER_DEFAULT_SECONDS)
        doc = await self._subscriptions.rotate(
            request.tenant_id, request.subscription_id, self._box.seal(secret), now() + keep
        )
        if doc is None:
            raise NotFound(f"subscription {request.subscription_id} not found")
        return notifications_pb2.RotateWebhookSecretResponse(
            subscription=subscription_message(doc, secret)
        )

    async def EndWebhookSecretRollover(
        self, request: notifications_pb2.EndWebhookSecretRolloverRequest, context: Context
    ) -> notifications_pb2.EndWebhookSecretRolloverResponse:
        violations = Violations()
        _check_uuid(violations, "subscription_id", request.subscription_id)
        scope = _check_scope(violations, request)
        violations.raise_if_any()
        await self._own_webhook(request.tenant_id, request.subscription_id, scope)
        doc = await self._subscriptions.end_rollover(request.tenant_id, request.subscription_id)
        if doc is None:
            raise NotFound(f"subscription {request.subscription_id} not found")
        return notifications_pb2.EndWebhookSecretRolloverResponse(
            subscription=subscription_message(doc)
        )

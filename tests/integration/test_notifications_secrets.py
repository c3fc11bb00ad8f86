"""Webhook secrets at rest: a subscription stored in plain text before encryption existed.

The service, started on a database holding such a subscription, encrypts its secret and
goes on signing its deliveries with it (quorum-v1, the scheme it always had).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from conftest import Isolation
from pymongo import AsyncMongoClient

from quorum.notifications.v1 import notifications_pb2
from quorum_common.events import now
from quorum_common.secretbox import SecretBox
from quorum_notifications.domain import Recipient
from quorum_notifications.messages import recipient_document
from quorum_notifications.subscriptions import SUBSCRIPTIONS
from support.kafka import publish
from support.notifications_service import (
    SECRET,
    TENANT,
    declined,
    idea_with,
    receiver,
    running_notifications,
    settled,
)
from support.servers import Servers

pytestmark = pytest.mark.integration


async def test_a_plain_secret_stored_before_is_encrypted_at_start_and_still_signs(
    infra: Servers, isolation: Isolation
) -> None:
    async with receiver(secret=SECRET) as sink:
        subscription_id = str(uuid.uuid4())
        bakery = Recipient(organization_id="bakery")
        # What CreateSubscription stored before secrets were encrypted.
        legacy: dict[str, Any] = {
            "_id": subscription_id,
            "tenant_id": TENANT,
            "subscriber": recipient_document(bakery),
            "subscriber_key": bakery.key,
            "kinds": [],
            "description": "",
            "created_at": now(),
            "channel": "WEBHOOK",
            "target": sink.url("/bakery"),
            "secret": SECRET,
        }
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongodb_uri)
        database = client[isolation.database("notifications")]
        try:
            await database[SUBSCRIPTIONS].insert_one(legacy)
            async with running_notifications(infra, isolation) as service:
                stored = await database[SUBSCRIPTIONS].find_one({"_id": subscription_id})
                assert stored is not None
                assert stored["secret"].startswith("fernet:")
                assert SECRET not in stored["secret"]
                assert SecretBox("").open(stored["secret"]) == SECRET

                idea_id, history = idea_with("bakery")
                await publish(service.bootstrap, service.topics.ideas, *history)
                await publish(service.bootstrap, service.topics.validation, declined(idea_id))
                [delivery] = await settled(service, 1, idea_id=idea_id)
                assert delivery.status == notifications_pb2.DELIVERY_STATUS_DELIVERED
        finally:
            await client.close()
    [request] = sink.on("/bakery")
    assert request.signature_ok is True
    assert "webhook-signature" not in request.headers

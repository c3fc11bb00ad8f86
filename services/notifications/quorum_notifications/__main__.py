"""`python -m quorum_notifications`: closes the loop with endorsers and product teams.

Consumes idea and validation events (recipients projection + fan-out jobs, one
transaction and one bulk write per collection per consumed batch), fans them out
to subscriptions, works the delivery queue (webhooks, e-mail) and publishes
NotificationDelivered / NotificationFailed through its outbox.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from pymongo.asynchronous.database import AsyncDatabase

from quorum.notifications.v1 import notifications_pb2, notifications_pb2_grpc
from quorum_common import outbox as outbox_module
from quorum_common.events import Topics
from quorum_common.mongo import Document, ensure_indexes
from quorum_common.processed import PROCESSED, PROCESSED_INDEXES
from quorum_common.secretbox import SecretBox
from quorum_common.service import Assembled, Hooks, Service, Setup, Worker
from quorum_notifications import deliveries as deliveries_module
from quorum_notifications import recipients as recipients_module
from quorum_notifications import subscriptions as subscriptions_module
from quorum_notifications.api import NotificationsApi
from quorum_notifications.deliveries import DeliveryLog
from quorum_notifications.dispatcher import Dispatcher, Senders
from quorum_notifications.domain import RetryPolicy
from quorum_notifications.fanout import FanOut, Intake
from quorum_notifications.mail import EmailSender
from quorum_notifications.recipients import Recipients
from quorum_notifications.settings import NotificationsSettings
from quorum_notifications.subscriptions import Subscriptions
from quorum_notifications.webhooks import WebhookSender

log = logging.getLogger("quorum_notifications")
NAME = "notifications"
SERVICE_NAMES = [s.full_name for s in notifications_pb2.DESCRIPTOR.services_by_name.values()]
# Failed deliveries, apart from the consumer's poison events.
DELIVERY_DEAD_LETTERS = "notifications.deliveries"
# How long in-flight attempts may finish when the service stops.
DRAIN_SECONDS = 5.0


async def create_indexes(database: AsyncDatabase[Document]) -> None:
    await ensure_indexes(
        database,
        {
            recipients_module.RECIPIENTS: recipients_module.INDEXES,
            recipients_module.MEMBERS: recipients_module.MEMBER_INDEXES,
            subscriptions_module.SUBSCRIPTIONS: subscriptions_module.INDEXES,
            deliveries_module.FANOUT: deliveries_module.FANOUT_INDEXES,
            deliveries_module.DELIVERIES: deliveries_module.DELIVERY_INDEXES,
            outbox_module.COLLECTION: outbox_module.INDEXES,
            PROCESSED: PROCESSED_INDEXES,
        },
    )


def retry_policy(settings: NotificationsSettings) -> RetryPolicy:
    return RetryPolicy(
        max_attempts=settings.notifications_max_attempts,
        base_seconds=settings.notifications_backoff_base_seconds,
        max_seconds=settings.notifications_backoff_max_seconds,
    )


async def assemble(setup: Setup[NotificationsSettings]) -> Assembled:
    settings, client, database = setup.settings, setup.client, setup.database
    await create_indexes(database)
    outbox = setup.outbox(setup.topics.notifications)
    await outbox.prepare()
    recipients = Recipients(database)
    # Before consuming: the projection's old per-idea arrays become member records.
    await recipients.migrate()
    subscriptions = Subscriptions(database)
    box = SecretBox(settings.notifications_secrets_key.get_secret_value())
    if box.development:
        log.warning(
            "NOTIFICATIONS_SECRETS_KEY is not set: webhook secrets are encrypted with the "
            "public development key (set a key of your own outside development)"
        )
    sealed = await subscriptions.seal_plaintext(box)
    if sealed:
        log.info("encrypted %d webhook secrets stored in plain text", sealed)
    deliveries = DeliveryLog(client, database, outbox, dead_letters_topic(setup.topics))
    # Made after the last await: nothing can fail between its making and its closing.
    webhooks = WebhookSender(
        settings.notifications_webhook_timeout_seconds,
        settings.notifications_webhook_allow_private_networks,
        settings.notifications_delivery_concurrency,
    )
    mail = EmailSender(
        host=settings.notifications_smtp_host,
        port=settings.notifications_smtp_port,
        sender=settings.notifications_smtp_sender,
        security=settings.notifications_smtp_security,
        username=settings.notifications_smtp_username,
        password=settings.notifications_smtp_password.get_secret_value(),
        timeout_seconds=settings.notifications_smtp_timeout_seconds,
    )
    # Past the longest attempt, so a lease only runs out when its worker died.
    longest = max(
        settings.notifications_webhook_timeout_seconds,
        settings.notifications_smtp_timeout_seconds,
    )
    dispatcher = Dispatcher(
        deliveries,
        subscriptions,
        Senders(webhooks, mail, box),
        retry_policy(settings),
        concurrency=settings.notifications_delivery_concurrency,
        per_endpoint=settings.notifications_endpoint_concurrency,
        lease=timedelta(seconds=longest + 30),
    )
    fanout = FanOut(
        deliveries,
        recipients,
        subscriptions,
        on_planned=dispatcher.notify,
        patience=timedelta(seconds=settings.notifications_recipients_wait_seconds),
    )
    intake = Intake(recipients, deliveries, subscriptions, on_job=fanout.notify)
    server = setup.internal_server(SERVICE_NAMES)
    notifications_pb2_grpc.add_NotificationsServiceServicer_to_server(
        NotificationsApi(
            client,
            subscriptions,
            deliveries,
            settings.notifications_webhook_allow_private_networks,
            box,
        ),
        server.server,
    )
    return Assembled(
        server,
        parts=[
            Hooks(webhooks.start, webhooks.close),
            setup.relaying(outbox),
            Worker("fan-out", fanout.run),
            # Attempts in flight may finish, up to DRAIN_SECONDS, once it is stopped.
            Worker("dispatcher", dispatcher.run, after=lambda: dispatcher.drain(DRAIN_SECONDS)),
            setup.consuming(
                [setup.topics.ideas, setup.topics.validation],
                intake.handle,
                kinds=Intake.KINDS,
                outbox=outbox,
                after_commit=intake.committed,
            ),
        ],
        describe=f"; e-mail via {settings.notifications_smtp_host}:"
        f"{settings.notifications_smtp_port}",
    )


def dead_letters_topic(topics: Topics) -> str:
    return topics.dead_letter(DELIVERY_DEAD_LETTERS)


SERVICE = Service(
    name=NAME,
    settings=NotificationsSettings,
    listens=lambda settings: (settings.notifications_grpc_host, settings.notifications_grpc_port),
    database=lambda settings: settings.notifications_mongodb_database,
    topics=lambda topics: [
        topics.ideas,
        topics.validation,
        topics.notifications,
        topics.dead_letter(NAME),
        dead_letters_topic(topics),
    ],
    assemble=assemble,
)
# In-process runs (the tests) start the service as its process would.
serve = SERVICE.serve


if __name__ == "__main__":
    SERVICE.main()

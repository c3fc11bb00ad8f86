"""`python -m quorum_notifications`: closes the loop with endorsers and product teams."""

from __future__ import annotations

import asyncio
import logging

from quorum_common.consumer import EventConsumer
from quorum_common.events import Topics
from quorum_common.grpc_server import GrpcServer
from quorum_common.kafka import ensure_topics, make_broker
from quorum_common.mongo import connect
from quorum_common.runtime import run_service
from quorum_notifications.recipients import Recipients
from quorum_notifications.settings import NotificationsSettings

log = logging.getLogger("quorum_notifications")


async def serve(settings: NotificationsSettings, stop: asyncio.Event) -> None:
    topics = Topics(settings.kafka_topic_prefix)
    client = await connect(settings.mongodb_uri, settings.startup_timeout_seconds)
    try:
        await ensure_topics(
            settings.kafka_bootstrap_servers,
            [
                topics.ideas,
                topics.validation,
                topics.notifications,
                topics.dead_letter("notifications"),
            ],
            settings.startup_timeout_seconds,
        )
        database = client[settings.notifications_mongodb_database]
        recipients = Recipients(database)
        await recipients.create_indexes()
        broker = make_broker(settings.kafka_bootstrap_servers, "notifications")
        EventConsumer(
            name="notifications",
            broker=broker,
            client=client,
            database=database,
            topics=topics,
            sources=[topics.ideas, topics.validation],
            handle=recipients.apply,
        ).subscribe()
        await broker.start()
        # Health only until the notifications API lands (subscriptions, delivery log).
        server = GrpcServer(settings.notifications_grpc_host, settings.notifications_grpc_port, [])
        await server.start()
        await server.set_serving(True)
        log.info("notifications serving on %s", server.address)
        await stop.wait()
        log.info("notifications stopping")
        await server.stop()
        await broker.stop()
    finally:
        await client.close()


def main() -> None:
    run_service("notifications", NotificationsSettings, serve)


if __name__ == "__main__":
    main()

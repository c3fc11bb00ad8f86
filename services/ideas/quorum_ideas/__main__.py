"""`python -m quorum_ideas`: the ideas service (ideas, endorsements, merges)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from quorum.ideas.v1 import ideas_pb2, ideas_pb2_grpc
from quorum_common import tls
from quorum_common.consumer import EventConsumer
from quorum_common.events import Topics
from quorum_common.grpc_server import GrpcServer
from quorum_common.kafka import RelayProducer, ensure_topics
from quorum_common.mongo import connect
from quorum_common.outbox import Outbox
from quorum_common.runtime import run_service
from quorum_common.settings import group_instance_id
from quorum_ideas.api import IdeasApi
from quorum_ideas.settings import IdeasSettings
from quorum_ideas.store import PROJECTED, IdeaStore

log = logging.getLogger("quorum_ideas")
SERVICE = ideas_pb2.DESCRIPTOR.services_by_name["IdeasService"].full_name
CONSUMER = "ideas"


async def serve(settings: IdeasSettings, stop: asyncio.Event) -> None:
    topics = Topics(settings.kafka_topic_prefix)
    client = await connect(settings.mongodb_uri, settings.startup_timeout_seconds)
    try:
        await ensure_topics(
            settings.kafka_bootstrap_servers,
            [topics.ideas, topics.validation, topics.dead_letter(CONSUMER)],
            settings.startup_timeout_seconds,
        )
        database = client[settings.ideas_mongodb_database]
        outbox = Outbox(
            database, topics.ideas, timedelta(seconds=settings.outbox_retention_seconds)
        )
        store = IdeaStore(
            client,
            database,
            outbox,
            group_window=settings.ideas_group_commit_window_ms / 1000,
        )
        await store.prepare()
        dead_letters = RelayProducer(settings.kafka_bootstrap_servers, "ideas-dead-letters")
        # Stage and status for ListIdeas and GetIdea, projected from the ledger's events.
        consumer = EventConsumer(
            name=CONSUMER,
            bootstrap_servers=settings.kafka_bootstrap_servers,
            dead_letters=dead_letters,
            client=client,
            database=database,
            topics=topics,
            sources=[topics.validation],
            handle=store.project,
            kinds=PROJECTED,
            idle_pause_max_ms=settings.kafka_idle_pause_max_ms,
            linger_ms=settings.kafka_consumer_linger_ms,
            group_instance_id=group_instance_id(settings, settings.ideas_grpc_port),
        )
        await consumer.start()
        relay = asyncio.create_task(
            outbox.run_relay(RelayProducer(settings.kafka_bootstrap_servers, "ideas-relay")),
            name="outbox-relay",
        )
        server = GrpcServer(
            settings.ideas_grpc_host,
            settings.ideas_grpc_port,
            [SERVICE],
            max_connection_age_seconds=settings.grpc_max_connection_age_seconds,
            credentials=tls.internal_server(settings),
        )
        ideas_pb2_grpc.add_IdeasServiceServicer_to_server(IdeasApi(store), server.server)
        await server.start()
        await server.set_serving(True)
        log.info("ideas serving on %s", server.address)
        await stop.wait()
        group = store.group_commit
        if group.groups:
            log.info(
                "ideas committed %d calls in %d transactions (%.1f each)",
                group.calls,
                group.groups,
                group.calls / group.groups,
            )
        log.info("ideas stopping")
        await server.stop()
        await consumer.stop()
        relay.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await relay
        await dead_letters.stop()
    finally:
        await client.close()


def main() -> None:
    run_service("ideas", IdeasSettings, serve)


if __name__ == "__main__":
    main()

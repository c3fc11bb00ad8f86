"""`python -m quorum_validation`: directory, pipelines, gate policies, stage ledger."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from quorum.validation.v1 import validation_pb2, validation_pb2_grpc
from quorum_common import tls
from quorum_common.consumer import EventConsumer
from quorum_common.events import Topics
from quorum_common.grpc_server import GrpcServer
from quorum_common.kafka import RelayProducer, ensure_topics
from quorum_common.mongo import connect, ensure_indexes
from quorum_common.outbox import Outbox
from quorum_common.runtime import run_service
from quorum_common.settings import group_instance_id
from quorum_validation import wiring
from quorum_validation.api import DirectoryApi, GateApi, InsightsApi, PeersApi, PolicyApi
from quorum_validation.handler import KINDS
from quorum_validation.migration import migrate_embedded_evidence, migrate_idea_versions
from quorum_validation.settings import ValidationSettings

log = logging.getLogger("quorum_validation")
SERVICES = [s.full_name for s in validation_pb2.DESCRIPTOR.services_by_name.values()]


async def serve(settings: ValidationSettings, stop: asyncio.Event) -> None:
    topics = Topics(settings.kafka_topic_prefix)
    client = await connect(settings.mongodb_uri, settings.startup_timeout_seconds)
    try:
        await ensure_topics(
            settings.kafka_bootstrap_servers,
            [topics.ideas, topics.validation, topics.dead_letter("validation")],
            settings.startup_timeout_seconds,
        )
        database = client[settings.validation_mongodb_database]
        await ensure_indexes(database, wiring.INDEXES)
        outbox = Outbox(
            database, topics.validation, timedelta(seconds=settings.outbox_retention_seconds)
        )
        await outbox.prepare()
        parts = wiring.assemble(client, database, outbox)
        await migrate_embedded_evidence(
            client, database, parts.evidence, parts.policies, parts.judging
        )
        await migrate_idea_versions(database)
        dead_letters = RelayProducer(settings.kafka_bootstrap_servers, "validation-dead-letters")
        consumer = EventConsumer(
            name="validation",
            bootstrap_servers=settings.kafka_bootstrap_servers,
            dead_letters=dead_letters,
            client=client,
            database=database,
            topics=topics,
            sources=[topics.ideas],
            handle=parts.handler.handle,
            kinds=KINDS,
            outbox=outbox,
            idle_pause_max_ms=settings.kafka_idle_pause_max_ms,
            linger_ms=settings.kafka_consumer_linger_ms,
            group_instance_id=group_instance_id(settings, settings.validation_grpc_port),
        )
        await consumer.start()
        background = [
            asyncio.create_task(
                outbox.run_relay(
                    RelayProducer(settings.kafka_bootstrap_servers, "validation-relay")
                ),
                name="outbox-relay",
            ),
            asyncio.create_task(parts.reevaluator.run(), name="reevaluator"),
        ]
        server = GrpcServer(
            settings.validation_grpc_host,
            settings.validation_grpc_port,
            SERVICES,
            max_connection_age_seconds=settings.grpc_max_connection_age_seconds,
            credentials=tls.internal_server(settings),
        )
        validation_pb2_grpc.add_GateServiceServicer_to_server(
            GateApi(parts.gates, parts.ledger), server.server
        )
        validation_pb2_grpc.add_DirectoryServiceServicer_to_server(
            DirectoryApi(client, parts.directory, parts.reevaluator), server.server
        )
        validation_pb2_grpc.add_PolicyServiceServicer_to_server(
            PolicyApi(client, parts.policies, parts.reevaluator), server.server
        )
        validation_pb2_grpc.add_InsightsServiceServicer_to_server(
            InsightsApi(parts.insights), server.server
        )
        validation_pb2_grpc.add_PeersServiceServicer_to_server(PeersApi(parts.peers), server.server)
        await server.start()
        await server.set_serving(True)
        log.info("validation serving on %s", server.address)
        await stop.wait()
        log.info("validation stopping")
        await server.stop()
        await consumer.stop()
        for task in background:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await dead_letters.stop()
    finally:
        await client.close()


def main() -> None:
    run_service("validation", ValidationSettings, serve)


if __name__ == "__main__":
    main()

"""Kafka wiring: the producer connection, topic creation and a startup check."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from faststream.kafka import KafkaBroker

from quorum_common.errors import StartupError

log = logging.getLogger(__name__)

# Three partitions per topic: enough for three consumer replicas to share the work.
PARTITIONS = 3


def make_broker(bootstrap_servers: str, client_id: str) -> KafkaBroker:
    """The process's producer: it never loses or duplicates a record on retry.

    Consumers are `quorum_common.consumer.EventConsumer`, on aiokafka's own consumer.
    """
    return KafkaBroker(
        bootstrap_servers=bootstrap_servers.split(","),
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        # A few milliseconds of batching buys throughput without visible latency.
        linger_ms=2,
        graceful_timeout=10.0,
        logger=logging.getLogger(f"quorum.{client_id}.kafka"),
        log_level=logging.DEBUG,
    )


async def ensure_topics(
    bootstrap_servers: str, topics: list[str], timeout_seconds: float, replication: int = 1
) -> None:
    """Check the broker answers and create the topics this process uses.

    Raises StartupError naming KAFKA_BOOTSTRAP_SERVERS when no broker answers.
    """
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers.split(","),
        request_timeout_ms=int(timeout_seconds * 1000),
        client_id="quorum-admin",
    )
    # aiokafka logs each failed connection at ERROR; the one line below says it all.
    client_log = logging.getLogger("aiokafka")
    level = client_log.level
    client_log.setLevel(logging.CRITICAL)
    try:
        await asyncio.wait_for(admin.start(), timeout=timeout_seconds)
    except (KafkaError, OSError, TimeoutError) as error:
        await admin.close()
        raise StartupError(
            f"KAFKA_BOOTSTRAP_SERVERS: no Kafka broker answered at {bootstrap_servers} "
            f"within {timeout_seconds:g}s ({type(error).__name__})"
        ) from None
    finally:
        client_log.setLevel(level)
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in dict.fromkeys(topics) if name not in existing]
        if missing:
            # Another process may create them first; that is as good.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(
                    [NewTopic(name, PARTITIONS, replication) for name in missing]
                )
            await _wait_for_metadata(admin, missing, timeout_seconds)
    finally:
        await admin.close()


async def _wait_for_metadata(
    admin: AIOKafkaAdminClient, topics: list[str], timeout_seconds: float
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_seconds
    while loop.time() < deadline:
        if set(topics) <= set(await admin.list_topics()):
            return
        await asyncio.sleep(0.05)
    raise StartupError(f"KAFKA_BOOTSTRAP_SERVERS: topics {topics} did not appear")

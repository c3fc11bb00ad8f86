"""KAFKA_TOPIC_RETENTION_MS: the topics a service creates keep records that long.

The bench sets it because the local broker's background work grows with its whole
log; a topic created without it keeps the broker's default.
"""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from conftest import Isolation

from quorum_common.kafka import ensure_topics
from support.servers import Servers
from support.waiting import until

pytestmark = pytest.mark.integration


async def test_a_created_topic_keeps_records_for_its_retention_only(
    infra: Servers, isolation: Isolation
) -> None:
    bootstrap = infra.kafka_bootstrap_servers
    short = f"{isolation.topic_prefix}retained.short"
    default = f"{isolation.topic_prefix}retained.default"
    await ensure_topics(bootstrap, [short], 10.0, retention_ms=1000)
    await ensure_topics(bootstrap, [default], 10.0)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for topic in (short, default):
            for n in range(20):
                await producer.send_and_wait(topic, f"record {n}".encode(), partition=0)
    finally:
        await producer.stop()

    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await reader.start()
    try:
        short_partition, default_partition = TopicPartition(short, 0), TopicPartition(default, 0)

        async def short_emptied() -> bool:
            begins = await reader.beginning_offsets([short_partition])
            return bool(begins[short_partition] == 20)

        await until(short_emptied, "the short topic's records deleted after its retention")
        begins = await reader.beginning_offsets([default_partition])
        assert begins[default_partition] == 0
    finally:
        await reader.stop()

"""The raw baseline: what the same broker and MongoDB do without the platform.

One aiokafka producer (idempotent, acks=all, linger 2 ms: the services' producer
settings) sends IdeaEndorsed events of the size the ideas service publishes, keyed by
idea id, to a three-partition topic; one consumer in this process parses each event
and does one MongoDB upsert per message, one at a time. No transaction, no outbox, no
gRPC: the floor the pipeline is compared with.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pymongo import AsyncMongoClient

from quorum.domain.v1 import domain_pb2
from quorum.events.v1 import events_pb2
from quorum_common.events import new_event, now, timestamp
from quorum_common.kafka import ensure_topics
from quorum_devtools.bench_stats import latency_summary, median_of

IDEAS = 200  # distinct keys, so the three partitions share the work


def endorsement_event(tenant_id: str, idea_id: str, sequence: int) -> events_pb2.Event:
    """An IdeaEndorsed as the ideas service would publish it."""
    event = new_event(tenant_id=tenant_id, idea_id=idea_id, producer="ideas")
    payload = event.idea_endorsed
    payload.member.organization_id = f"org-{sequence % 24:02d}"
    payload.member.member_id = f"member-{sequence}"
    payload.importance = domain_pb2.IMPORTANCE_IMPORTANT
    counted = payload.organization_endorsement
    counted.organization_id = payload.member.organization_id
    counted.importance = domain_pb2.IMPORTANCE_IMPORTANT
    counted.endorsed_at.CopyFrom(timestamp(now()))
    counted.member_count = 1
    payload.idea_version = sequence + 1
    return event


@dataclass
class _Sink:
    """Upserts each consumed event; wakes waiters when a count is reached."""

    collection: Any
    done: dict[str, float] = field(default_factory=dict)
    applied: int = 0
    reached: asyncio.Event = field(default_factory=asyncio.Event)
    target: int = 0

    async def consume(self, consumer: AIOKafkaConsumer) -> None:
        async for record in consumer:
            event = events_pb2.Event()
            event.ParseFromString(record.value)
            await self.collection.update_one(
                {"_id": event.envelope.idea_id},
                {
                    "$set": {
                        "tenant_id": event.envelope.tenant_id,
                        "last_member": event.idea_endorsed.member.member_id,
                        "version": event.idea_endorsed.idea_version,
                    },
                    "$inc": {"endorsements": 1},
                },
                upsert=True,
            )
            self.done[event.envelope.event_id] = time.perf_counter()
            self.applied += 1
            if self.applied >= self.target:
                self.reached.set()

    async def wait_for(self, count: int, within: float) -> bool:
        self.target = count
        if self.applied >= count:
            return True
        self.reached.clear()
        try:
            await asyncio.wait_for(self.reached.wait(), within)
        except TimeoutError:
            return False
        return True


async def run_baseline(
    *,
    bootstrap_servers: str,
    mongodb_uri: str,
    topic: str,
    database: str,
    messages: int,
    paced_rate: float,
    paced_seconds: float,
    repetitions: int,
    drain_timeout: float,
) -> dict[str, Any]:
    await ensure_topics(bootstrap_servers, [topic], 10.0)
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb_uri)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers.split(","),
        acks="all",
        enable_idempotence=True,
        linger_ms=2,
    )
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap_servers.split(","),
        group_id=f"{topic}.consumer",
        auto_offset_reset="earliest",
    )
    sink = _Sink(client[database]["baseline"])
    await producer.start()
    await consumer.start()
    consuming = asyncio.create_task(sink.consume(consumer), name="baseline-consumer")
    tenant_id = "bench-baseline"
    ideas = [str(uuid.uuid4()) for _ in range(IDEAS)]
    sequence = 0
    throughput: list[dict[str, Any]] = []
    paced: list[dict[str, Any]] = []
    try:
        for _ in range(repetitions):
            # Throughput: everything at once, timed until the last upsert.
            events = [
                endorsement_event(tenant_id, ideas[(sequence + i) % IDEAS], sequence + i)
                for i in range(messages)
            ]
            sequence += messages
            target = sink.applied + messages
            started = time.perf_counter()
            futures = [
                await producer.send(topic, e.SerializeToString(), key=e.envelope.idea_id.encode())
                for e in events
            ]
            await asyncio.gather(*futures)
            produced = time.perf_counter()
            complete = await sink.wait_for(target, drain_timeout)
            finished = time.perf_counter()
            throughput.append(
                {
                    "messages": messages,
                    "seconds": finished - started,
                    "per_second": messages / (finished - started),
                    "produce_per_second": messages / (produced - started),
                    "complete": complete,
                }
            )

            # Round trip at a steady rate: produce call to upsert done, per message.
            count = max(1, round(paced_rate * paced_seconds))
            sent: dict[str, float] = {}
            pending = []
            target = sink.applied + count
            begin = time.perf_counter()
            for i in range(count):
                delay = begin + i / paced_rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                event = endorsement_event(tenant_id, ideas[(sequence + i) % IDEAS], sequence + i)
                sent[event.envelope.event_id] = time.perf_counter()
                pending.append(
                    await producer.send(
                        topic, event.SerializeToString(), key=event.envelope.idea_id.encode()
                    )
                )
            sequence += count
            await asyncio.gather(*pending)
            await sink.wait_for(target, drain_timeout)
            latencies = [sink.done[k] - t for k, t in sent.items() if k in sink.done]
            paced.append({"offered_per_second": paced_rate, **latency_summary(latencies)})
    finally:
        consuming.cancel()
        # A consumer stopped mid-fetch has nothing left to say.
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await consuming
        await consumer.stop()
        await producer.stop()
        await client.drop_database(database)
        await client.close()
    return {
        "per_second": median_of(throughput, "per_second"),
        "throughput_repetitions": throughput,
        "latency": {
            "offered_per_second": paced_rate,
            "p50_ms": median_of(paced, "p50_ms"),
            "p95_ms": median_of(paced, "p95_ms"),
            "p99_ms": median_of(paced, "p99_ms"),
            "repetitions": paced,
        },
    }

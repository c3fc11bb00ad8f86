"""Kafka wiring: the producers, topic creation and a startup check."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from aiokafka.structs import RecordMetadata
from faststream.kafka import KafkaBroker

from quorum_common.errors import StartupError
from quorum_common.waits import within

log = logging.getLogger(__name__)

# Three partitions per topic: enough for three consumer replicas to share the work.
PARTITIONS = 3
# How long one batch may wait for its acknowledgements before its producer is given up.
# aiokafka expires a queued batch after request_timeout_ms (40 s) itself, but only while
# its sender task lives: a sender that died leaves the futures pending for ever.
BATCH_TIMEOUT_SECONDS = 30.0


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


@dataclass(frozen=True)
class Outgoing:
    """One record to publish."""

    topic: str
    key: bytes | None
    value: bytes
    headers: Mapping[str, str]


def dead_letter(
    record: Any, topic: str, reason: str, consumer: str, trace_context: Mapping[str, str]
) -> Outgoing:
    """A consumed record (aiokafka's) as it goes to a dead-letter topic, with the reason."""
    headers = {k: v.decode(errors="replace") for k, v in record.headers or ()}
    headers.update(
        {
            "quorum-dlq-reason": reason[:1000],
            "quorum-dlq-consumer": consumer,
            "quorum-dlq-origin": f"{record.topic}/{record.partition}@{record.offset}",
        }
    )
    headers.update(trace_context)
    return Outgoing(topic, record.key, bytes(record.value or b""), headers)


class RelayProducer:
    """An idempotent producer (acks=all) that is replaced by a new one after any failure.

    An idempotent producer that has failed once may fail every later send for as long as
    it lives: after a broker lost acknowledged records it answers OutOfOrderSequenceNumber
    (or UnknownProducerId, InvalidProducerEpoch/fenced) to each batch, and a dead sender
    task leaves sends pending. aiokafka offers no way back for such a producer; a new one
    gets a new producer id and sequence numbers the broker accepts. So whenever a batch
    fails or times out, the producer is closed and the next batch starts a fresh one;
    the caller retries the whole batch in order (it may duplicate, never reorder).
    """

    def __init__(
        self,
        bootstrap_servers: str,
        client_id: str,
        batch_timeout_seconds: float = BATCH_TIMEOUT_SECONDS,
    ) -> None:
        self._bootstrap_servers = bootstrap_servers.split(",")
        self._client_id = client_id
        self._batch_timeout = batch_timeout_seconds
        self._producer: AIOKafkaProducer | None = None
        # Failed producers still closing: aiokafka's stop waits until their queued batches
        # are delivered or expire (request_timeout_ms), so the new one does not wait.
        self._closing: set[asyncio.Task[None]] = set()
        # Producers started so far: more than one means it recovered from a failure.
        self.generations = 0

    @property
    def bootstrap_servers(self) -> list[str]:
        return self._bootstrap_servers

    async def start(self) -> None:
        """Start a producer unless one runs (the first send does it too)."""
        await self._started()

    async def _started(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = AIOKafkaProducer(
                bootstrap_servers=self._bootstrap_servers,
                client_id=self._client_id,
                acks="all",
                enable_idempotence=True,
                # A few milliseconds of batching buys throughput without visible latency.
                linger_ms=2,
            )
            try:
                await producer.start()
            except BaseException:
                await producer.stop()
                raise
            self._producer = producer
            self.generations += 1
            if self.generations > 1:
                log.info("%s started producer %d", self._client_id, self.generations)
        return self._producer

    async def send(self, records: Sequence[Outgoing]) -> list[RecordMetadata]:
        """Publish in order and wait for every acknowledgement; raise on any failure."""
        producer = await self._started()
        try:
            # Pipelined: send all, then wait. The idempotent producer keeps per-partition
            # order across in-flight requests, so one key's records stay ordered.
            futures = [
                await producer.send(
                    record.topic,
                    record.value,
                    key=record.key,
                    headers=[(name, value.encode()) for name, value in record.headers.items()],
                )
                for record in records
            ]
            return list(await within(asyncio.gather(*futures), self._batch_timeout))
        except BaseException as error:
            if not isinstance(error, asyncio.CancelledError):
                log.warning(
                    "%s producer failed (%r); the next batch starts a new one",
                    self._client_id,
                    error,
                )
            self._discard()
            raise

    def _discard(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            task = asyncio.create_task(_close(producer), name=f"{self._client_id}-closing")
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def stop(self) -> None:
        self._discard()
        if self._closing:
            # A failed producer's batches may take request_timeout_ms to expire.
            await asyncio.wait(self._closing, timeout=5.0)


async def _close(producer: AIOKafkaProducer) -> None:
    with contextlib.suppress(KafkaError, OSError):
        await producer.stop()


async def ensure_topics(
    bootstrap_servers: str,
    topics: list[str],
    timeout_seconds: float,
    replication: int = 1,
    retention_ms: int = 0,
) -> None:
    """Check the broker answers and create the topics this process uses (with this
    retention.ms when not 0; a topic that exists keeps its own).

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
        await within(admin.start(), timeout_seconds)
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
                configs = {"retention.ms": str(retention_ms)} if retention_ms else {}
                await admin.create_topics(
                    [
                        NewTopic(name, PARTITIONS, replication, topic_configs=configs)
                        for name in missing
                    ]
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

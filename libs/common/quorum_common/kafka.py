"""Kafka wiring: the broker connection, topic creation and a startup check."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from faststream.kafka import KafkaBroker

from quorum_common.errors import StartupError

log = logging.getLogger(__name__)

# Three partitions per topic: enough for three consumer replicas to share the work.
PARTITIONS = 3


def make_broker(
    bootstrap_servers: str, client_id: str, empty_fetch_pause_ms: int = 0
) -> KafkaBroker:
    """A broker whose producer never loses or duplicates a record on retry.

    `empty_fetch_pause_ms` > 0 makes this process's consumers wait that long after a
    fetch that brought no record (see `pause_after_empty_fetches`).
    """
    if empty_fetch_pause_ms > 0:
        pause_after_empty_fetches(empty_fetch_pause_ms / 1000)
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


_FetchRequest = Callable[[Any, Any, Any, Any], Awaitable[bool]]
_unpaused_fetch: _FetchRequest | None = None


def pause_after_empty_fetches(seconds: float) -> None:
    """Make every aiokafka consumer of this process wait `seconds` after an empty fetch.

    Apache Kafka holds a fetch that finds nothing for up to fetch.max.wait.ms and
    answers as soon as a record arrives, so an idle consumer costs nothing. The local
    broker (noida-db 0.2.3) answers at once instead, and aiokafka fetches again at
    once: measured here, one idle consumer burns a whole core, and a platform of four
    services idling took both cores of the machine (docs/benchmarks.md). The pause
    stands in for the broker's wait; a record arriving meanwhile is fetched up to
    `seconds` later. Off (0) by default: real Kafka needs none. Calling it again
    changes the pause; 0 restores aiokafka's own fetch.
    """
    global _unpaused_fetch
    from aiokafka.consumer.fetcher import Fetcher

    if _unpaused_fetch is None:
        _unpaused_fetch = Fetcher._proc_fetch_request
    unpaused = _unpaused_fetch
    if seconds <= 0:
        Fetcher._proc_fetch_request = unpaused
        return

    async def fetch_then_pause_if_empty(
        self: Any, assignment: Any, node_id: Any, request: Any
    ) -> bool:
        # aiokafka answers True when the fetch buffered records (or an error) to hand out.
        brought_records = await unpaused(self, assignment, node_id, request)
        if not brought_records:
            # The fetcher cancels its fetches on close and on a rebalance, then awaits
            # them: like aiokafka's own fetch, answer instead of raising.
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(seconds)
        return brought_records

    Fetcher._proc_fetch_request = fetch_then_pause_if_empty

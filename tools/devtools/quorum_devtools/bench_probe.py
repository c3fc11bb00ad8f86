"""When the pipeline has finished a piece of work: read from Kafka offsets and outboxes.

The bench never sleeps to let the platform catch up; it asks. Work is done when no
outbox owes a row (published rows are kept a while, marked `owed: false`) and every
consumer group has committed every record of its source topics (a consumer commits a
batch's offsets only after the transaction that applied it). Offsets count every record, whatever a
consumer does with it, so this holds however a service keeps its processed marks and
whichever kinds of event it takes.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pymongo import AsyncMongoClient

from quorum_common.events import Topics

# Each service's consumer group and the topics it reads (the services' __main__), by the
# publishing service's name. The group id is "<topic prefix>quorum-<consumer>".
CONSUMERS = {
    "validation": ("ideas",),
    "ideas": ("validation",),
    "notifications": ("ideas", "validation"),
    "gateway": ("ideas", "validation", "notifications"),
}
PUBLISHERS = ("ideas", "validation", "notifications")
# Polled gently: the broker and MongoDB are also the system under test.
POLL_SECONDS = 0.2
FAST_POLL_SECONDS = 0.05


class StuckError(Exception):
    """No progress for longer than a stall allows: something is broken, not slow."""


class BehindError(Exception):
    """Still moving, but not done within the time given: the platform is too slow."""


class Probe:
    def __init__(
        self, mongodb_uri: str, database_prefix: str, bootstrap_servers: str, topic_prefix: str
    ) -> None:
        self._mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb_uri)
        self._database_prefix = database_prefix
        servers = bootstrap_servers.split(",")
        self._admin = AIOKafkaAdminClient(bootstrap_servers=servers, client_id="bench-probe")
        # No group: it only asks for end offsets, it never consumes.
        self._offsets = AIOKafkaConsumer(
            bootstrap_servers=servers, client_id="bench-probe", enable_auto_commit=False
        )
        self._prefix = topic_prefix
        topics = Topics(topic_prefix)
        self._topics = {
            "ideas": topics.ideas,
            "validation": topics.validation,
            "notifications": topics.notifications,
        }
        self._partitions: dict[str, list[TopicPartition]] = {}

    async def start(self) -> None:
        await self._admin.start()
        await self._offsets.start()

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self._offsets.stop()
        with contextlib.suppress(Exception):
            await self._admin.close()
        await self._mongo.close()

    def group(self, consumer: str) -> str:
        return f"{self._prefix}quorum-{consumer}"

    async def _partitions_of(self, publisher: str) -> list[TopicPartition]:
        topic = self._topics[publisher]
        if topic not in self._partitions:
            await self._offsets.topics()  # refreshes the metadata (the services created them)
            found = self._offsets.partitions_for_topic(topic) or set()
            if not found:
                return []  # not created yet: nothing in it either
            self._partitions[topic] = [TopicPartition(topic, p) for p in sorted(found)]
        return self._partitions[topic]

    async def _ends(self) -> dict[TopicPartition, int]:
        partitions = [tp for p in PUBLISHERS for tp in await self._partitions_of(p)]
        ends = await self._offsets.end_offsets(partitions) if partitions else {}
        return {tp: int(offset) for tp, offset in ends.items()}

    async def _committed(self, consumer: str) -> dict[TopicPartition, int]:
        found = await self._admin.list_consumer_group_offsets(self.group(consumer))
        return {tp: max(0, meta.offset) for tp, meta in found.items()}

    async def consumed(self, consumer: str, publisher: str) -> int:
        """Records of `publisher`'s topic that `consumer` has applied and committed."""
        topic = self._topics[publisher]
        return sum(v for tp, v in (await self._committed(consumer)).items() if tp.topic == topic)

    async def published(self, publisher: str) -> int:
        topic = self._topics[publisher]
        return sum(v for tp, v in (await self._ends()).items() if tp.topic == topic)

    async def outbox_backlog(self) -> int:
        """Outbox rows not yet published, in all services."""
        total = 0
        for service in PUBLISHERS:
            outbox = self._mongo[f"{self._database_prefix}{service}"]["outbox"]
            # Rows not yet published, in every layout so the bench can measure older code
            # too: `published` (kept a week), none (deleted once published), `owed`
            # (kept for the broker's sake, see quorum_common.outbox).
            total += await outbox.count_documents(
                {"published": {"$ne": True}, "owed": {"$ne": False}}
            )
        return total

    async def snapshot(self) -> dict[str, Any]:
        # Outboxes first, then the topics' ends, then the groups: work that moves from an
        # outbox to a topic between two reads shows up in the next snapshot's ends.
        backlog = await self.outbox_backlog()
        ends = await self._ends()
        lag: dict[str, int] = {}
        for consumer, sources in CONSUMERS.items():
            topics = {self._topics[s] for s in sources}
            committed = await self._committed(consumer)
            lag[consumer] = sum(
                end - committed.get(tp, 0) for tp, end in ends.items() if tp.topic in topics
            )
        return {
            "outbox_backlog": backlog,
            "published": {
                p: sum(v for tp, v in ends.items() if tp.topic == self._topics[p])
                for p in PUBLISHERS
            },
            "lag": lag,
        }

    async def wait_quiet(self, stall: float = 90.0, within: float | None = None) -> dict[str, Any]:
        """Until nothing is left to publish or consume, seen twice with the same topic ends.

        No deadline while anything moves (a slow machine only makes it slower) unless
        `within` is given, but `stall` seconds without any change mean something is stuck.
        """
        last: dict[str, Any] = {}
        changed_at = time.monotonic()
        deadline = None if within is None else changed_at + within
        while True:
            now = await self.snapshot()
            quiet = now["outbox_backlog"] == 0 and not any(now["lag"].values())
            if quiet and now == last:
                return now
            if now != last:
                last, changed_at = now, time.monotonic()
            elif time.monotonic() - changed_at > stall:
                raise StuckError(f"the pipeline made no progress for {stall:.0f}s: {now}")
            if deadline is not None and time.monotonic() > deadline:
                raise BehindError(f"the pipeline was still behind after {within:.0f}s: {now}")
            await asyncio.sleep(FAST_POLL_SECONDS if quiet else POLL_SECONDS)

    async def wait_consumed(
        self, consumer: str, publisher: str, target: int, within: float
    ) -> tuple[float, int]:
        """When `consumer` had committed `target` records of `publisher` (perf_counter)."""
        deadline = time.perf_counter() + within
        while True:
            count = await self.consumed(consumer, publisher)
            if count >= target or time.perf_counter() > deadline:
                return time.perf_counter(), count
            await asyncio.sleep(FAST_POLL_SECONDS)

    async def mongo_operations(self) -> dict[str, int]:
        """Operations so far on this run's databases, by `service.collection.kind`.

        From the server's `top` counters: what each collection was asked (reads, inserts,
        updates, removes, getMores, other commands). Two snapshots around a measurement
        say how many MongoDB operations one endorsement costs, and where.
        """
        answer = await self._mongo.admin.command("top")
        counts: dict[str, int] = {}
        for namespace, figures in answer.get("totals", {}).items():
            database, _, collection = namespace.partition(".")
            if not database.startswith(self._database_prefix) or not collection:
                continue
            service = database[len(self._database_prefix) :]
            for kind in ("queries", "insert", "update", "remove", "getmore", "commands"):
                count = int(figures.get(kind, {}).get("count", 0))
                if count:
                    counts[f"{service}.{collection}.{kind}"] = count
        return counts

    async def mongo_commands(self) -> dict[str, int]:
        """Commands the server has run so far, by name, and `transactions` committed.

        Server-wide (a private server runs only this bench's services and its probes): a
        bulk write of forty documents is one command here where `top` counts forty
        updates. With the unit costs (bench_costs) they say how much of mongod's share
        is the overhead of messages and how much the documents and index entries written.
        """
        status = await self._mongo.admin.command("serverStatus")
        counts = {
            name: int(figures["total"])
            for name, figures in status.get("metrics", {}).get("commands", {}).items()
            if isinstance(figures, dict) and int(figures.get("total", 0)) > 0
        }
        counts["transactions"] = int(status.get("transactions", {}).get("totalCommitted", 0))
        return counts

    async def document_bytes(self, service: str, collection: str, key: str) -> int | None:
        """BSON size of one document of a service, None when it is not there."""
        found = await self._mongo[f"{self._database_prefix}{service}"][collection].aggregate(
            [{"$match": {"_id": key}}, {"$project": {"size": {"$bsonSize": "$$ROOT"}}}]
        )
        async for doc in found:
            return int(doc["size"])
        return None

    async def oplog_position(self) -> Any:
        """The newest oplog entry's timestamp: where a window of writes starts."""
        oplog = self._mongo["local"]["oplog.rs"]
        newest = await oplog.find_one({}, sort=[("$natural", -1)], projection={"ts": 1})
        return newest["ts"] if newest else None

    async def oplog_bytes_since(self, position: Any) -> dict[str, int] | None:
        """Oplog bytes since `position`: `total`, and by service from its writes' namespaces.

        A transaction is one oplog entry listing its writes (applyOps); each write is
        counted for the database it went to. Writes of other databases (another run on
        shared servers, the server's own) are `other`; `total` is every entry's size.
        Outbox rows the TTL monitor removed (kept a while after publishing, then expired
        in bulk about once a minute, whichever endorsements wrote them) are also counted
        apart, as `outbox_expiry`: they belong to earlier writes, not to this window's.
        """
        if position is None:
            return None
        oplog = self._mongo["local"]["oplog.rs"]
        outboxes = "^" + re.escape(self._database_prefix) + r".*\.outbox$"
        expiry = {"op": "d", "ns": {"$regex": outboxes}}
        since = {"$match": {"ts": {"$gt": position}, "$nor": [expiry]}}
        totals = await oplog.aggregate(
            [since, {"$group": {"_id": None, "bytes": {"$sum": {"$bsonSize": "$$ROOT"}}}}]
        )
        found = {"total": 0}
        async for group in totals:
            found["total"] = int(group["bytes"])
        writes = {"$cond": [{"$isArray": "$o.applyOps"}, "$o.applyOps", ["$$ROOT"]]}
        by_database = await oplog.aggregate(
            [
                since,
                {"$project": {"writes": writes}},
                {"$unwind": "$writes"},
                {
                    "$group": {
                        "_id": {"$arrayElemAt": [{"$split": ["$writes.ns", "."]}, 0]},
                        "bytes": {"$sum": {"$bsonSize": "$writes"}},
                    }
                },
            ]
        )
        expired = await oplog.aggregate(
            [
                {"$match": {"ts": {"$gt": position}, **expiry}},
                {"$group": {"_id": None, "bytes": {"$sum": {"$bsonSize": "$$ROOT"}}}},
            ]
        )
        async for group in expired:
            found["outbox_expiry"] = int(group["bytes"])
        async for group in by_database:
            database = str(group["_id"] or "")
            ours = database.startswith(self._database_prefix)
            name = database.removeprefix(self._database_prefix) if ours else "other"
            found[name] = found.get(name, 0) + int(group["bytes"])
        return found

"""Transactional outbox: events are written with the state change, then relayed.

A service owes its events in the same MongoDB transaction as its state change
(`unit_of_work.commit` → `Outbox.insert`). Once that transaction has committed, its
rows are handed to the relay in memory (`Outbox.committed`), which publishes them in
order in batches (idempotent producer, acks=all) and then marks them published with
the partition and offset the broker acknowledged, in one command. Nothing is read back
on the way: the relay publishes what the transaction wrote. A crash between the commit
and the publish leaves the rows owed; a sweep every second publishes owed rows no relay
of this process knows (a process that died, a relay that failed). A crash between
publishing and marking publishes a row twice; consumers deduplicate by event id, so
nothing is lost and nothing counts twice.

Published rows are kept for a retention window (OUTBOX_RETENTION_SECONDS, by default
RETENTION: two minutes), because a broker may lose records
it acknowledged (acknowledged.py): every second, and before the first batch of every
new producer, the relay compares each partition's log end offset with the highest
offset it was acknowledged there; where the log ends below it, the rows from the log
end on are owed again and go out again in their order, before anything newer. A batch
acknowledged at offsets at or below earlier ones (the loss was found only then) owes
that batch again too, behind the lost rows.

The relay deletes the rows past the window itself, every second, a second's worth at
a time; the TTL index, a minute later, only catches what a relay that stopped left.
MongoDB's TTL monitor deletes everything expired in one pass a minute, which stalled
every write on the server for as long as it took (seen as p99 latency).

Each row keeps the W3C trace context of the span that wrote it (the request or the
consumed event); the relay publishes it in the record's headers under a "send" span,
so the consumer's work joins the trace of whatever caused the event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import RecordMetadata
from pymongo import ASCENDING, IndexModel, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure, PyMongoError

from quorum.events.v1 import events_pb2
from quorum_common import fault_points, meters, record_spans, tracing
from quorum_common.acknowledged import Acknowledged
from quorum_common.events import EVENT_TYPE_HEADER, headers, now
from quorum_common.kafka import Outgoing, RelayProducer
from quorum_common.mongo import Document
from quorum_common.waits import woken

log = logging.getLogger(__name__)

COLLECTION = "outbox"
# How long a published row is kept by default, to publish it again if the broker loses
# it: far past a broker restart and the relay's check that follows (seconds). The relay
# deletes expired rows every second; the TTL index, EXPIRY_MARGIN later, is the net.
# OUTBOX_RETENTION_SECONDS sets it (the services pass it to Outbox).
RETENTION = timedelta(minutes=2)
EXPIRY_MARGIN = timedelta(minutes=1)
EXPIRY_INDEX = "expire_acknowledged"
# `prepare` creates them, after retiring the earlier layouts' indexes on the same keys.
INDEXES: list[IndexModel] = []


def _indexes(retention: timedelta) -> list[IndexModel]:
    return [
        IndexModel(
            [("seq", ASCENDING)], name="owed_in_order", partialFilterExpression={"owed": True}
        ),
        IndexModel(
            [("published_at", ASCENDING)],
            name=EXPIRY_INDEX,
            expireAfterSeconds=int((retention + EXPIRY_MARGIN).total_seconds()),
        ),
        IndexModel(
            [("topic", ASCENDING), ("partition", ASCENDING), ("offset", ASCENDING)],
            name="acknowledged",
            partialFilterExpression={"owed": False},
        ),
    ]


# Indexes of earlier layouts: rows kept a week once published, then deleted at once.
_OLD_INDEXES = ("pending_in_order", "expire_published", "in_order")
# How often the relay compares the broker's log end offsets with its acknowledgements.
AUDIT_SECONDS = 1.0
# The sweep leaves rows younger than this to the relay that wrote them: between a commit
# and its hand-over the row is already visible, and publishing it twice costs consumers.
SWEEP_GRACE = timedelta(seconds=2)
# After a new producer (most often a broker that restarted), for this long each batch
# also looks for earlier rows still claiming the offsets it was given (_offsets_taken).
TAKEN_CHECK_SECONDS = 30.0
# In that time each audit also reads the log back at the offsets of the rows published
# since this long before the new producer (acknowledged.Acknowledged.not_there): a
# broker loses about a second of acknowledged records, marked a moment later.
READ_BACK_BEFORE = timedelta(seconds=10)
BATCH = 500


class Outbox:
    def __init__(
        self, database: AsyncDatabase[Document], topic: str, retention: timedelta = RETENTION
    ) -> None:
        self._entries = database[COLLECTION]
        self.topic = topic
        self.retention = retention
        self._indexes = _indexes(retention)
        self._ready: deque[Document] = deque()
        # Ids handed over in memory and not yet deleted: the sweep leaves them alone.
        self._known: set[str] = set()
        self._wake = asyncio.Event()
        self._sweep_now = True  # the first round looks for what a previous process left
        self._last_seq = 0
        self._acknowledged: Acknowledged | None = None
        # The producer generation whose broker was last checked for lost records.
        self._audited_generation = 0
        # Until when each batch checks whether its offsets were earlier rows' too.
        self._check_taken_until = 0.0
        # Rows published since then are read back by each audit until _check_taken_until.
        self._read_back_since = now()
        # Rows owed again because the broker lost them, audits made, and the audits that
        # also read rows back from the log (for tests and logs).
        self.republished = 0
        self.audits = 0
        self.read_backs = 0

    @property
    def database_name(self) -> str:
        return self._entries.database.name

    async def prepare(self) -> None:
        """Bring the collection to this layout (idempotent; run at start)."""
        indexes = await self._entries.index_information()
        for name in _OLD_INDEXES:
            if name in indexes:
                with contextlib.suppress(OperationFailure):
                    await self._entries.drop_index(name)
        # Rows the first layout kept after publishing them; rows of the second, all owed.
        await self._entries.delete_many({"published": True})
        await self._entries.update_many({"owed": {"$exists": False}}, {"$set": {"owed": True}})
        await self._expire_after(indexes)
        await self._entries.create_indexes(self._indexes)

    async def _expire_after(self, indexes: Mapping[str, Document]) -> None:
        """An existing TTL index takes this layout's and this retention's expiry
        (create_indexes would refuse another expiry under the same name)."""
        wanted = next(i.document for i in self._indexes if i.document["name"] == EXPIRY_INDEX)
        existing = indexes.get(EXPIRY_INDEX)
        if existing is None or existing.get("expireAfterSeconds") == wanted["expireAfterSeconds"]:
            return
        await self._entries.database.command(
            "collMod",
            self._entries.name,
            index={
                "name": EXPIRY_INDEX,
                "expireAfterSeconds": wanted["expireAfterSeconds"],
            },
        )

    def _next_seq(self) -> int:
        # Microseconds since the epoch, strictly increasing within this process.
        # One idea's changes are serialized by its version check, so their rows get
        # increasing sequence numbers (across processes up to clock skew, which a
        # shared host does not have). A global counter document would make every
        # transaction in the service conflict with every other.
        self._last_seq = max(self._last_seq + 1, time.time_ns() // 1000)
        return self._last_seq

    def rows(
        self,
        events: Iterable[events_pb2.Event],
        trace: Mapping[str, str] | None = None,
        topic: str | None = None,
    ) -> list[Document]:
        """The rows for these events (to `topic`, by default the outbox's), to insert
        inside the caller's transaction."""
        # Captured now, inside the caller's span; the relay runs in another task.
        context = dict(trace) if trace is not None else tracing.current_trace_context()
        created = now()
        return [
            {
                "_id": event.envelope.event_id,
                "seq": self._next_seq(),
                "topic": topic or self.topic,
                "key": event.envelope.idea_id or event.envelope.tenant_id,
                "value": event.SerializeToString(),
                "headers": headers(event),
                "trace": context,
                "created_at": created,
                "owed": True,
            }
            for event in events
        ]

    async def insert(self, session: AsyncClientSession, rows: list[Document]) -> None:
        await self._entries.insert_many(rows, session=session)

    def committed(self, rows: list[Document]) -> None:
        """Hand over the rows of a transaction that has committed."""
        self._ready.extend(rows)
        self._known.update(row["_id"] for row in rows)
        self._wake.set()

    async def add(
        self, session: AsyncClientSession, topic: str, events: list[events_pb2.Event]
    ) -> None:
        """Owe events inside the caller's transaction; call `notify()` after its commit.

        The relay finds these with a sweep; `unit_of_work.commit` hands them over in
        memory instead.
        """
        if not events:
            return
        await self.insert(session, self.rows(events, topic=topic))

    def notify(self) -> None:
        """A transaction that used `add` has committed: sweep for its rows now."""
        self._sweep_now = True
        self._wake.set()

    async def run_relay(self, producer: RelayProducer, sweep_seconds: float = 1.0) -> None:
        """Publish owed rows forever; cancel the task to stop it."""
        last_sweep = time.monotonic()
        last_tidy = 0.0
        try:
            while True:
                self._wake.clear()
                sweep = self._sweep_now or time.monotonic() - last_sweep >= sweep_seconds
                try:
                    if sweep:
                        notified, self._sweep_now = self._sweep_now, False
                        last_sweep = time.monotonic()
                        await self._audit(producer)
                        await self._sweep(producer, all_rows=notified)
                        if time.monotonic() - last_tidy >= sweep_seconds:
                            # Once a second, not at every sweep a commit asked for.
                            last_tidy = time.monotonic()
                            await self.expire()
                            if meters.exported:
                                backlog = await self.pending_count()
                                meters.set_outbox_backlog(self.database_name, backlog)
                    while self._ready:
                        await self._publish_ready(producer)
                except _Replay:
                    continue  # the sweep publishes the rows owed again first
                except (PyMongoError, KafkaError, OSError, TimeoutError) as error:
                    # A failed producer was replaced already (RelayProducer); the rows
                    # stay owed and go again in the same order.
                    log.warning("outbox relay failed, will retry: %s", error)
                    await asyncio.sleep(sweep_seconds)
                    continue
                if self._ready or self._sweep_now:
                    continue
                timeout = max(0.0, sweep_seconds - (time.monotonic() - last_sweep))
                await woken(self._wake, timeout)
        finally:
            meters.set_outbox_backlog(self.database_name, None)
            await producer.stop()
            if self._acknowledged is not None:
                await self._acknowledged.close()

    async def _publish_ready(self, producer: RelayProducer) -> None:
        batch = [self._ready[i] for i in range(min(BATCH, len(self._ready)))]
        await self._publish(producer, batch)
        for _ in batch:
            self._ready.popleft()
        self._known.difference_update(row["_id"] for row in batch)

    async def _sweep(self, producer: RelayProducer, all_rows: bool) -> None:
        """Publish rows in the collection that no relay of this process holds."""
        query: Document = {"owed": True}
        if not all_rows:
            query["created_at"] = {"$lt": now() - SWEEP_GRACE}
        while True:
            found = await self._entries.find(
                query, sort=[("seq", ASCENDING)], limit=BATCH
            ).to_list()
            orphans = [row for row in found if row["_id"] not in self._known]
            if orphans:
                await self._publish(producer, orphans)
            if len(found) < BATCH:
                return
            query["seq"] = {"$gt": found[-1]["seq"]}

    async def expire(self) -> None:
        """Delete the published rows kept past the retention (a second's worth, each second)."""
        await self._entries.delete_many(
            {"owed": False, "published_at": {"$lt": now() - self.retention}}
        )

    async def _publish(self, producer: RelayProducer, rows: list[Document]) -> None:
        spans = []
        records = []
        for row in rows:
            span, trace_headers = record_spans.start_send_span(
                row["topic"],
                row.get("trace") or {},
                key=row["key"],
                event_id=row["_id"],
                event_type=row["headers"].get(EVENT_TYPE_HEADER, ""),
            )
            spans.append(span)
            records.append(
                Outgoing(
                    row["topic"],
                    row["key"].encode(),
                    row["value"],
                    {**row["headers"], **trace_headers},
                )
            )
        # A new producer is a broker that may have restarted: check it before the batch.
        await producer.start()
        if producer.generations != self._audited_generation:
            first = self._audited_generation == 0
            self._audited_generation = producer.generations
            acknowledgements = self._acknowledgements(producer)
            await acknowledgements.load()
            # A relay's first producer finds a broker that may have lost only what
            # earlier processes had published (retained rows); with none, there is
            # nothing to look for, and looking (each batch's offsets, every row read
            # back) cost a fresh platform's first half minute a seventh of its CPU.
            if not first or acknowledgements.retained():
                self._check_taken_until = time.monotonic() + TAKEN_CHECK_SECONDS
                self._read_back_since = now() - READ_BACK_BEFORE
            # A new producer most often means a broker that restarted: a reader that
            # knew the old one may take its whole timeout to notice.
            await acknowledgements.close()
            if await self._audit(producer):
                raise _Replay
        try:
            acknowledged = await producer.send(records)
        except BaseException as error:
            for span in spans:
                record_spans.end_with_error(span, error)
            raise
        # A send span lasts until the broker acknowledged the whole batch.
        for span in spans:
            span.end()
        fault_points.reached("published")
        published = now()
        await self._entries.bulk_write(
            [
                UpdateOne(
                    {"_id": row["_id"]},
                    {
                        "$set": {
                            "owed": False,
                            "published_at": published,
                            "partition": metadata.partition,
                            "offset": metadata.offset,
                        }
                    },
                )
                for row, metadata in zip(rows, acknowledged, strict=True)
            ],
            ordered=False,
        )
        went_back = self._acknowledgements(producer).record(acknowledged)
        if not went_back and time.monotonic() < self._check_taken_until:
            went_back = await self._offsets_taken(rows, acknowledged)
        if went_back:
            await self._owe_again(went_back)
            raise _Replay

    async def _offsets_taken(
        self, rows: list[Document], acknowledged: Sequence[RecordMetadata]
    ) -> dict[TopicPartition, int]:
        """Partitions where this batch got offsets that earlier rows still claim.

        Replicas share the outbox and the topic: after the broker lost records, another
        replica's relay may have filled the log past this relay's acknowledgements
        before its check ran, so the log end no longer tells where the loss began. An
        offset acknowledged now that an earlier row also holds means the broker lost
        that row, and every row it acknowledged from there on: {partition: offset}.
        """
        offsets: dict[TopicPartition, list[int]] = {}
        for metadata in acknowledged:
            tp = TopicPartition(metadata.topic, metadata.partition)
            offsets.setdefault(tp, []).append(metadata.offset)
        ids = [row["_id"] for row in rows]
        taken: dict[TopicPartition, int] = {}
        for tp, given in offsets.items():
            earlier = await self._entries.find_one(
                {
                    "owed": False,
                    "topic": tp.topic,
                    "partition": tp.partition,
                    "offset": {"$in": given},
                    "_id": {"$nin": ids},
                },
                projection={"offset": 1},
                sort=[("offset", ASCENDING)],
            )
            if earlier is not None:
                taken[tp] = earlier["offset"]
        return taken

    def _acknowledgements(self, producer: RelayProducer) -> Acknowledged:
        if self._acknowledged is None:
            self._acknowledged = Acknowledged(self._entries, producer.bootstrap_servers)
        return self._acknowledged

    async def _audit(self, producer: RelayProducer) -> bool:
        """Owe again what the broker lost since it acknowledged it; True when it had."""
        acknowledgements = self._acknowledgements(producer)
        await acknowledgements.load()
        lost = await acknowledgements.lost()
        self.audits += 1
        if not lost and time.monotonic() < self._check_taken_until:
            self.read_backs += 1
            recent = await self._entries.find(
                {"owed": False, "published_at": {"$gte": self._read_back_since}},
                projection={"topic": 1, "partition": 1, "offset": 1, "value": 1},
            ).to_list()
            lost = await acknowledgements.not_there(recent)
            if lost:
                log.warning("read back, the log no longer holds rows it acknowledged")
        if lost:
            await self._owe_again(lost)
        return bool(lost)

    async def _owe_again(self, lost: Mapping[TopicPartition, int]) -> None:
        assert self._acknowledged is not None
        for tp, start in lost.items():
            result = await self._entries.update_many(
                {
                    "owed": False,
                    "topic": tp.topic,
                    "partition": tp.partition,
                    "offset": {"$gte": start},
                },
                {
                    "$set": {"owed": True},
                    "$unset": {"published_at": "", "partition": "", "offset": ""},
                },
            )
            self._acknowledged.forget_from(tp, start)
            self.republished += result.modified_count
            log.warning(
                "the broker lost %s/%d from offset %d on: %d published rows owed again",
                tp.topic,
                tp.partition,
                start,
                result.modified_count,
            )
        self._sweep_now = True

    async def pending_count(self) -> int:
        return await self._entries.count_documents({"owed": True})


class _Replay(Exception):
    """Rows were owed again (the broker lost them): publish from the oldest owed row."""

"""Idempotent, set-based event consumption with a dead-letter topic.

The records fetched together (up to MAX_BATCH, never waiting to fill a batch) are
applied in one MongoDB transaction: one query for the processed marks already there,
one insert of the new marks, and one call of the service's handler with every fresh
event, so a handler can read and write per collection rather than per event. A
redelivered event is found among the marks and skipped. The Kafka offsets are
committed only after the transaction, so a crash loses nothing.

Whenever a batch cannot go through whole — a handler's PoisonEvent, a concurrent
duplicate, any failure — nothing of it is kept and its events go one by one, each in
its own transaction: a poison event goes to the consumer's dead-letter topic with the
reason and the stream moves on; any other failure is retried with backoff from the
record that failed. An undecodable record is dead-lettered before the batch.

Events a handler does not take (`kinds`) are passed over without a transaction. A
handler whose own writes are keyed by event id needs no marks (`marks=False`): a
redelivered event fails its insert, and that is the duplicate found.

Each applied record gets its own "process <topic>" span whose parent is the producer's
context from the record's headers (see outbox.py); the events a handler publishes for it
continue that span (`Consumed.trace`). The batch's database work runs inside the first
record's span.

The loop is aiokafka's public consumer API; on a broker that answers empty fetches at
once (the local noida-db) it paces its fetches (fetch_schedule.py). A loop that fails
joins its group again: a member that stopped consuming would hold its partitions unread.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from aiokafka.structs import OffsetAndMetadata
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from quorum.events.v1 import events_pb2
from quorum_common import fault_points, meters, record_spans, tracing
from quorum_common.assignor import ByInstanceAssignor
from quorum_common.events import PoisonEvent, Topics, decode, event_type
from quorum_common.fetch_schedule import SHORT_POLL_MS, FetchSchedule
from quorum_common.kafka import RelayProducer, dead_letter
from quorum_common.mongo import Document
from quorum_common.processed import (
    PROCESSED,
    Consumed,
    Handler,
    duplicate,
    processed_mark,
)
from quorum_common.rewritten import LastApplied, ReadRewrittenAgain
from quorum_common.unit_of_work import Unit, commit

log = logging.getLogger(__name__)

MAX_BATCH = 200
# How long one poll waits for records when the broker holds empty fetches (Kafka).
LONG_POLL_MS = 500
# Offsets are committed at most this often (and whenever the stream goes quiet): a
# redelivery after a crash or a rebalance is skipped as duplicates, so committing after
# every batch would buy nothing but a broker round trip per batch.
COMMIT_INTERVAL_S = 0.1
# Joining the group is retried in the background (the broker may be down or restarting).
JOIN_RETRY_FIRST_S = 0.5
JOIN_RETRY_LONGEST_S = 5.0


@dataclass
class _Item:
    """A decoded record on its way through one batch."""

    record: Any
    event: events_pb2.Event
    processing: record_spans.Processing | None = None

    @property
    def event_id(self) -> str:
        return self.event.envelope.event_id


class EventConsumer:
    def __init__(
        self,
        *,
        name: str,
        bootstrap_servers: str,
        dead_letters: RelayProducer,
        client: AsyncMongoClient[Document],
        database: AsyncDatabase[Document],
        topics: Topics,
        sources: list[str],
        handle: Handler,
        kinds: Collection[str] | None = None,
        outbox: Any = None,
        after_commit: Callable[[], None] | None = None,
        idle_pause_max_ms: int = 0,
        linger_ms: int = 0,
        max_backoff_seconds: float = 30.0,
        max_batch: int = MAX_BATCH,
        marks: bool = True,
        group_instance_id: str | None = None,
    ) -> None:
        self.name = name
        self._bootstrap_servers = bootstrap_servers
        # Replaced after any failure, like the relay's: a dead letter must get through a
        # broker that lost its producer state.
        self._dead_letters = dead_letters
        self._client = client
        self._processed = database[PROCESSED]
        # False for a handler whose own writes are keyed by event id (a redelivered event
        # fails them with DuplicateKeyError): its writes are the marks.
        self._marks = marks
        self._dead_letter_topic = topics.dead_letter(name)
        # The prefix isolates consumer groups as it isolates topics: copies of the
        # platform sharing a broker (tests, benchmarks) must never share a group.
        self._group_id = f"{topics.prefix}quorum-{name}"
        self._sources = sources
        # Static membership: a restarted replica that rejoins under the same instance id
        # takes its partitions back at once, where a new dynamic member waits for the dead
        # one to be expelled (after its session timeout on Kafka; never on noida-db).
        self._group_instance_id = group_instance_id
        self._handle = handle
        self._kinds = frozenset(kinds) if kinds is not None else None
        self._outbox = outbox
        self._after_commit = after_commit
        self._idle_pause_max = idle_pause_max_ms / 1000
        self._linger = linger_ms / 1000
        self._max_backoff = max_backoff_seconds
        self._max_batch = max_batch
        self._failures: dict[str, int] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self._joined = False
        self._task: asyncio.Task[None] | None = None
        # Offsets applied but not yet committed, and when offsets were last committed.
        self._uncommitted: dict[TopicPartition, int] = {}
        # The last record applied per partition, checked on every assignment: a broker
        # that lost records may have refilled the log under the committed offset.
        self._last_applied = LastApplied(bootstrap_servers)
        self._committed_at = 0.0
        # What it took: transactions, and the events they applied (logged at stop).
        self.transactions = 0
        self.applied = 0
        # Polls made so far, records or not: what an idle consumer's rounds are counted by.
        self.polls = 0

    @property
    def dead_letter_topic(self) -> str:
        return self._dead_letter_topic

    @property
    def group_id(self) -> str:
        return self._group_id

    @property
    def joined(self) -> bool:
        """True once the consumer is in its group and consuming."""
        return self._joined

    async def start(self) -> None:
        """Consume in a task of its own until `stop`; joining the group happens there.

        The caller does not wait for the group: a service serves its API while its
        consumer joins (or waits for the broker), so a restarted service answers at
        once whatever the group coordinator is doing.
        """
        self._task = asyncio.create_task(self._join_and_run(), name=f"consumer-{self.name}")

    def _new_consumer(self) -> AIOKafkaConsumer:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap_servers.split(","),
            client_id=f"quorum-{self.name}",
            group_id=self._group_id,
            group_instance_id=self._group_instance_id,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            max_poll_records=self._max_batch,
            # The same partitions per replica whoever computes them (see assignor.py); the
            # only one: noida-db left a group offered two in PreparingRebalance (infra.md).
            partition_assignment_strategy=(ByInstanceAssignor(self._group_instance_id),),
        )
        consumer.subscribe(
            self._sources,
            listener=ReadRewrittenAgain(self.name, self._last_applied, self._read_again),
        )
        return consumer

    async def _read_again(self, partitions: list[TopicPartition]) -> None:
        """Partitions the broker rewrote under this consumer: from the earliest offset."""
        log.warning("%s reads %d rewritten partitions again", self.name, len(partitions))
        for tp in partitions:
            self._uncommitted.pop(tp, None)  # offsets of the log as it was
        if self._consumer is not None:
            await self._consumer.seek_to_beginning(*partitions)

    async def _join_and_run(self) -> None:
        while True:
            consumer = await self._join()
            try:
                await self._run(consumer)
            except Exception:
                # A member that stopped consuming would still hold its partitions (its
                # heartbeats go on): nobody would read them. So it leaves and joins again.
                log.exception("%s stopped consuming; it joins %s again", self.name, self._group_id)
            # Nothing committed: what it applied since the last commit comes again, skipped.
            self._consumer, self._joined = None, False
            with contextlib.suppress(KafkaError, OSError):
                await consumer.stop()
            await asyncio.sleep(JOIN_RETRY_FIRST_S)

    async def _join(self) -> AIOKafkaConsumer:
        delay = JOIN_RETRY_FIRST_S
        while True:
            consumer = self._consumer = self._new_consumer()
            try:
                # aiokafka's start returns once the group gave this member its partitions.
                await consumer.start()
                break
            except KafkaError as error:
                self._consumer = None
                await consumer.stop()
                log.warning(
                    "%s could not join %s, will retry: %r", self.name, self._group_id, error
                )
                await asyncio.sleep(delay)
                delay = min(JOIN_RETRY_LONGEST_S, delay * 2)
        self._joined = True
        assigned = consumer.assignment()
        # Counts, not the list: with prefixed topics the list ran to hundreds of characters.
        log.info(
            "%s joined %s: %d partitions of %d topics",
            self.name,
            self._group_id,
            len(assigned),
            len({tp.topic for tp in assigned}),
        )
        return consumer

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._consumer is not None:
            if self._joined:
                await self._commit(self._consumer)
            await self._consumer.stop()
            self._consumer = None
            self._joined = False
        if self.transactions:
            log.info(
                "%s applied %d events in %d transactions (%.1f each)",
                self.name,
                self.applied,
                self.transactions,
                self.applied / self.transactions,
            )

    async def _run(self, consumer: AIOKafkaConsumer) -> None:
        schedule = FetchSchedule(consumer, self._idle_pause_max, self._linger)
        poll_ms = SHORT_POLL_MS if schedule.pausing else LONG_POLL_MS
        while True:
            await schedule.wait_for_the_next_fetch()
            try:
                fetched = await consumer.getmany(timeout_ms=poll_ms, max_records=self._max_batch)
                self.polls += 1
            except KafkaError as error:
                log.warning("%s could not fetch, will retry: %r", self.name, error)
                await asyncio.sleep(1.0)
                continue
            full = sum(len(batch) for batch in fetched.values()) >= self._max_batch
            schedule.after_poll(bool(fetched), full)
            if not fetched:
                await self._commit(consumer)
                continue
            # Each partition's records in their order, merged by when they were produced:
            # an event comes before the events it caused, on whatever topic.
            records = list(heapq.merge(*fetched.values(), key=lambda r: r.timestamp))
            try:
                await self.on_records(records)
            except Exception:
                # Backed off already: fetch the unapplied records again. What was applied
                # before the failure is skipped as a duplicate.
                for partition, batch in fetched.items():
                    if partition in consumer.assignment():
                        consumer.seek(partition, batch[0].offset)
                continue
            # A rebalance while the batch was applied may have taken partitions away:
            # their new owner reads from the last commit and skips what was applied.
            assigned = consumer.assignment()
            for tp, batch in ((tp, b) for tp, b in fetched.items() if tp in assigned):
                self._uncommitted[tp] = batch[-1].offset + 1
                self._last_applied.note(tp, batch[-1].offset, bytes(batch[-1].value or b""))
                end = consumer.highwater(tp)
                if isinstance(end, int):
                    meters.record_consumer_lag(
                        self._group_id, tp.topic, tp.partition, end - batch[-1].offset - 1
                    )
            fault_points.reached("applied")
            if time.monotonic() - self._committed_at >= COMMIT_INTERVAL_S:
                await self._commit(consumer)

    async def _commit(self, consumer: AIOKafkaConsumer) -> None:
        """Commit the offsets of what was applied since the last commit."""
        self._committed_at = time.monotonic()
        if not self._uncommitted:
            return
        # Only partitions still assigned: a revoked one's records go to its new owner.
        assigned = consumer.assignment()
        offsets = {
            tp: OffsetAndMetadata(offset, "")
            for tp, offset in self._uncommitted.items()
            if tp in assigned
        }
        self._uncommitted = {}
        if not offsets:
            return
        try:
            await consumer.commit(offsets)
        except (CommitFailedError, KafkaError) as error:
            # A rebalance took the partitions: their new owner gets the records again
            # and skips what was applied.
            log.info("%s could not commit offsets (%r); they will be redelivered", self.name, error)

    # ------------------------------------------------------------------ processing

    async def on_records(self, records: Sequence[Any]) -> None:
        """Apply, skip or dead-letter records fetched together (aiokafka ConsumerRecords)."""
        items: list[_Item] = []
        ids: set[str] = set()
        for record in records:
            try:
                event = decode(bytes(record.value or b""))
            except PoisonEvent as poison:
                await self._dead_letter(record, str(poison))
                continue
            if self._kinds is not None and event_type(event) not in self._kinds:
                continue  # not this consumer's business: nothing to record
            if event.envelope.event_id in ids:
                continue  # the same event twice in one fetch: the first one counts
            ids.add(event.envelope.event_id)
            items.append(_Item(record, event))
        if not items:
            return
        if len(items) > 1:
            try:
                await self._apply(items)
                return
            except Exception as error:
                log.debug("%s applies %d events one by one: %r", self.name, len(items), error)
        for item in items:
            await self._apply_alone(item)

    def _start_processing(self, item: _Item) -> record_spans.Processing:
        record = item.record
        processing = record_spans.start_processing(
            group=self._group_id,
            topic=str(record.topic),
            partition=int(record.partition),
            offset=int(record.offset),
            record_headers=record.headers or (),
        )
        processing.describe(
            event_id=item.event_id,
            event_type=event_type(item.event),
            tenant_id=item.event.envelope.tenant_id,
        )
        return processing

    async def _apply(self, items: list[_Item]) -> None:
        """All items in one transaction, or an exception and nothing kept."""
        for item in items:
            item.processing = self._start_processing(item)
        first = items[0].processing
        assert first is not None
        try:
            with first.current():
                seen = await commit(
                    self._client, self._outbox, lambda unit: self._work(unit, items)
                )
        except BaseException as error:
            for item in items:
                assert item.processing is not None
                item.processing.end("failed", error, record_error=False)
            raise
        self._finish(items, seen)

    async def _work(self, unit: Unit, items: list[_Item]) -> set[str]:
        seen: set[str] = set()
        if self._marks:
            ids = [item.event_id for item in items]
            seen = {
                doc["_id"]
                async for doc in self._processed.find(
                    {"_id": {"$in": ids}}, projection={"_id": 1}, session=unit.session
                )
            }
        fresh = [item for item in items if item.event_id not in seen]
        if fresh and self._marks:
            await self._processed.insert_many(
                [processed_mark(item.event) for item in fresh], session=unit.session
            )
        if fresh:
            await self._handle(
                unit,
                [
                    Consumed(item.event, item.processing.context if item.processing else {})
                    for item in fresh
                ],
            )
        return seen

    def _finish(self, items: list[_Item], seen: set[str]) -> None:
        self.transactions += 1
        applied = False
        for item in items:
            assert item.processing is not None
            duplicate = item.event_id in seen
            applied = applied or not duplicate
            self.applied += not duplicate
            item.processing.end("duplicate" if duplicate else "applied")
            self._failures.pop(item.event_id, None)
        if applied and self._after_commit is not None:
            self._after_commit()

    async def _apply_alone(self, item: _Item) -> None:
        """One event in its own transaction: applied, duplicate, dead-lettered or raised."""
        processing = item.processing = self._start_processing(item)
        try:
            with processing.current():
                await commit(self._client, self._outbox, lambda unit: self._work_alone(unit, item))
        except (DuplicateKeyError, BulkWriteError) as error:
            if not duplicate(error):
                processing.end("failed", error)
                await self._back_off(item.event_id, error)
                raise
            # Processed before, or a concurrent delivery got there first.
            self._finish([item], {item.event_id})
            return
        except PoisonEvent as poison:
            with processing.current():
                await self._dead_letter(item.record, str(poison))
            processing.end("dead_lettered")
            return
        except Exception as error:
            processing.end("failed", error)
            # Transient (or a bug): back off, then the loop fetches it again.
            await self._back_off(item.event_id, error)
            raise
        self._finish([item], set())

    async def _work_alone(self, unit: Unit, item: _Item) -> None:
        # The mark goes in first: for an event seen before, its unique _id fails the
        # insert and the transaction aborts with nothing done.
        if self._marks:
            await self._processed.insert_one(processed_mark(item.event), session=unit.session)
        assert item.processing is not None
        await self._handle(unit, [Consumed(item.event, item.processing.context)])

    async def _back_off(self, event_id: str, error: Exception) -> None:
        attempts = self._failures.get(event_id, 0) + 1
        self._failures[event_id] = attempts
        delay = min(self._max_backoff, 0.1 * 2 ** (attempts - 1))
        log.warning(
            "%s could not apply event %s (attempt %d, retrying in %.1fs): %r",
            self.name,
            event_id,
            attempts,
            delay,
            error,
        )
        await asyncio.sleep(delay)

    async def _dead_letter(self, record: Any, reason: str) -> None:
        log.error(
            "%s dead-lettered %s/%s@%s: %s",
            self.name,
            record.topic,
            record.partition,
            record.offset,
            reason,
        )
        # Confirmed before the offset is committed: the poison is kept, not lost.
        # Whoever inspects the dead letter lands on this failed processing span.
        letter = dead_letter(
            record, self._dead_letter_topic, reason, self.name, tracing.current_trace_context()
        )
        await self._dead_letters.send([letter])

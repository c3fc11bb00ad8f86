"""What the broker acknowledged to a relay, and whether the broker still has it.

A broker that loses acknowledged records (noida-db keeps its log in memory and
snapshots it about once a second, so a SIGKILL loses up to a second of acknowledged
records; a Kafka cluster without replication can lose them with a disk) comes back
with a partition's log end offset below offsets it acknowledged. The relay keeps its
rows for a retention window after publishing them, with the partition and offset the
broker acknowledged (outbox.py); this module remembers the highest acknowledged offset
per partition and compares it with the broker's log end offsets, so the relay can owe
again (and publish again, in order) the rows from the first lost offset on.

The log end alone cannot tell every loss when replicas' relays share a topic: another
relay may have refilled the log past this one's acknowledgements before its check ran,
or a row's acknowledgement may be marked a moment after another relay owed the lost
rows again. So for a while after a new producer (a broker that restarted gives every
relay one) the relay also reads the log back at the offsets its recent rows were
acknowledged at (`not_there`): a row whose offset now holds another record, or none,
was lost. `make chaos` lost an endorsement for good without it (docs/infra.md).

A replicated Kafka cluster with acks=all and min.insync.replicas >= 2 never loses an
acknowledged record, and then these checks never find anything.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import RecordMetadata
from pymongo.asynchronous.collection import AsyncCollection

from quorum_common.mongo import Document
from quorum_common.waits import within

# One check of the log end offsets may take this long before the reader is replaced.
AUDIT_TIMEOUT_SECONDS = 5.0


class Acknowledged:
    def __init__(self, entries: AsyncCollection[Document], bootstrap_servers: list[str]) -> None:
        self._entries = entries
        self._bootstrap_servers = bootstrap_servers
        self._highest: dict[TopicPartition, int] = {}
        self._loaded = False
        self._reader: AIOKafkaConsumer | None = None

    async def load(self) -> None:
        """Start from the retained rows: what earlier processes had acknowledged."""
        if self._loaded:
            return
        async for found in await self._entries.aggregate(
            [
                {"$match": {"owed": False}},
                {
                    "$group": {
                        "_id": {"topic": "$topic", "partition": "$partition"},
                        "offset": {"$max": "$offset"},
                    }
                },
            ]
        ):
            tp = TopicPartition(found["_id"]["topic"], found["_id"]["partition"])
            self._highest[tp] = max(self._highest.get(tp, -1), found["offset"])
        self._loaded = True

    def retained(self) -> bool:
        """Whether any acknowledged row is known (loaded or recorded since)."""
        return bool(self._highest)

    def record(self, acknowledged: Sequence[RecordMetadata]) -> dict[TopicPartition, int]:
        """Note a batch's acknowledgements; the partitions whose log went backwards.

        An offset at or below one acknowledged before means the broker lost records
        and this batch landed where they were: {partition: first offset of the batch}.
        """
        went_back: dict[TopicPartition, int] = {}
        first: dict[TopicPartition, int] = {}
        for metadata in acknowledged:
            tp = TopicPartition(metadata.topic, metadata.partition)
            first.setdefault(tp, metadata.offset)
        for tp, offset in first.items():
            if offset <= self._highest.get(tp, -1):
                went_back[tp] = offset
        for metadata in acknowledged:
            tp = TopicPartition(metadata.topic, metadata.partition)
            self._highest[tp] = max(self._highest.get(tp, -1), metadata.offset)
        return went_back

    def forget_from(self, tp: TopicPartition, offset: int) -> None:
        """Rows from `offset` on are owed again: nothing there counts as acknowledged."""
        if self._highest.get(tp, -1) >= offset:
            if offset > 0:
                self._highest[tp] = offset - 1
            else:
                self._highest.pop(tp, None)

    async def lost(self) -> dict[TopicPartition, int]:
        """Partitions whose log ends below what was acknowledged: {partition: log end}."""
        if not self._highest:
            return {}
        if self._reader is None:
            reader = AIOKafkaConsumer(
                bootstrap_servers=self._bootstrap_servers,
                client_id="quorum-outbox-audit",
                group_id=None,
                request_timeout_ms=int(AUDIT_TIMEOUT_SECONDS * 1000),
            )
            try:
                await reader.start()
            except BaseException:
                await reader.stop()
                raise
            self._reader = reader
        try:
            ends = await within(
                self._reader.end_offsets(list(self._highest)), AUDIT_TIMEOUT_SECONDS
            )
        except (KafkaError, TimeoutError):
            # A reader whose broker restarted may not find its way back: start anew.
            await self.close()
            raise
        return {tp: end for tp, end in ends.items() if end <= self._highest[tp]}

    async def not_there(self, rows: Sequence[Document]) -> dict[TopicPartition, int]:
        """Where the log no longer holds these published rows at their offsets.

        {partition: the lowest offset whose record is not the row acknowledged there}.
        """
        wanted: dict[TopicPartition, dict[int, bytes]] = {}
        for row in rows:
            tp = TopicPartition(row["topic"], row["partition"])
            wanted.setdefault(tp, {})[row["offset"]] = bytes(row["value"])
        if not wanted:
            return {}
        reader = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap_servers,
            client_id="quorum-outbox-readback",
            group_id=None,
            enable_auto_commit=False,
            request_timeout_ms=int(AUDIT_TIMEOUT_SECONDS * 1000),
        )
        # Started inside the try: a reader cancelled while it connects is stopped too.
        try:
            await reader.start()
            found = await within(_read_at(reader, wanted), AUDIT_TIMEOUT_SECONDS)
        finally:
            with contextlib.suppress(KafkaError, OSError):
                await reader.stop()
        lost: dict[TopicPartition, int] = {}
        for tp, at in wanted.items():
            gone = [
                offset for offset, value in at.items() if found.get(tp, {}).get(offset) != value
            ]
            if gone:
                lost[tp] = min(gone)
        return lost

    async def close(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            with contextlib.suppress(KafkaError, OSError):
                await reader.stop()


async def _read_at(
    reader: AIOKafkaConsumer, wanted: dict[TopicPartition, dict[int, bytes]]
) -> dict[TopicPartition, dict[int, bytes]]:
    """The records from each partition's lowest wanted offset up to its highest (or the end)."""
    ends = await reader.end_offsets(list(wanted))
    reader.assign(list(wanted))
    upto = {tp: min(max(at), ends[tp] - 1) for tp, at in wanted.items()}
    found: dict[TopicPartition, dict[int, bytes]] = {tp: {} for tp in wanted}
    open_ = {tp for tp in wanted if min(wanted[tp]) <= upto[tp]}
    for tp in wanted:
        if tp in open_:
            reader.seek(tp, min(wanted[tp]))
        else:
            reader.pause(tp)
    while open_:
        for tp, records in (await reader.getmany(*open_, timeout_ms=200)).items():
            for record in records:
                found[tp][record.offset] = bytes(record.value or b"")
            if records and records[-1].offset >= upto[tp]:
                open_.discard(tp)
                reader.pause(tp)
    return found

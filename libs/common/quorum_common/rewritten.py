"""Whether the broker rewrote a partition's log under a consumer (it lost records).

A broker that loses acknowledged records (noida-db on SIGKILL, see acknowledged.py)
comes back with a shorter log, and the relays publish the lost rows again from its
new end on, each relay in its own order and interleaved with other relays' new rows
(replicas of a service share a topic). A consumer whose committed offset lies inside
that refilled stretch would then skip whatever landed before its offset, events it
never applied among them. An offset past the log end is caught by the broker
(OffsetOutOfRange, and the consumer reads from the earliest offset); an offset the
relays have already refilled past is not.

So the consumer remembers the last record it applied from each partition, and
whenever the group assigns it partitions (a broker that restarted has forgotten the
group: every member joins again) it reads the record at that offset again: missing
or different, the log was rewritten there, and the consumer reads that partition from
its earliest offset, its processed-event marks skipping what it had applied. Reading
one record per partition per rebalance is all it costs where nothing was lost.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Collection

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import KafkaError

from quorum_common.waits import within

log = logging.getLogger(__name__)

# One check may take this long; a check that fails counts as rewritten (the safe side).
CHECK_TIMEOUT_SECONDS = 5.0


class LastApplied:
    def __init__(self, bootstrap_servers: str) -> None:
        self._bootstrap_servers = bootstrap_servers.split(",")
        self._last: dict[TopicPartition, tuple[int, bytes]] = {}

    def note(self, tp: TopicPartition, offset: int, value: bytes) -> None:
        self._last[tp] = (offset, value)

    def forget(self, tp: TopicPartition) -> None:
        self._last.pop(tp, None)

    async def rewritten(self, assigned: Collection[TopicPartition]) -> list[TopicPartition]:
        """The assigned partitions whose last applied record is no longer where it was."""
        known = [tp for tp in assigned if tp in self._last]
        if not known:
            return []
        try:
            found = await within(self._read(known), CHECK_TIMEOUT_SECONDS)
        except (KafkaError, OSError, TimeoutError) as error:
            log.warning("could not check %d partitions (%r): reading them again", len(known), error)
            return known
        return [tp for tp in known if found.get(tp) != self._last[tp][1]]

    async def _read(self, partitions: list[TopicPartition]) -> dict[TopicPartition, bytes]:
        reader = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap_servers,
            client_id="quorum-rewrite-check",
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="none",
        )
        # Started inside the try: a reader cancelled while it connects is stopped too, or
        # its connections stay open until the garbage collector finds them.
        try:
            await reader.start()
            ends = await reader.end_offsets(partitions)
            present = [tp for tp in partitions if ends[tp] > self._last[tp][0]]
            found: dict[TopicPartition, bytes] = {}
            if not present:
                return found
            reader.assign(present)
            for tp in present:
                reader.seek(tp, self._last[tp][0])
            while set(found) < set(present):
                for tp, records in (await reader.getmany(timeout_ms=500)).items():
                    if tp in found or not records:
                        continue
                    first = records[0]
                    # Only the record at that very offset counts (compacted logs skip).
                    at_offset = first.offset == self._last[tp][0]
                    found[tp] = bytes(first.value or b"") if at_offset else b""
                    reader.pause(tp)
            return found
        finally:
            with contextlib.suppress(KafkaError, OSError):
                await reader.stop()


def described(partitions: Collection[TopicPartition]) -> str:
    """`topic[0,2] other[1]`, the topic named by its last dotted part or two (no prefix)."""
    by_topic: dict[str, list[int]] = {}
    for tp in partitions:
        by_topic.setdefault(".".join(tp.topic.split(".")[-2:]), []).append(tp.partition)
    return " ".join(f"{t}{sorted(p)}" for t, p in sorted(by_topic.items())) or "nothing"


class ReadRewrittenAgain(ConsumerRebalanceListener):  # type: ignore[misc]  # aiokafka is untyped
    """On every assignment, sends the partitions rewritten under it to `read_again`."""

    def __init__(
        self,
        name: str,
        last: LastApplied,
        read_again: Callable[[list[TopicPartition]], Awaitable[None]],
    ) -> None:
        self._name = name
        self._last = last
        self._read_again = read_again

    async def on_partitions_revoked(self, revoked: Collection[TopicPartition]) -> None:
        return None

    async def on_partitions_assigned(self, assigned: Collection[TopicPartition]) -> None:
        # Which partitions, not only how many: a group that leaves one unread (or gives
        # one to two members) is seen in the members' logs side by side.
        log.info("%s assigned %s", self._name, described(assigned))
        rewritten = await self._last.rewritten(assigned)
        if rewritten:
            for tp in rewritten:
                self._last.forget(tp)
            await self._read_again(rewritten)

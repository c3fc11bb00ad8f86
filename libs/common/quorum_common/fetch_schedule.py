"""Fetch pacing: a linger under load, and idle pauses for brokers that never hold a fetch.

A consumed batch costs about the same for one event as for a hundred (one transaction,
one command per collection), so a consumer that fetches again the moment it has applied
a batch applies a few events at a time and pays that cost for each few. After a poll
that brought records the consumer waits a linger (`KAFKA_CONSUMER_LINGER_MS`) before it
fetches again: what arrives meanwhile shares the next transaction. Under load that is
what keeps the CPU per event down (docs/benchmarks.md); an event arriving when the
consumer is idle is fetched without it.

On a broker that answers an empty fetch at once instead of holding it (the local
noida-db), an idle consumer would also fetch in a tight loop, and so would the quiet
partitions of a busy one; with `idle_pause_max_ms` set the consumer then fetches again
after a tenth of its quiet spell (at most the maximum) when a poll brought nothing: a
record arriving after a quiet spell waits at most about a tenth of it longer. On Kafka
(which holds an empty fetch until a record arrives or fetch.max.wait.ms passes) it
stays 0.
"""

from __future__ import annotations

import asyncio
import time

from aiokafka import AIOKafkaConsumer

# With idle pauses (a broker that answers empty fetches at once), how long a poll waits
# after a pause: a fetch round trip or two on this host.
SHORT_POLL_MS = 1
IDLE_PAUSE_SHARE = 0.1
# The shortest idle pause: the tight loop it prevents costs a fetch round trip (~1 ms).
IDLE_PAUSE_MIN_S = 0.01


class FetchSchedule:
    """When the consumer may fetch again.

    The fetcher of aiokafka fetches every partition it may, again as soon as an answer
    comes back. So after a poll all partitions are paused, and all resumed together:
    `linger` after a poll that brought records (what arrives meanwhile is fetched in one
    go and shares a transaction), at once after a full batch (more is waiting), and,
    with idle pauses (`longest` > 0), after a tenth of the quiet spell so far (at least
    the linger, at most `longest`) when nothing came: an idle consumer looks now and
    then. All partitions are fetched in the same round, so an event and the events it
    caused on another topic are seen in order when both exist.
    """

    def __init__(self, consumer: AIOKafkaConsumer, longest: float, linger: float) -> None:
        self._consumer = consumer
        self._longest = longest
        self._linger = linger
        self._quiet_since: float | None = None
        self._resume_at: float | None = None

    @property
    def pausing(self) -> bool:
        """Whether an empty poll pauses (a broker that answers empty fetches at once)."""
        return self._longest > 0

    def after_poll(self, brought_records: bool, full: bool) -> None:
        if full:
            self._quiet_since = None
            return
        now = time.monotonic()
        if brought_records:
            self._quiet_since = None
            wait = self._linger
        elif self.pausing:
            self._quiet_since = self._quiet_since or now
            quiet = now - self._quiet_since
            wait = min(self._longest, max(IDLE_PAUSE_MIN_S, IDLE_PAUSE_SHARE * quiet))
        else:
            return
        assigned = list(self._consumer.assignment())
        if assigned and wait > 0:
            self._consumer.pause(*assigned)
            self._resume_at = now + wait

    async def wait_for_the_next_fetch(self) -> None:
        if self._resume_at is None:
            return
        await asyncio.sleep(max(0.0, self._resume_at - time.monotonic()))
        self._resume_at = None
        paused = self._consumer.paused()
        if paused:
            self._consumer.resume(*paused)

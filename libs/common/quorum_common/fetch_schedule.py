"""Fetch pacing for brokers that never hold a fetch.

On a broker that answers an empty fetch at
once instead of holding it (the local noida-db), an idle consumer would fetch in a tight
loop, and so would the quiet partitions of a busy one; with `idle_pause_max_ms` set the
consumer paces its fetches (`FetchSchedule`): it fetches again 5 ms after a poll that
brought records, and after a tenth of its quiet spell (at most the maximum) when none
came: a record arriving after a quiet spell waits at most about a tenth of it longer.
On Kafka (which holds an empty fetch until a record arrives or
fetch.max.wait.ms passes) it stays 0.
"""

from __future__ import annotations

import asyncio
import time

from aiokafka import AIOKafkaConsumer

# With idle pauses (a broker that answers empty fetches at once), how long a poll waits
# after a pause: a fetch round trip or two on this host.
SHORT_POLL_MS = 1
IDLE_PAUSE_SHARE = 0.1
# While records keep coming, a partition is fetched again this long after it brought
# some (see FetchSchedule): a transaction costs about the same for one event as for a
# hundred, and at a few hundred events a second a consumer that fetches again at once
# applies them one or two at a time.
LINGER_S = 0.01


class FetchSchedule:
    """When the consumer may fetch again, for brokers that never hold a fetch.

    The fetcher of aiokafka fetches every partition it may, again as soon as an answer
    comes back. Kafka holds a fetch that finds nothing; the local noida-db answers at
    once, so every partition not paused is fetched in a tight loop. So after each poll
    all partitions are paused, and all resumed together: LINGER_S after a poll that
    brought records (what arrives meanwhile is fetched in one go and shares a
    transaction), at once after a full batch (more is waiting), and after a tenth of
    the quiet spell so far (at least LINGER_S, at most `longest`) when nothing came: an
    idle consumer looks now and then, and a record after a quiet spell waits at most
    about a tenth of it longer. All partitions are fetched in the same round, so an
    event and the events it caused on another topic are seen in order when both exist.
    """

    def __init__(self, consumer: AIOKafkaConsumer, longest: float) -> None:
        self._consumer = consumer
        self._longest = longest
        self._quiet_since: float | None = None
        self._resume_at: float | None = None

    @property
    def pausing(self) -> bool:
        return self._longest > 0

    def after_poll(self, brought_records: bool, full: bool) -> None:
        if not self.pausing or full:
            self._quiet_since = None
            return
        now = time.monotonic()
        if brought_records:
            self._quiet_since = None
            wait = LINGER_S
        else:
            self._quiet_since = self._quiet_since or now
            wait = min(self._longest, max(LINGER_S, IDLE_PAUSE_SHARE * (now - self._quiet_since)))
        assigned = list(self._consumer.assignment())
        if assigned:
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

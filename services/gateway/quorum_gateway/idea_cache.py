"""What the gateway remembers of ideas, so that reading one costs no backend call.

GetIdea combines two backend reads (the ideas service's idea and the stage ledger's
progress); done for every call, they cost several times what the gateway itself does.
The gateway already consumes every event of the platform (for WatchEvents), so it can
keep what it answered and forget it the moment anything about that idea happens:

- an event about the idea, consumed from Kafka, forgets it (another client's write, a
  gate that opened, a stage that moved, through any replica);
- a write through this gateway forgets it when the write is acknowledged, before the
  answer goes back, so a client reading after its own write never gets the state
  from before it (read-your-writes holds for every call through the same gateway);
- a read that started before something forgot the idea does not store what it read;
- every entry is dropped after `ttl` seconds whatever happens, which bounds the effect
  of anything missed (a consumer far behind, say).

Several gateway replicas each keep their own cache and each consumes only some of
the topics' partitions; every replica follows the event log's change stream, so an
event any replica logged makes every replica forget its idea (`EventLog.follow_changes`):
a write through one replica reaches another's cache within that consumer's lag. A
client keeps its HTTP/2 connection, so its calls stay on one replica (see docs and README).
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from quorum.gateway.v1 import gateway_pb2
from quorum_common.processed import Consumed, Handler
from quorum_common.unit_of_work import Unit

Key = tuple[str, str]  # (tenant id, idea id)
# Invalidations remembered for reads in flight; far more than ever run at once.
_REMEMBERED = 100_000


def canonical_id(idea_id: str) -> str:
    """The id as events name the idea ("" when it is no UUID): upper case finds it too."""
    try:
        return str(uuid.UUID(idea_id))
    except ValueError:
        return ""


@dataclass(frozen=True)
class _Entry:
    idea: gateway_pb2.Idea
    stored_at: float


class IdeaCache:
    def __init__(
        self,
        ttl: float,
        max_entries: int = 50_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl
        self._max = max_entries
        self._clock = clock
        self._entries: OrderedDict[Key, _Entry] = OrderedDict()
        # When each idea was last forgotten, on a counter that only grows.
        self._forgotten: OrderedDict[Key, int] = OrderedDict()
        self._tick = 0
        self.hits = 0
        self.misses = 0

    @property
    def enabled(self) -> bool:
        return self._ttl > 0

    def get(self, key: Key) -> gateway_pb2.Idea | None:
        entry = self._entries.get(key)
        if entry is None or self._clock() - entry.stored_at > self._ttl:
            self.misses += 1
            return None
        self.hits += 1
        return entry.idea

    def reading(self) -> int:
        """Call before reading the backends; pass the answer to `store`."""
        return self._tick

    def store(self, key: Key, began: int, idea: gateway_pb2.Idea) -> None:
        """Keep what a read that began at `began` found, unless it was forgotten since."""
        if not self.enabled or self._forgotten.get(key, 0) > began:
            return
        self._entries[key] = _Entry(idea, self._clock())
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def forget(self, tenant_id: str, idea_id: str) -> None:
        key = (tenant_id, idea_id)
        self._entries.pop(key, None)
        if not self.enabled:
            return
        self._tick += 1
        self._forgotten[key] = self._tick
        self._forgotten.move_to_end(key)
        while len(self._forgotten) > _REMEMBERED:
            self._forgotten.popitem(last=False)


def forgetting(cache: IdeaCache, handle: Handler) -> Handler:
    """A consumer handler that forgets every idea its events are about, then `handle`s them.

    Forgotten before the transaction: what the cache held came from the backends, which
    already committed whatever the event tells; a batch retried forgets again, harmlessly.
    """

    async def forget_then_handle(unit: Unit, consumed: Sequence[Consumed]) -> None:
        for item in consumed:
            envelope = item.event.envelope
            if envelope.idea_id:
                cache.forget(envelope.tenant_id, envelope.idea_id)
        await handle(unit, consumed)

    return forget_then_handle

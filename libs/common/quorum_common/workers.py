"""A background worker's loop: look for work, then idle until woken or until it is due.

The services' workers (validation's re-evaluator, notifications' fan-out and dispatcher)
each wait on an event that the code queuing their work sets, with a sweep as the
fallback; this is that loop, written once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from pymongo.errors import PyMongoError

from quorum_common.events import now
from quorum_common.waits import woken

# The shortest idle before work that is due soon: no spinning on a clock a hair behind.
_SHORTEST_IDLE = 0.005


async def run_woken(
    wake: asyncio.Event,
    look: Callable[[], Awaitable[float]],
    log: logging.Logger,
    what: str,
    retry_seconds: float,
) -> None:
    """`look` for work forever, idling as long as it says (0: look again at once) unless
    `wake` is set meanwhile; cancel the task to stop it. MongoDB being unavailable is
    logged and looked at again after `retry_seconds`."""
    while True:
        # Cleared before looking, so a wake-up during the look is not lost.
        wake.clear()
        try:
            idle = await look()
        except PyMongoError as error:
            log.warning("%s failed, will retry: %s", what, error)
            idle = retry_seconds
        if idle > 0:
            await woken(wake, idle)


def idle_until(due: datetime | None, longest: float) -> float:
    """How long to idle before work that is `due` (None: none is), `longest` at most."""
    if due is None:
        return longest
    return min(longest, max(_SHORTEST_IDLE, (due - now()).total_seconds()))

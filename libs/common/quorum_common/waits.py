"""Bounded waits that a task's cancellation always gets through.

`asyncio.wait_for` on Python 3.11 can swallow the cancellation of the task that waits
when it arrives in the same turn of the loop as what it waits for (cpython#86296, fixed
only by 3.12's rewrite on `asyncio.timeout`): a relay or a worker cancelled at that
moment runs on, and the process never finishes stopping. `asyncio.timeout` does not
lose it, so every bounded wait of the services goes through these two.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def woken(event: asyncio.Event, seconds: float) -> bool:
    """Wait until `event` is set or `seconds` have passed; whether it is set."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await event.wait()
    return event.is_set()


async def within(awaitable: Awaitable[T], seconds: float) -> T:
    """What `awaitable` gives, or TimeoutError once `seconds` have passed (it is cancelled)."""
    async with asyncio.timeout(seconds):
        return await awaitable

"""Waiting for state, never for time: poll what a test asserts on until it holds."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")

# Between two looks; short, since the state is usually there within milliseconds.
POLL_SECONDS = 0.05


async def found(check: Callable[[], Awaitable[T | None]], what: str, within: float = 60) -> T:
    """What `check()` first returns that is not None; fails naming `what` after `within`
    seconds of not seeing it.

    `within` only bounds a test that would otherwise hang on a broken platform; a slow
    machine makes the wait longer, never the test wrong.
    """
    deadline = time.monotonic() + within
    while True:
        outcome = await check()
        if outcome is not None:
            return outcome
        assert time.monotonic() < deadline, f"never saw {what}"
        await asyncio.sleep(POLL_SECONDS)


async def settled(check: Callable[[], Any], within: float) -> Any:
    """What `check()` (sync or async) last returned: the first falsy answer (nothing
    left to wait for), or the answer it still gave when `within` seconds ran out, for
    a caller that reports what never settled rather than failing here."""
    deadline = time.monotonic() + within
    while True:
        outcome = check()
        if inspect.isawaitable(outcome):
            outcome = await outcome
        if not outcome or time.monotonic() > deadline:
            return outcome
        await asyncio.sleep(POLL_SECONDS)


async def until(check: Callable[[], Any], what: str, within: float = 60) -> None:
    """Until `check()` (sync or async) is truthy; fails as `found` does."""

    async def holds() -> bool | None:
        outcome = check()
        if inspect.isawaitable(outcome):
            outcome = await outcome
        return True if outcome else None

    await found(holds, what, within)

"""Waiting for state, never for time: poll what a test asserts on until it holds."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

# Between two looks; short, since the state is usually there within milliseconds.
POLL_SECONDS = 0.05


async def until(check: Callable[[], Awaitable[Any]], what: str, within: float = 60) -> None:
    """Until `check()` is truthy; fails naming `what` after `within` seconds of not seeing it.

    `within` only bounds a test that would otherwise hang on a broken platform; a slow
    machine makes the wait longer, never the test wrong.
    """
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, f"never saw {what}"
        await asyncio.sleep(POLL_SECONDS)

"""A background worker's loop: it looks again when woken, when work is due, and after
MongoDB was unavailable; a cancel stops it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

import pytest
from pymongo.errors import ServerSelectionTimeoutError

from quorum_common.events import now
from quorum_common.workers import idle_until, run_woken

log = logging.getLogger(__name__)


async def test_a_worker_looks_again_at_once_when_told_and_when_woken() -> None:
    wake = asyncio.Event()
    looked = asyncio.Queue[None]()
    answers = iter([0.0, 60.0, 60.0])  # more to do, then idle for long

    async def look() -> float:
        await looked.put(None)
        return next(answers)

    task = asyncio.create_task(run_woken(wake, look, log, "looking", retry_seconds=60))
    try:
        async with asyncio.timeout(5):
            await looked.get()
            await looked.get()  # at once after the 0
            wake.set()  # the worker idles for 60 s: only the wake-up brings it back
            await looked.get()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_worker_logs_mongodb_unavailable_and_carries_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    wake = asyncio.Event()
    looked = asyncio.Event()
    failures = [ServerSelectionTimeoutError("no primary")]

    async def look() -> float:
        if failures:
            raise failures.pop()
        looked.set()
        return 60.0

    task = asyncio.create_task(run_woken(wake, look, log, "looking", retry_seconds=0.01))
    try:
        async with asyncio.timeout(5):
            await looked.wait()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert "looking failed, will retry: no primary" in caplog.text


def test_a_worker_idles_until_work_is_due_and_never_longer_than_its_longest() -> None:
    assert idle_until(None, 1.0) == 1.0
    assert idle_until(now() + timedelta(hours=1), 1.0) == 1.0
    assert 0.3 < idle_until(now() + timedelta(seconds=0.5), 1.0) <= 0.5
    assert idle_until(now() - timedelta(seconds=5), 1.0) == 0.005

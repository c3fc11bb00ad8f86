"""A bounded wait never loses the cancellation of the task that waits (cpython#86296)."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable

import pytest

from quorum_common.waits import within, woken

Wait = Callable[[asyncio.Event], Awaitable[object]]


async def stops_when_cancelled_as_it_wakes(wait: Wait) -> bool:
    """A worker loop waiting on `wait`, cancelled in the turn its event is set."""
    event = asyncio.Event()

    async def worker() -> None:
        while True:
            await wait(event)
            event.clear()

    task = asyncio.create_task(worker())
    await asyncio.sleep(0)  # the worker is waiting now
    event.set()
    task.cancel()
    try:
        async with asyncio.timeout(5):
            await task
    except asyncio.CancelledError:
        return True
    except TimeoutError:  # it ran on: the cancellation was lost
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    return False


async def test_woken_passes_on_a_cancellation_that_comes_with_the_wake_up() -> None:
    assert await stops_when_cancelled_as_it_wakes(lambda event: woken(event, 10))


async def test_within_passes_on_a_cancellation_that_comes_with_the_result() -> None:
    assert await stops_when_cancelled_as_it_wakes(lambda event: within(event.wait(), 10))


async def test_the_standard_library_wait_for_loses_it_on_this_python() -> None:
    # Why waits.py exists, and proof that the check above can fail; on Python 3.12+
    # wait_for is built on asyncio.timeout too.
    async def old(event: asyncio.Event) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), 10)

    if sys.version_info >= (3, 12):
        pytest.skip("fixed in Python 3.12")
    assert not await stops_when_cancelled_as_it_wakes(old)


async def test_woken_says_whether_the_event_came() -> None:
    event = asyncio.Event()
    assert not await woken(event, 0.01)
    event.set()
    assert await woken(event, 10)


async def test_within_gives_the_result_or_times_out() -> None:
    assert await within(asyncio.sleep(0, result="done"), 10) == "done"
    with pytest.raises(TimeoutError):
        await within(asyncio.Event().wait(), 0.01)

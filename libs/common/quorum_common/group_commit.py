"""Group commit: concurrent write calls of one process share one transaction.

A majority commit costs the same for one document as for a hundred, so a service
whose calls each commit alone spends most of its time committing. `GroupCommit`
queues the calls and runs them in groups: when no group is committing, the first call
starts one at once (nothing waits on a quiet process); calls that arrive meanwhile
form the next group, at most `max_group` of them. So the window of a group is the
commit before it, bounded by the size cap.

The service's `apply(unit, works)` decides every work of the group in order, on one
read of what the group touches, and returns one outcome per work: a result, or the
domain error (QuorumError) refusing that work alone, so one call's refusal never fails
the others. If the transaction itself fails (an error that is not a retried conflict),
the works are committed again one at a time, so that failure belongs to the one call
that causes it. Each call gets its own answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

from pymongo import AsyncMongoClient

from quorum_common import observability
from quorum_common.mongo import Document
from quorum_common.unit_of_work import Unit, commit

log = logging.getLogger(__name__)

W = TypeVar("W")
R = TypeVar("R")
# One per work: its result, or the QuorumError refusing it.
Outcome = Any
Apply = Callable[[Unit, Sequence[W]], Awaitable[Sequence[Outcome]]]

MAX_GROUP = 256


class GroupCommit(Generic[W, R]):
    def __init__(
        self,
        client: AsyncMongoClient[Document],
        outbox: Any,
        apply: Apply[W],
        max_group: int = MAX_GROUP,
    ) -> None:
        self._client = client
        self._outbox = outbox
        self._apply = apply
        self._max_group = max_group
        # Each call with its trace context: a group runs in its first call's.
        self._queue: deque[tuple[W, asyncio.Future[R], Any]] = deque()
        self._worker: asyncio.Task[None] | None = None
        self.groups = 0
        self.calls = 0

    async def run(self, work: W) -> R:
        """Commit `work` with whatever else is waiting; its result, or its error raised."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.append((work, future, observability.current_context()))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._drain(), name="group-commit")
        return await future

    async def _drain(self) -> None:
        try:
            while self._queue:
                count = min(len(self._queue), self._max_group)
                taken = [self._queue.popleft() for _ in range(count)]
                with observability.within(taken[0][2]):
                    await self._commit_group([(work, future) for work, future, _ in taken])
        except BaseException as error:
            # Cancelled (the process stops): nobody will commit what is still queued.
            for _, future, _ in self._queue:
                if not future.done():
                    future.set_exception(
                        error if isinstance(error, Exception) else asyncio.CancelledError()
                    )
            self._queue.clear()
            raise

    async def _commit_group(self, group: list[tuple[W, asyncio.Future[R]]]) -> None:
        works = [work for work, _ in group]
        self.groups += 1
        self.calls += len(works)
        try:
            outcomes = await commit(self._client, self._outbox, lambda u: self._apply(u, works))
        except Exception as error:
            if len(group) == 1:
                _deliver(group[0][1], error)
                return
            log.debug("a group of %d commits one at a time: %r", len(group), error)
            for work, future in group:
                try:
                    (outcome,) = await commit(self._client, self._outbox, self._alone(work))
                except Exception as alone:
                    outcome = alone
                _deliver(future, outcome)
            return
        for (_, future), outcome in zip(group, outcomes, strict=True):
            _deliver(future, outcome)

    def _alone(self, work: W) -> Callable[[Unit], Awaitable[Sequence[Outcome]]]:
        return lambda unit: self._apply(unit, [work])


def _deliver(future: asyncio.Future[Any], outcome: Any) -> None:
    # A caller that gave up (its deadline passed) gets nothing; what it asked for stands,
    # as for any call that times out after its commit.
    if future.done():
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)

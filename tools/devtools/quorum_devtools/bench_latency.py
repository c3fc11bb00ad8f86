"""End-to-end latency in the open loop: an endorsement sent → its effect on WatchEvents.

Two paths are timed at each offered load, both ending on a `WatchEvents` stream opened
before the first call:

- **endorsed**: a plain endorsement (a new member of an organization already counted,
  as the pipeline's are), from sending `EndorseIdea` to its `IdeaEndorsed` event on the
  stream: gateway → ideas (group commit + outbox) → relay → Kafka → one consumer's
  commit (the gateway's event log) → stream. One consumer hop, as the reference's
  end-to-end (call sent → its consumer's commit), plus the stream to a client.
- **gate**: an endorsement that opens a gate (the idea's third organization), to the
  `GateOpened` event: through validation's transaction and outbox, Kafka again and the
  gateway's log, so two consumer hops and about twice the work of a plain endorsement.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc

from quorum.domain.v1 import domain_pb2
from quorum.events.v1 import events_pb2
from quorum.gateway.v1 import gateway_pb2
from quorum_devtools.bench_load import PREPARE_CONCURRENCY, Loads
from quorum_devtools.bench_platform import BenchError, Caller, Tenant
from quorum_devtools.bench_stats import latency_summary, median_of

# Ideas the plain endorsements spread over, so that few calls of one group of the
# ideas service's group commit change the same idea.
PLAIN_IDEAS = 64
# One call of an open-loop run: the key its event will carry, and the call itself.
Call = tuple[str, Callable[[], Awaitable[Any]]]


@dataclass
class Latencies:
    loads: Loads
    # Gate ideas and, for each, the organization whose endorsement opens its gate.
    _gate_pool: dict[str, int] = field(default_factory=dict)
    # Ideas for plain endorsements and each one's submitter (an organization it counts).
    _plain_pool: dict[str, int] = field(default_factory=dict)

    async def prepare(self, count: int) -> None:
        """Both pools at once: one wait for the pipeline instead of one per load."""
        await self.gate_pool(count)
        await self.plain_pool()

    async def gate_pool(self, count: int) -> list[str]:
        """`count` ideas one endorsement away from an open DISCOVERY gate.

        An idea prepared as number n was submitted by organization n and endorsed by
        n+1 (another segment); organization n+2 opens its gate. After a measurement
        the bench withdraws that endorsement (the gate closes) and the idea is ready
        again, so repetitions cost a withdrawal per idea instead of a submission.
        """
        missing = count - len(self._gate_pool)
        if missing > 0:
            first = self.loads.ideas_made
            made = await self.loads.prepare(missing, 1)
            self._gate_pool.update({idea: first + n + 2 for n, idea in enumerate(made)})
        return list(self._gate_pool)[:count]

    async def plain_pool(self) -> list[str]:
        """Ideas each endorsed by new members of its submitter's organization, so no
        call changes which organizations count and no gate opens."""
        if not self._plain_pool:
            first = self.loads.ideas_made
            made = await self.loads.prepare(PLAIN_IDEAS, 0)
            self._plain_pool = {idea: first + n for n, idea in enumerate(made)}
        return list(self._plain_pool)

    async def endorsed_once(self, offered: float, count: int) -> dict[str, Any]:
        """Open loop: `count` plain endorsements at `offered` per second → IdeaEndorsed."""
        tenant = self.loads.tenant
        ideas = await self.plain_pool()
        calls: list[Call] = []
        for index in range(count + 1):
            idea = ideas[index % len(ideas)]
            caller = tenant.callers[index % len(tenant.callers)]
            member = tenant.next_member(self._plain_pool[idea])
            calls.append((member.member_id, _endorsing(tenant, caller, idea, member)))
        return await self._open_loop("IdeaEndorsed", _endorsing_member, calls, offered)

    async def gate_once(self, offered: float, count: int) -> dict[str, Any]:
        """Open loop: `count` endorsements at `offered` per second, each opening a gate."""
        tenant = self.loads.tenant
        ideas = await self.gate_pool(count + 1)
        members = {idea: tenant.next_member(self._gate_pool[idea]) for idea in ideas}
        calls: list[Call] = [
            (idea, _endorsing(tenant, tenant.callers[i % len(tenant.callers)], idea, members[idea]))
            for i, idea in enumerate(ideas)
        ]
        try:
            return await self._open_loop("GateOpened", _idea_of, calls, offered)
        finally:
            await self._rearm(ideas, members)

    async def _open_loop(
        self,
        kind: str,
        key_of: Callable[[events_pb2.Event], str],
        calls: Sequence[Call],
        offered: float,
    ) -> dict[str, Any]:
        """Sends `calls[1:]` at `offered` per second and times each one's event of `kind`.

        The first call proves the stream is live before the clock starts. Each latency
        runs from sending the call (as the reference measures from sending its call) to
        its event on the stream; `after_return` measures from the call's return.
        """
        await self.loads.probe.wait_quiet()
        watcher = self.loads.tenant.callers[0]
        stream = watcher.events.WatchEvents(
            gateway_pb2.WatchEventsRequest(kinds=[kind]), metadata=watcher.metadata
        )
        arrivals: dict[str, float] = {}
        arrived = asyncio.Event()

        async def read() -> None:
            with contextlib.suppress(grpc.aio.AioRpcError, asyncio.CancelledError):
                async for answer in stream:
                    arrivals.setdefault(key_of(answer.event), time.perf_counter())
                    arrived.set()

        async def until_arrived(wanted: set[str], within: float) -> None:
            deadline = time.perf_counter() + within
            while not wanted <= arrivals.keys() and time.perf_counter() < deadline:
                if reader.done():
                    raise BenchError("the WatchEvents stream ended")
                arrived.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.5):
                        await arrived.wait()

        reader = asyncio.create_task(read(), name="watch-events")
        sent: dict[str, float] = {}
        returned: dict[str, float] = {}
        failed: dict[str, int] = {}

        async def one(key: str, call: Callable[[], Awaitable[Any]]) -> None:
            sent[key] = time.perf_counter()
            try:
                await call()
            except grpc.aio.AioRpcError as error:
                failed[error.code().name] = failed.get(error.code().name, 0) + 1
                return
            returned[key] = time.perf_counter()

        try:
            warm_key, warm_call = calls[0]
            await warm_call()
            await until_arrived({warm_key}, 30.0)
            if warm_key not in arrivals:
                raise BenchError(f"WatchEvents never delivered the warm-up {kind}")
            tasks = []
            begin = time.perf_counter()
            for index, (key, call) in enumerate(calls[1:]):
                delay = begin + index / offered - time.perf_counter()
                if delay > 0:
                    # Sleeping is the measurement here: the open loop's pace.
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(one(key, call)))
            last_send = time.perf_counter()
            await asyncio.gather(*tasks)
            await until_arrived(set(returned), self.loads.drain_timeout)
        finally:
            stream.cancel()
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        count = len(calls) - 1
        latencies = [arrivals[k] - sent[k] for k in returned if k in arrivals]
        after_return = [arrivals[k] - t for k, t in returned.items() if k in arrivals]
        return {
            "offered_per_second": offered,
            "achieved_per_second": (count - 1) / (last_send - begin) if count > 1 else offered,
            "sent": count,
            "errors": failed,
            # Returned without error, yet no event within the drain timeout.
            "missing": len(returned) - len(latencies),
            **latency_summary(latencies),
            "after_return": latency_summary(after_return),
            "endorse_rpc": latency_summary([returned[k] - sent[k] for k in returned]),
        }

    async def _rearm(self, ideas: list[str], members: dict[str, Any]) -> None:
        """Withdraw the gate-opening endorsements so the pool's gates are closed again."""
        tenant = self.loads.tenant
        gate = asyncio.Semaphore(PREPARE_CONCURRENCY)

        async def one(index: int, idea: str) -> None:
            async with gate:
                caller = tenant.callers[index % len(tenant.callers)]
                try:
                    await tenant.withdraw(caller, idea, members[idea])
                except grpc.aio.AioRpcError:
                    # Its state is unknown now (e.g. its endorsement timed out): retire it.
                    self._gate_pool.pop(idea, None)

        await asyncio.gather(*(one(i, idea) for i, idea in enumerate(ideas)))
        await self.loads.probe.wait_quiet()


def _endorsing(
    tenant: Tenant, caller: Caller, idea: str, member: domain_pb2.MemberRef
) -> Callable[[], Awaitable[Any]]:
    return lambda: tenant.endorse(caller, idea, 0, member)


def _idea_of(event: events_pb2.Event) -> str:
    return event.envelope.idea_id


def _endorsing_member(event: events_pb2.Event) -> str:
    return event.idea_endorsed.member.member_id


def summarize_latency(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {
        "offered_per_second": runs[0]["offered_per_second"],
        "achieved_per_second": median_of(runs, "achieved_per_second"),
        "p50_ms": median_of(runs, "p50_ms"),
        "p95_ms": median_of(runs, "p95_ms"),
        "p99_ms": median_of(runs, "p99_ms"),
        "after_return_p50_ms": median_of([r["after_return"] for r in runs], "p50_ms"),
        "after_return_p99_ms": median_of([r["after_return"] for r in runs], "p99_ms"),
        "missing": sum(int(r["missing"]) for r in runs),
        "errors": sum(sum(r["errors"].values()) for r in runs),
        "repetitions": list(runs),
    }

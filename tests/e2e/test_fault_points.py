"""A service SIGKILLed at the worst moments: mid-transaction, mid-publish, mid-batch.

A kill from outside lands between calls most of the time; these land where a crash is
hardest to survive. The service under test is started again with `QUORUM_FAULT_POINT`
(quorum_common/fault_points.py), which makes it SIGKILL itself the n-th time it gets to
the named point during a known load of endorsements:

- ideas, `transaction`: a group of endorsements written, its transaction not committed
  (the callers get UNAVAILABLE and retry: applied once);
- ideas, `committed`: committed, its events not yet handed to the relay (the callers
  retry an endorsement already stored; the next process's sweep publishes the events);
- ideas, `published`: the broker acknowledged a relay batch, the rows not yet marked
  published (the next process publishes them again; consumers skip the copies);
- validation and notifications, `transaction`: a consumer's batch applied inside its
  transaction, not committed (redelivered, applied once);
- validation and the gateway, `applied`: a consumer's batch committed, its Kafka
  offsets not (redelivered, skipped by the processed-event marks or the event log's
  own keys). The gateway one is the gateway killed under open WatchEvents streams:
  each watcher resumes with its cursor and must see every endorsement once.

The killed service is started again without the fault point; nothing else is
restarted. Then every endorsement is counted once through the public API (ideas,
ledger, event stream, the resuming watchers) and nothing is dead-lettered. One
platform (on a broker and mongod of its own) serves every case; each case has a tenant
and ideas of its own.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from quorum_devtools.bench_platform import create_tenant
from support.faults import (
    Load,
    Watcher,
    make_plan,
    what_is_wrong,
)
from support.harness import Harness, running
from support.platforms import on_servers_of_its_own

# Seven cases, each with two restarts on a machine that may be busy with another run.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

# (service, fault point @ the hit that kills): counts small enough that the load of one
# case (40 endorsements) gets there, past the first hits so that work is in flight.
CASES = [
    ("ideas", "transaction@5"),
    ("ideas", "committed@5"),
    ("ideas", "published@3"),
    ("validation", "transaction@3"),
    ("notifications", "transaction@2"),
    ("validation", "applied@3"),
    ("gateway", "applied@3"),
]
IDEAS, PER_IDEA = 4, 10
WATCHERS = 2
# Bounds only a stuck platform reaches.
KILLED_WITHIN = 60.0
BACK_WITHIN = 60.0
CONVERGE_SECONDS = 90.0


@pytest.fixture(scope="module")
def points(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    folder: Path = tmp_path_factory.mktemp("fault-points")
    # Servers of its own: a kill inside a transaction leaves it open on mongod until its
    # lifetime ends, which the local servers shorten (infra.py); a shared mongod may be
    # one started otherwise.
    with (
        on_servers_of_its_own(folder, "p") as (_, settings),
        running(settings, folder, BACK_WITHIN) as harness,
    ):
        yield harness


@pytest.mark.parametrize(
    ("service", "point"), CASES, ids=[f"{s}-{p.partition('@')[0]}" for s, p in CASES]
)
async def test_a_kill_at_a_fault_point_loses_nothing_and_counts_nothing_twice(
    points: Harness, service: str, point: str
) -> None:
    name = point.partition("@")[0]
    tenant = await create_tenant(points.settings, f"points-{service}-{name}", callers=3)
    watching: list[asyncio.Task[None]] = []
    try:
        plan = await make_plan(tenant, IDEAS, PER_IDEA)
        # Armed only now, so that its count starts with this case's load.
        assert await asyncio.to_thread(points.stop, service) == 0
        await asyncio.to_thread(points.start, [service], {"QUORUM_FAULT_POINT": point})
        watchers = [Watcher(tenant.admin, plan) for _ in range(WATCHERS)]
        watching = [asyncio.create_task(watcher.run()) for watcher in watchers]
        load = Load(tenant.callers, plan, [])
        sending = asyncio.create_task(load.run())
        code = await asyncio.to_thread(points.wait_exit, service, KILLED_WITHIN)
        assert code == -signal.SIGKILL, points.tail(service)
        assert f"fault point {name} reached" in points.log(service)
        back = await asyncio.to_thread(points.start, [service])
        await sending
        wrong = {
            **await what_is_wrong(tenant, plan, points.settings, CONVERGE_SECONDS),
            "ended by themselves": points.exited(),
        }
        await asyncio.wait_for(asyncio.gather(*watching), CONVERGE_SECONDS)
        wrong.update({f"watcher {k}": w.wrong() for k, w in enumerate(watchers)})
    finally:
        for task in watching:
            task.cancel()
        await tenant.close()
    report = (
        f"{service} killed at {point}, back after {back} s; retried {dict(load.retries)};"
        f" watchers resumed {[w.resumed for w in watchers]} times"
    )
    print(report)
    assert not load.refused, f"{report}\nrefused: {load.refused[:10]}"
    assert load.acknowledged == len(plan.endorsements), report
    assert not any(wrong.values()), f"{report}\n{wrong}\n{points.tails()}"

"""Every process of the platform SIGKILLed under load, then exact counts.

The platform runs as separate processes, two replicas of each service (own ports, one
database and one consumer group per service, the gateway balancing round-robin over a
backend's replicas), against a broker and a MongoDB of this test's own (free ports, a
temporary folder), so the broker and mongod can be killed too without touching anything
shared. The clients spread over the two gateway replicas; a WatchEvents client stays
subscribed throughout, resuming with its cursor whenever its stream breaks. A known
load of endorsements goes through the gateway; at boundaries of it one fault at a time
is injected and the killed processes are started again, nothing else:

- a service: every replica of it SIGKILLed, then started again (the service is down);
- a replica: one replica of a service SIGKILLed while the other keeps serving: the
  load must go on through the other (some endorsements acknowledged while it is down)
  before it is started again under the same static group member id;
- the broker, mongod: SIGKILLed and started again on their data.

Then every acknowledged endorsement must be counted exactly once in the ideas service,
in the ledger's gate reports and in the event stream (support/faults.py), and no
process may have ended by itself.

`make test` runs the short version (one fault of each kind, a few hundred
endorsements); `make chaos` the long one (`--chaos`: more endorsements, three faults
of each kind in a random order, and every killed process back within 15 s), whose last
figures are in docs/infra.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from quorum_devtools import platform
from quorum_devtools.bench_platform import create_tenant
from quorum_devtools.infra import LocalInfra, Server
from support.faults import (
    Load,
    Watcher,
    make_plan,
    pinned,
    what_is_wrong,
)
from support.harness import Harness, running
from support.platforms import on_servers_of_its_own, replicated
from support.servers import restart, sigkill

pytestmark = pytest.mark.e2e

SERVERS = ("kafka", "mongo")
KINDS = (*platform.SERVICES, "replica", *SERVERS)
REPLICAS = 2
# Time for the pipeline to converge after the last fault: a generous bound that only a
# stuck platform reaches.
CONVERGE_SECONDS = 180.0
# A killed process must answer again within this of its restart: the bound for
# `make chaos` (it has the machine to itself); `make test` may share it with another run.
BACK_WITHIN_CHAOS = 15.0
BACK_WITHIN_SHARED = 90.0
# Endorsements that must be acknowledged while one replica is down, through the others.
THROUGH_THE_OTHERS = 10
# A bound for those, reached only when the other replicas do not serve.
THROUGH_THE_OTHERS_WITHIN = 60.0


@dataclass
class Owned:
    """The platform's processes and the servers under it, all this test's own."""

    infra: LocalInfra
    harness: Harness
    rng: random.Random
    # Seconds from each restart until the process answered again, by kind.
    back_after: dict[str, list[float]] = field(default_factory=dict)
    # Which replica each replica fault killed.
    replicas_killed: list[str] = field(default_factory=list)

    @property
    def settings(self) -> platform.Platform:
        return self.harness.settings

    def server(self, kind: str) -> Server:
        return self.infra.kafka if kind == "kafka" else self.infra.mongo

    def kill(self, kind: str) -> list[str]:
        """Inject one fault; what must be started again (for a server: its kind)."""
        if kind in SERVERS:
            sigkill(self.server(kind))
            return [kind]
        if kind == "replica":
            service = self.rng.choice(platform.SERVICES)
            victims = [self.rng.choice(self.settings.replicas(service))]
            self.replicas_killed.append(victims[0])
        else:
            victims = self.settings.replicas(kind)
        self.harness.kill(victims)
        return victims

    def restart(self, kind: str, victims: list[str]) -> None:
        began = time.monotonic()
        if kind in SERVERS:
            restart(self.server(kind))  # returns once it answers (ApiVersions / primary)
            seconds = round(time.monotonic() - began, 2)
        else:
            seconds = self.harness.start(victims)
        self.back_after.setdefault(kind, []).append(seconds)


@pytest.fixture
def owned(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Owned]:
    long = bool(request.config.getoption("--chaos"))
    back_within = BACK_WITHIN_CHAOS if long else BACK_WITHIN_SHARED
    with (
        on_servers_of_its_own(tmp_path, "f") as (infra, settings),
        running(replicated(settings, REPLICAS), tmp_path, back_within) as harness,
    ):
        yield Owned(infra, harness, random.Random())


async def watched(watching: asyncio.Task[None], watcher: Watcher) -> dict[str, object]:
    """What the resuming watcher got wrong, once it saw every planned endorsement."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(watching), CONVERGE_SECONDS)
    return watcher.wrong()


def faults(long: bool, rng: random.Random) -> list[str]:
    if not long:
        return list(KINDS)
    kinds = [kind for kind in KINDS for _ in range(3)]
    rng.shuffle(kinds)
    return kinds


async def through_the_others(owned: Owned, load: Load, since: int) -> None:
    """Wait until the load got endorsements acknowledged with a replica down."""
    deadline = time.monotonic() + THROUGH_THE_OTHERS_WITHIN
    while load.acknowledged < since + THROUGH_THE_OTHERS:
        assert time.monotonic() < deadline, (
            f"only {load.acknowledged - since} endorsements acknowledged in "
            f"{THROUGH_THE_OTHERS_WITHIN:g} s with {owned.replicas_killed[-1]} down"
            f" (retried {dict(load.retries)})\n{owned.harness.tails()}"
        )
        await load.progressed()


async def test_a_sigkill_of_any_process_loses_nothing_and_counts_nothing_twice(
    owned: Owned, request: pytest.FixtureRequest
) -> None:
    long = bool(request.config.getoption("--chaos"))
    # A run is repeated with the seed it printed (`--fault-seed`); the moments still
    # depend on the machine's speed, the faults and their order do not.
    given = request.config.getoption("--fault-seed")
    seed = random.randrange(1 << 30) if given is None else int(given)
    rng = random.Random(seed)
    owned.rng = rng
    injected = faults(long, rng)
    ideas, per_idea = (40, 20) if long else (15, 20)
    tenant = await create_tenant(owned.settings, "fault-tenant", callers=4)
    await pinned(owned.settings, tenant)
    try:
        plan = await make_plan(tenant, ideas, per_idea)
        total = len(plan.endorsements)
        # A fault at a random point of each equal share of the load, early enough in it
        # that a replica fault's endorsements through the other replicas fit before the
        # next boundary.
        share = total // (len(injected) + 1)
        room = max(1, share - 2 * THROUGH_THE_OTHERS)
        boundaries = [share * k + rng.randrange(room) for k in range(1, len(injected) + 1)]
        load = Load(tenant.callers, plan, boundaries)
        watcher = Watcher(tenant.admin, plan)
        watching = asyncio.create_task(watcher.run())
        sending = asyncio.create_task(load.run())
        for index, kind in enumerate(injected):
            await load.at_boundary(index)
            victims = await asyncio.to_thread(owned.kill, kind)
            if kind == "replica":
                # The clients go on while the replica is down: through the others.
                since = load.acknowledged
                load.injected[index].set()
                await through_the_others(owned, load, since)
            await asyncio.to_thread(owned.restart, kind, victims)
            load.injected[index].set()
        await sending
        wrong = {
            **await what_is_wrong(tenant, plan, owned.settings, CONVERGE_SECONDS),
            "watcher": await watched(watching, watcher),
            "ended by themselves": owned.harness.exited(),
        }
    finally:
        watching.cancel()
        await tenant.close()
    report = (
        f"seed {seed}: {total} endorsements, {REPLICAS} replicas of each service, faults"
        f" {injected} (replicas {owned.replicas_killed}), back after {owned.back_after},"
        f" retried {dict(load.retries)}, watcher resumed {watcher.resumed} times"
    )
    print(report)
    assert not load.refused, f"{report}\nrefused: {load.refused[:10]}"
    assert load.acknowledged == total, report
    assert not any(wrong.values()), f"{report}\n{wrong}\n{owned.harness.tails()}"

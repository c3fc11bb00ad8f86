"""Every process of the platform SIGKILLed under load, then exact counts.

The platform runs as separate processes against a broker and a MongoDB of this test's
own (free ports, a temporary folder), so the broker and mongod can be killed too
without touching anything shared. A WatchEvents client stays subscribed throughout,
resuming with its cursor whenever its stream breaks. A known load of endorsements goes through the
gateway; at boundaries of it one process at a time is SIGKILLed and started again —
each service, the broker, mongod — and nothing else is ever restarted. Then every
acknowledged endorsement must be counted exactly once in the ideas service, in the
ledger's gate reports and in the event stream (support/faults.py).

`make test` runs the short version (one fault of each kind, a few hundred
endorsements); `make chaos` the long one (`--chaos`: more endorsements, several faults
of each kind in a random order), whose last figures are in docs/infra.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import pytest

from quorum_devtools import platform
from quorum_devtools.bench_platform import create_tenant
from quorum_devtools.infra import LocalInfra, Server
from support.faults import (
    Load,
    Watcher,
    converge,
    dead_lettered,
    ideas_wrong,
    ledger_wrong,
    make_plan,
    stream_wrong,
)
from support.servers import free_port, restart, sigkill

pytestmark = pytest.mark.e2e

SERVERS = ("kafka", "mongo")
KINDS = (*platform.SERVICES, *SERVERS)
# Time for the pipeline to converge after the last fault, and for a killed process to
# answer again: generous bounds that only a stuck platform reaches.
CONVERGE_SECONDS = 180.0
BACK_WITHIN_SECONDS = 90.0


@dataclass
class Owned:
    """The platform's processes and the servers under it, all this test's own."""

    infra: LocalInfra
    settings: platform.Platform
    folder: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    logs: dict[str, IO[bytes]] = field(default_factory=dict)
    # Seconds from each restart until the process answered again, by kind.
    back_after: dict[str, list[float]] = field(default_factory=dict)

    def server(self, kind: str) -> Server:
        return self.infra.kafka if kind == "kafka" else self.infra.mongo

    def kill_and_restart(self, kind: str) -> None:
        began = time.monotonic()
        if kind in SERVERS:
            sigkill(self.server(kind))
            began = time.monotonic()
            restart(self.server(kind))  # returns once it answers (ApiVersions / primary)
        else:
            process = self.processes[kind]
            process.send_signal(signal.SIGKILL)
            process.wait()
            began = time.monotonic()
            self.processes[kind] = platform.start_service(self.settings, kind, self.logs[kind])
            deadline = began + BACK_WITHIN_SECONDS
            while not platform.serving(self.settings.address(kind), timeout=1.0):
                assert self.processes[kind].poll() is None, f"{kind} exited after its restart"
                assert time.monotonic() < deadline, f"{kind} not SERVING again"
                time.sleep(0.05)
        self.back_after.setdefault(kind, []).append(round(time.monotonic() - began, 2))

    def log_tails(self) -> str:
        return "\n".join(
            f"--- {name} ---\n"
            + "\n".join((self.folder / f"{name}.log").read_text().splitlines()[-20:])
            for name in platform.SERVICES
        )


@pytest.fixture
def owned(tmp_path: Path) -> Iterator[Owned]:
    infra = LocalInfra(tmp_path / "servers", free_port(), free_port())
    infra.up()
    tag = uuid.uuid4().hex[:8]
    settings = platform.Platform(
        kafka_bootstrap_servers=infra.bootstrap_servers,
        mongodb_uri=infra.mongodb_uri,
        ports={service: free_port() for service in platform.SERVICES},
        http_port=free_port(),
        topic_prefix=f"f{tag}.",
        database_prefix=f"f{tag}_",
        extra_env={"LOG_FORMAT": "text"},
    )
    owned = Owned(infra, settings, tmp_path)
    owned.logs = {s: (tmp_path / f"{s}.log").open("ab") for s in platform.SERVICES}
    try:
        owned.processes = platform.start(settings, output=owned.logs)
        platform.wait_serving(settings, owned.processes, timeout=90)
        yield owned
    finally:
        platform.stop(owned.processes)
        for handle in owned.logs.values():
            handle.close()
        infra.down()


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


async def test_a_sigkill_of_any_process_loses_nothing_and_counts_nothing_twice(
    owned: Owned, request: pytest.FixtureRequest
) -> None:
    long = bool(request.config.getoption("--chaos"))
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    injected = faults(long, rng)
    ideas, per_idea = (40, 20) if long else (15, 20)
    tenant = await create_tenant(owned.settings, "fault-tenant", callers=4)
    try:
        plan = await make_plan(tenant, ideas, per_idea)
        total = len(plan.endorsements)
        # A fault at a random point of each equal share of the load.
        share = total // (len(injected) + 1)
        boundaries = [share * k + rng.randrange(share) for k in range(1, len(injected) + 1)]
        load = Load(tenant.callers, plan, boundaries)
        watcher = Watcher(tenant.admin, plan)
        watching = asyncio.create_task(watcher.run())
        sending = asyncio.create_task(load.run())
        for index, kind in enumerate(injected):
            await load.at_boundary(index)
            await asyncio.to_thread(owned.kill_and_restart, kind)
            load.injected[index].set()
        await sending
        caller = tenant.admin
        wrong = {
            "ideas": await converge(lambda: ideas_wrong(caller, plan), CONVERGE_SECONDS),
            "ledger": await converge(lambda: ledger_wrong(caller, plan), CONVERGE_SECONDS),
            "stream": await stream_wrong(caller, plan, CONVERGE_SECONDS),
            "watcher": await watched(watching, watcher),
            "dead letters": await dead_lettered(
                owned.settings.kafka_bootstrap_servers, owned.settings.topic_prefix
            ),
        }
    finally:
        watching.cancel()
        await tenant.close()
    report = (
        f"seed {seed}: {total} endorsements, faults {injected}, back after {owned.back_after},"
        f" retried {dict(load.retries)}, watcher resumed {watcher.resumed} times"
    )
    print(report)
    assert not load.refused, f"{report}\nrefused: {load.refused[:10]}"
    assert load.acknowledged == total, report
    assert not any(wrong.values()), f"{report}\n{wrong}\n{owned.log_tails()}"

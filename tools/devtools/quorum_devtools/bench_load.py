"""The measurements that need the running platform: throughput, latency, gateway overhead.

Every idea the measurements use is prepared first and the bench waits until the
pipeline has drained (`Probe.wait_quiet`), so a measurement never pays for the
preparation of the one before.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc

from quorum.gateway.v1 import gateway_pb2
from quorum.ideas.v1 import ideas_pb2, ideas_pb2_grpc
from quorum.validation.v1 import validation_pb2, validation_pb2_grpc
from quorum_devtools import platform
from quorum_devtools.bench_platform import (
    Caller,
    Processes,
    Tenant,
    cpu_seconds,
    start_echo,
)
from quorum_devtools.bench_probe import Probe
from quorum_devtools.bench_stats import latency_summary, median_of

PREPARE_CONCURRENCY = 16


async def prepare_ideas(tenant: Tenant, count: int, endorsements: int, first: int) -> list[str]:
    """`count` ideas, each submitted by organization k and endorsed by k+1 .. k+endorsements.

    Consecutive organizations are in different segments, so the idea prepared with k,
    k+1 needs exactly one more organization (k+2) to open its DISCOVERY gate.
    """
    ideas: list[str] = [""] * count
    gate = asyncio.Semaphore(PREPARE_CONCURRENCY)

    async def one(index: int) -> None:
        number = first + index
        caller = tenant.callers[index % len(tenant.callers)]
        async with gate:
            idea_id = await tenant.submit(caller, number, number)
            for offset in range(1, endorsements + 1):
                await tenant.endorse(caller, idea_id, number + offset)
        ideas[index] = idea_id

    await asyncio.gather(*(one(i) for i in range(count)))
    return ideas


@dataclass
class Loads:
    """What the platform measurements need from the run."""

    tenant: Tenant
    probe: Probe
    settings: platform.Platform
    processes: Processes
    drain_timeout: float
    # The broker's and MongoDB's processes, when known, for CPU accounting.
    infra_pids: dict[str, int] = field(default_factory=dict)
    ideas_made: int = 0
    # Ideas kept across repetitions: submitting is the most expensive call there is
    # (it scans recent ideas for duplicates), so the bench submits as little as it can.
    _throughput_ideas: list[str] = field(default_factory=list)
    _throughput_first: int = 0

    async def prepare(self, count: int, endorsements: int) -> list[str]:
        ideas = await prepare_ideas(self.tenant, count, endorsements, self.ideas_made)
        self.ideas_made += count
        await self.probe.wait_quiet()
        return ideas

    def service_cpu(self) -> dict[str, float]:
        """CPU seconds so far of each service, the broker and mongod (those we know)."""
        pids = {s: p.pid for s, p in self.processes.services.items()} | self.infra_pids
        used = {name: cpu_seconds(pid) for name, pid in pids.items()}
        return {name: v for name, v in used.items() if v is not None}

    def cpu_totals(self) -> dict[str, float]:
        """CPU seconds each service (and the echo server) used since it started."""
        pids = {s: p.pid for s, p in self.processes.services.items()}
        pids |= {f"other-{p.pid}": p.pid for p in self.processes.others}
        used = {name: cpu_seconds(pid) for name, pid in pids.items()}
        return {name: round(v, 1) for name, v in used.items() if v is not None}

    async def idle_cpu(self, seconds: float) -> dict[str, Any]:
        """Share of one core each process uses while nobody calls the platform."""
        await self.probe.wait_quiet()
        before = self.service_cpu()
        # Sleeping is the measurement here: what the platform costs while nobody calls.
        await asyncio.sleep(seconds)
        used = cpu_used(before, self.service_cpu())
        return {
            "seconds": seconds,
            "percent_of_one_core": {name: round(v / seconds * 100, 1) for name, v in used.items()},
        }

    # ------------------------------------------------------------------ throughput

    async def throughput_once(
        self, clients: int, seconds: float, ideas_per_client: int
    ) -> dict[str, Any]:
        """Closed loop: `clients` endorse back to back for `seconds`; timed until validated.

        Each client endorses only its own ideas, so clients never contend for one
        document: what is measured is the pipeline, not write conflicts.
        """
        if len(self._throughput_ideas) < clients * ideas_per_client:
            self._throughput_first = self.ideas_made
            self._throughput_ideas = await self.prepare(clients * ideas_per_client, 0)
        ideas, first = self._throughput_ideas, self._throughput_first
        await self.probe.wait_quiet()
        before = await self.probe.consumed("validation", "ideas")
        operations_before = await self.probe.mongo_operations()
        commands_before = await self.probe.mongo_commands()
        cpu_before = self.service_cpu()
        accepted = 0
        rpc: list[float] = []
        failed: dict[str, int] = {}
        started = time.perf_counter()
        deadline = started + seconds

        async def client(number: int) -> None:
            nonlocal accepted
            caller = self.tenant.callers[number % len(self.tenant.callers)]
            offset = number * ideas_per_client
            own = ideas[offset : offset + ideas_per_client]
            sent = 0
            while time.perf_counter() < deadline:
                idea_index = sent % ideas_per_client
                # Each idea's endorsers are the organizations after its submitter's, in
                # turn, so its gate opens on the second one, as a popular idea's would.
                organization = first + offset + idea_index + 1 + sent // ideas_per_client
                began = time.perf_counter()
                try:
                    if await self.tenant.endorse(caller, own[idea_index], organization):
                        accepted += 1
                    rpc.append(time.perf_counter() - began)
                except grpc.aio.AioRpcError as error:
                    # An overloaded platform answers some calls with errors; they are
                    # counted, not fatal (a timed-out call may still have committed).
                    failed[error.code().name] = failed.get(error.code().name, 0) + 1
                sent += 1

        await asyncio.gather(*(client(n) for n in range(clients)))
        sending_ended = time.perf_counter()
        backlog = before + accepted - await self.probe.consumed("validation", "ideas")
        finished, reached = await self.probe.wait_consumed(
            "validation", "ideas", before + accepted, self.drain_timeout
        )
        # The CPU window runs on until every consumer is done: the notifications and the
        # gateway's event log are part of an endorsement's cost even when they lag.
        await self.probe.wait_quiet()
        quiet = time.perf_counter()
        cpu_after = self.service_cpu()
        counted = min(reached - before, accepted)
        operations = operations_per(operations_before, await self.probe.mongo_operations(), counted)
        commands = commands_per(commands_before, await self.probe.mongo_commands(), counted)
        elapsed = finished - started
        validated = reached - before
        cpu = cpu_used(cpu_before, cpu_after)
        return {
            "clients": clients,
            "endorsements": accepted,
            "validated": validated,
            "complete": validated >= accepted,
            "seconds": elapsed,
            "per_second": min(validated, accepted) / elapsed,
            "accepted_per_second": accepted / (sending_ended - started),
            "backlog_when_sending_ended": backlog,
            "cpu_window_seconds": quiet - started,
            "endorse_rpc": latency_summary(rpc),
            "errors": failed,
            "cpu_seconds": cpu,
            "cpu_ms_per_endorsement": per_endorsement(cpu, min(validated, accepted)),
            "mongo_operations_per_endorsement": operations,
            "mongo_commands_per_endorsement": commands,
        }

    # ------------------------------------------------------------------ gateway

    async def gateway_overhead(
        self, idea_id: str, concurrency: int, seconds: float, repetitions: int, workdir: Path
    ) -> dict[str, Any]:
        """GetIdea through the gateway vs the same answer from a bare grpc.aio server."""
        caller = self.tenant.callers[0]
        request = gateway_pb2.GetIdeaRequest(idea_id=idea_id)
        answer = await caller.ideas.GetIdea(request, metadata=caller.metadata)
        response_file = workdir / "echo-response.bin"
        response_file.write_bytes(answer.SerializeToString())
        event_loop = self.settings.extra_env.get("EVENT_LOOP", "uvloop")
        echo_address = await asyncio.to_thread(
            start_echo, response_file, self.processes, event_loop
        )
        echo = Caller.open(echo_address, "not-checked")
        ideas = grpc.aio.insecure_channel(self.settings.address("ideas"))
        validation = grpc.aio.insecure_channel(self.settings.address("validation"))
        tenant_id = self.tenant.tenant_id
        ideas_stub = ideas_pb2_grpc.IdeasServiceStub(ideas)
        gates_stub = validation_pb2_grpc.GateServiceStub(validation)
        targets: dict[str, Callable[[], Awaitable[Any]]] = {
            "bare_server": lambda: echo.ideas.GetIdea(request, metadata=echo.metadata),
            "gateway": lambda: caller.ideas.GetIdea(request, metadata=caller.metadata),
            # The two internal calls the gateway makes for one GetIdea, measured alone.
            "ideas_direct": lambda: ideas_stub.GetIdea(
                ideas_pb2.GetIdeaRequest(tenant_id=tenant_id, idea_id=idea_id)
            ),
            "validation_direct": lambda: gates_stub.GetIdeaProgress(
                validation_pb2.GetIdeaProgressRequest(tenant_id=tenant_id, idea_id=idea_id)
            ),
        }
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in targets}
        try:
            for _ in range(repetitions):
                # Interleaved, so a noisy neighbour hits both sides alike.
                for name, call in targets.items():
                    runs[name].append(await closed_loop(call, concurrency, seconds))
        finally:
            for channel in (echo.channel, ideas, validation):
                await channel.close()
        result: dict[str, Any] = {
            "concurrency": concurrency,
            "payload_bytes": len(answer.SerializeToString()),
        }
        for name, repetitions_of in runs.items():
            result[name] = {
                "per_second": median_of(repetitions_of, "per_second"),
                "p50_ms": median_of(repetitions_of, "p50_ms"),
                "p99_ms": median_of(repetitions_of, "p99_ms"),
                "repetitions": repetitions_of,
            }
        result["ratio"] = result["gateway"]["per_second"] / result["bare_server"]["per_second"]
        return result


def cpu_used(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {s: round(after[s] - before[s], 3) for s in before if s in after}


def operations_per(
    before: dict[str, int], after: dict[str, int], endorsements: int
) -> dict[str, float]:
    """MongoDB operations per endorsement, by `service.collection.kind`, and `total`."""
    if endorsements <= 0:
        return {}
    spent = {k: v - before.get(k, 0) for k, v in after.items() if v > before.get(k, 0)}
    figures = {k: round(v / endorsements, 2) for k, v in sorted(spent.items())}
    figures["total"] = round(sum(spent.values()) / endorsements, 2)
    return figures


def commands_per(
    before: dict[str, int], after: dict[str, int], endorsements: int
) -> dict[str, float]:
    """MongoDB commands per endorsement by name, `total` (transactions apart)."""
    if endorsements <= 0:
        return {}
    spent = {k: v - before.get(k, 0) for k, v in after.items() if v > before.get(k, 0)}
    figures = {k: round(v / endorsements, 3) for k, v in sorted(spent.items()) if v}
    figures["total"] = round(
        sum(v for k, v in spent.items() if k != "transactions") / endorsements, 2
    )
    return figures


def per_endorsement(cpu_seconds: dict[str, float], endorsements: int) -> dict[str, float]:
    """CPU milliseconds per endorsement of each process, and `total` over all of them."""
    if endorsements <= 0:
        return {}
    figures = {name: round(used * 1000 / endorsements, 3) for name, used in cpu_seconds.items()}
    figures["total"] = round(sum(figures.values()), 3)
    return figures


async def closed_loop(
    call: Callable[[], Awaitable[Any]], concurrency: int, seconds: float
) -> dict[str, Any]:
    """`concurrency` workers calling back to back; a short warm-up is not counted."""
    warm_until = time.perf_counter() + min(0.5, seconds / 4)
    while time.perf_counter() < warm_until:
        await call()
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    failed: dict[str, int] = {}

    async def worker() -> None:
        while time.perf_counter() < deadline:
            began = time.perf_counter()
            try:
                await call()
            except grpc.aio.AioRpcError as error:
                failed[error.code().name] = failed.get(error.code().name, 0) + 1
                continue
            latencies.append(time.perf_counter() - began)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return {"per_second": len(latencies) / elapsed, "errors": failed, **latency_summary(latencies)}

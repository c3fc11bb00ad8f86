"""One idea under load: its growth to tens of thousands of endorsements, and a hot idea.

growth    one idea grown through the public API (concurrent clients, as fast as the
          platform accepts) to each size; at each size a few dozen further endorsements,
          one at a time: their EndorseIdea latency, the CPU each process spent per
          endorsement until the pipeline was quiet again, the bytes MongoDB's oplog took
          per endorsement, and the size of the GetIdea answer and of the idea's document.
hot idea  many clients endorsing one fresh idea at once, closed loop: the rate the
          pipeline validates them at, and the calls that failed.

Every endorsement comes from an organization that never endorsed the idea before: the
case where an idea's cost could grow with its size. Those organizations need not be in
the tenant's directory.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import grpc

from quorum.gateway.v1 import gateway_pb2
from quorum_devtools.bench_load import Loads, cpu_used, per_endorsement
from quorum_devtools.bench_platform import BenchError
from quorum_devtools.bench_probe import BehindError
from quorum_devtools.bench_stats import latency_summary, median, median_of

# How many rounds of growth may make up for calls that failed (a timed-out call may
# still have committed, so the idea's own count says how many are missing).
GROWTH_ROUNDS = 3


@dataclass
class Growth:
    """One idea and the organizations that endorsed it so far."""

    loads: Loads
    idea_id: str
    label: str
    organizations: int = 0

    def next_organization(self) -> str:
        self.organizations += 1
        return f"{self.label}-{self.organizations:06d}"

    async def count(self) -> int:
        """Distinct organizations behind the idea, as the public API says."""
        caller = self.loads.tenant.callers[0]
        answer = await caller.ideas.GetIdea(
            gateway_pb2.GetIdeaRequest(idea_id=self.idea_id), metadata=caller.metadata
        )
        return int(answer.idea.organization_count)

    async def grow(self, count: int, clients: int, within: float) -> dict[str, Any]:
        """`count` endorsements by `clients` concurrent callers, back to back.

        Then waits until the pipeline has consumed them all, for at most `within` seconds
        (BehindError): a platform whose consumers slow down as the idea grows would
        otherwise keep the bench waiting for hours.
        """
        tenant = self.loads.tenant
        left = count
        accepted = 0
        failed: Counter[str] = Counter()

        async def client(number: int) -> None:
            nonlocal left, accepted
            caller = tenant.callers[number % len(tenant.callers)]
            while left > 0:
                left -= 1
                member = tenant.new_member(self.next_organization())
                try:
                    if (await tenant.endorse_as(caller, self.idea_id, member)).changed:
                        accepted += 1
                except grpc.aio.AioRpcError as error:
                    failed[error.code().name] += 1

        started = time.perf_counter()
        await asyncio.gather(*(client(n) for n in range(min(clients, count))))
        calls_ended = time.perf_counter()
        await self.loads.probe.wait_quiet(within=within)
        consumed = time.perf_counter()
        return {
            "endorsements": count,
            "accepted": accepted,
            "errors": dict(failed),
            "calls_seconds": round(calls_ended - started, 3),
            "until_consumed_seconds": round(consumed - started, 3),
            "accepted_per_second": accepted / (calls_ended - started),
        }

    async def grow_to(self, size: int, clients: int, within: float) -> list[dict[str, Any]]:
        rounds = []
        for _ in range(GROWTH_ROUNDS):
            missing = size - await self.count()
            if missing <= 0:
                break
            rounds.append(await self.grow(missing, clients, within))
        return rounds

    async def measure(self, samples: int) -> dict[str, Any]:
        """`samples` further endorsements, one at a time, and what they cost."""
        loads, tenant, probe = self.loads, self.loads.tenant, self.loads.probe
        caller = tenant.callers[0]
        await probe.wait_quiet()
        size = await self.count()
        cpu_before = loads.service_cpu()
        oplog = await probe.oplog_position()
        latencies: list[float] = []
        answers: list[int] = []
        failed: Counter[str] = Counter()
        for _ in range(samples):
            member = tenant.new_member(self.next_organization())
            began = time.perf_counter()
            try:
                answer = await tenant.endorse_as(caller, self.idea_id, member)
            except grpc.aio.AioRpcError as error:
                failed[error.code().name] += 1
                continue
            latencies.append(time.perf_counter() - began)
            answers.append(answer.ByteSize())
        await probe.wait_quiet()
        cpu = cpu_used(cpu_before, loads.service_cpu())
        oplog_bytes = await probe.oplog_bytes_since(oplog)
        got = await caller.ideas.GetIdea(
            gateway_pb2.GetIdeaRequest(idea_id=self.idea_id), metadata=caller.metadata
        )
        done = len(latencies)
        oplog_per_endorsement = (
            {name: round(used / done) for name, used in oplog_bytes.items()}
            if oplog_bytes is not None and done
            else {}
        )
        return {
            "endorsements_before": size,
            "endorsements_after": int(got.idea.organization_count),
            "samples": samples,
            "errors": dict(failed),
            "endorse_rpc": latency_summary(latencies),
            "endorse_median_ms": median(s * 1000 for s in latencies),
            "cpu_ms_per_endorsement": per_endorsement(cpu, done),
            # Bytes MongoDB's oplog took per endorsement, by service: what each one wrote.
            "oplog_bytes_per_endorsement": oplog_per_endorsement,
            "get_idea_answer_bytes": got.ByteSize(),
            "endorse_answer_bytes": max(answers, default=0),
            "idea_document_bytes": await probe.document_bytes("ideas", "ideas", self.idea_id),
        }


async def growth(
    loads: Loads, sizes: tuple[int, ...], samples: int, clients: int, within: float
) -> dict[str, Any]:
    """One idea grown to each of `sizes` in turn, measured at each.

    When the pipeline has not consumed a step's endorsements within `within` seconds,
    the section stops there and says so (`stopped`); the sizes measured so far stay.
    """
    (idea_id,) = await loads.prepare(1, 0)
    idea = Growth(loads, idea_id, "grow")
    result: dict[str, Any] = {"idea_id": idea_id, "clients": clients, "sizes": {}, "growth": []}
    started = time.perf_counter()
    for size in sizes:
        try:
            rounds = await idea.grow_to(size, clients, within)
        except BehindError as error:
            result["stopped"] = f"growing to {size:,}: {error}"
            result["stopped_at"] = size
            break
        result["growth"] += [{"to": size, **r} for r in rounds]
        result["sizes"][str(size)] = await idea.measure(samples)
    # Growing alone (calls until consumed), and the section with its measurements.
    result["grow_seconds"] = round(sum(r["until_consumed_seconds"] for r in result["growth"]), 1)
    result["section_seconds"] = round(time.perf_counter() - started, 1)
    grown = sum(r["accepted"] for r in result["growth"])
    calls = sum(r["calls_seconds"] for r in result["growth"])
    result["grow_accepted_per_second"] = grown / calls if calls else None
    result["grow_failed_calls"] = sum(sum(r["errors"].values()) for r in result["growth"])
    return result


async def hot_idea_once(loads: Loads, clients: int, seconds: float, number: int) -> dict[str, Any]:
    """Closed loop: `clients` endorse one fresh idea for `seconds`; timed until validated."""
    (idea_id,) = await loads.prepare(1, 0)
    idea = Growth(loads, idea_id, f"hot{number}")
    tenant, probe = loads.tenant, loads.probe
    before = await probe.consumed("validation", "ideas")
    cpu_before = loads.service_cpu()
    accepted = 0
    rpc: list[float] = []
    failed: Counter[str] = Counter()
    started = time.perf_counter()
    deadline = started + seconds

    async def client(index: int) -> None:
        nonlocal accepted
        caller = tenant.callers[index % len(tenant.callers)]
        while time.perf_counter() < deadline:
            member = tenant.new_member(idea.next_organization())
            began = time.perf_counter()
            try:
                if (await tenant.endorse_as(caller, idea_id, member)).changed:
                    accepted += 1
                rpc.append(time.perf_counter() - began)
            except grpc.aio.AioRpcError as error:
                failed[error.code().name] += 1

    await asyncio.gather(*(client(n) for n in range(clients)))
    sending_ended = time.perf_counter()
    finished, reached = await probe.wait_consumed(
        "validation", "ideas", before + accepted, loads.drain_timeout
    )
    await probe.wait_quiet()  # every consumer's share of the cost, as for the pipeline
    quiet = time.perf_counter()
    cpu = cpu_used(cpu_before, loads.service_cpu())
    validated = reached - before
    if not accepted:
        raise BenchError(f"the hot idea accepted no endorsement: {dict(failed)}")
    return {
        "idea_id": idea_id,
        "clients": clients,
        "endorsements": accepted,
        "validated": validated,
        "complete": validated >= accepted,
        "organization_count": await idea.count(),
        "seconds": finished - started,
        "per_second": min(validated, accepted) / (finished - started),
        "accepted_per_second": accepted / (sending_ended - started),
        "errors": dict(failed),
        "failed_calls": sum(failed.values()),
        "cpu_window_seconds": quiet - started,
        "endorse_rpc": latency_summary(rpc),
        "cpu_ms_per_endorsement": per_endorsement(cpu, min(validated, accepted)),
    }


def summarize_hot_idea(runs: list[dict[str, Any]], clients: int, seconds: float) -> dict[str, Any]:
    errors: Counter[str] = Counter()
    for run in runs:
        errors.update(run["errors"])
    return {
        "clients": clients,
        "seconds": seconds,
        "per_second": median_of(runs, "per_second"),
        "accepted_per_second": median_of(runs, "accepted_per_second"),
        "failed_calls": sum(errors.values()),
        "errors": dict(errors),
        "repetitions": runs,
    }

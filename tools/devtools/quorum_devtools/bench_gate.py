"""Gate scaling: how long the pure gate engine takes for ideas with many endorsements.

Runs in the bench process, before the platform starts, so nothing else of ours competes
for the CPU. The directory holds exactly the endorsing organizations (what the
validation service hands the engine), spread over ten segments and a range of revenues
so every criterion of the default DISCOVERY gate has real work to do.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from quorum_devtools.bench_stats import median
from quorum_validation.gate import (
    Endorsement,
    Evidence,
    Importance,
    Organization,
    Relationship,
    evaluate,
)
from quorum_validation.pipeline import default_pipeline

STAGE = "DISCOVERY"


def evidence_parts(count: int, at: datetime) -> tuple[tuple[Endorsement, ...], dict[str, Any]]:
    organizations = {
        f"org-{i:05d}": Organization(
            organization_id=f"org-{i:05d}",
            name=f"Customer {i}",
            segment=f"segment-{i % 10}",
            arr=1_000_000 * (1 + i % 97),
            relationship=Relationship.PROSPECT if i % 7 == 0 else Relationship.ACTIVE,
        )
        for i in range(count)
    }
    endorsements = tuple(
        Endorsement(
            organization_id=oid,
            importance=Importance(1 + i % 3),
            commitments=frozenset(),
            endorsed_at=at,
        )
        for i, oid in enumerate(organizations)
    )
    return endorsements, organizations


def gate_scaling(sizes: tuple[int, ...], repetitions: int) -> dict[str, Any]:
    """Per size: the median over repetitions of Evidence(...) + evaluate(...), in ms (wall).

    Building the Evidence is timed too because the validation service builds one per
    consumed event (Entry.gate_evidence); `evaluate_only_ms` leaves it out.
    """
    policy = default_pipeline().policy_into(STAGE)
    now = datetime.now(UTC)
    results: dict[str, Any] = {"stage": STAGE, "policy_version": policy.version, "sizes": {}}
    for size in sizes:
        endorsements, organizations = evidence_parts(size, now)
        prebuilt = Evidence(endorsements=endorsements, organizations=organizations)
        evaluate(policy, prebuilt, now)  # warm-up: first-call costs are not scaling
        whole: list[float] = []
        cpu: list[float] = []
        only: list[float] = []
        holds = False
        for _ in range(repetitions):
            started, started_cpu = time.perf_counter(), time.thread_time()
            report = evaluate(
                policy, Evidence(endorsements=endorsements, organizations=organizations), now
            )
            whole.append((time.perf_counter() - started) * 1000.0)
            cpu.append((time.thread_time() - started_cpu) * 1000.0)
            started = time.perf_counter()
            evaluate(policy, prebuilt, now)
            only.append((time.perf_counter() - started) * 1000.0)
            holds = report.holds
        results["sizes"][str(size)] = {
            "endorsements": size,
            "median_ms": median(whole),
            # On a shared machine wall time includes waiting for a core; CPU time does not.
            "cpu_ms": median(cpu),
            "evaluate_only_ms": median(only),
            "repetitions_ms": whole,
            "holds": holds,
        }
    return results

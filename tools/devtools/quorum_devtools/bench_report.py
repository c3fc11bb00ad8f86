"""The bench's verdicts and what people read: ratios, targets, the table, the latency plot.

The targets are issue 13's, each judged from figures of the same run: Quorum against the
reference pipeline run beside it, the hot idea against the pipeline, growth against
itself at its smallest size.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from quorum_devtools.bench_costs import mongod_at_prices

PIPELINE_SHARE = 0.50  # of the reference's throughput
HOT_IDEA_SHARE = 0.50  # of the pipeline's throughput, with no failed call
CPU_RATIO = 3.0  # CPU per validated endorsement, at most this many times the reference's
LATENCY_LOAD = 200.0  # offered endorsements/s at which p99 is judged
LATENCY_TARGET_MS = 250.0
GROWTH_RATIO = 1.5  # EndorseIdea median at the largest size over at the smallest
ANSWER_BYTES = 16 * 1024  # GetIdea answer at any size
GATEWAY_SHARE = 0.60  # of the bare server's GetIdea throughput


def _ratio(numerator: Any, denominator: Any) -> float | None:
    if not isinstance(numerator, int | float) or not isinstance(denominator, int | float):
        return None
    if not denominator or math.isnan(numerator) or math.isnan(denominator):
        return None
    return float(numerator) / float(denominator)


# The latency section's two paths (bench_latency): a plain endorsement to its
# IdeaEndorsed, one consumer hop as the reference's end-to-end; and an endorsement that
# opens a gate to its GateOpened, two consumer hops and about twice the work.
ENDORSED, GATE = "endorsed", "loads"
PATHS = {
    ENDORSED: "endorsement → its IdeaEndorsed on WatchEvents",
    GATE: "gate-opening endorsement → GateOpened on WatchEvents",
}


def _latency_at(results: dict[str, Any], load: float | None, path: str) -> dict[str, Any]:
    if load is None:
        return {}
    found: dict[str, Any] = results.get("latency", {}).get(path, {}).get(f"{load:g}", {})
    return found


def ratios(results: dict[str, Any]) -> dict[str, Any]:
    """Quorum's figures over the reference's from the same run (medians over both's runs)."""
    reference = results.get("reference", {})
    if not reference.get("available"):
        return {"note": reference.get("note", "the reference did not run")}
    pipeline = results.get("pipeline", {})
    cpu = pipeline.get("cpu_ms_per_endorsement", {})
    found: dict[str, Any] = {
        "pipeline_throughput": _ratio(pipeline.get("per_second"), reference["consumed_per_s"]),
        "cpu_per_endorsement": _ratio(
            cpu.get("total"), reference["cpu_ms_per_endorsement"].get("total")
        ),
        # Which of Quorum's processes the CPU total covers (the broker's and mongod's
        # only when the bench could find them on this machine).
        "cpu_processes": sorted(k for k in cpu if k != "total"),
        "e2e_at_per_second": reference.get("rate"),
    }
    for path, prefix in ((ENDORSED, "e2e"), (GATE, "e2e_gate")):
        latency = _latency_at(results, reference.get("rate"), path)
        for key in ("p50", "p99"):
            found[f"{prefix}_{key}"] = _ratio(
                latency.get(f"{key}_ms"), reference["e2e_ms"].get(key)
            )
    quorum_runs = pipeline.get("repetitions", [])
    reference_runs = reference.get("repetitions", [])
    # Each repetition's pair ran back to back: the spread of these is the run's noise.
    found["pipeline_throughput_by_repetition"] = [
        _ratio(q["per_second"], r["consumed_per_s"])
        for q, r in zip(quorum_runs, reference_runs, strict=False)
    ]
    return found


def _finite(value: Any) -> float | None:
    return None if not isinstance(value, int | float) or math.isnan(value) else float(value)


def _target(
    name: str, wanted: str, value: float | None, met: bool | None, note: str = ""
) -> dict[str, Any]:
    return {"name": name, "target": wanted, "value": value, "met": met, "note": note}


def _judge(value: float | None, holds: bool) -> bool | None:
    return None if value is None else holds


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue 13's targets with their figures; met is None when this run did not measure it."""
    found: list[dict[str, Any]] = []
    found_ratios = results.get("ratios") or ratios(results)
    reference_note = found_ratios.get("note", "")

    share = found_ratios.get("pipeline_throughput")
    found.append(
        _target(
            "pipeline throughput / reference's",
            f">= {PIPELINE_SHARE:.0%}",
            share,
            _judge(share, share is not None and share >= PIPELINE_SHARE),
            reference_note,
        )
    )

    hot = results.get("hot_idea", {})
    hot_share = _ratio(hot.get("per_second"), results.get("pipeline", {}).get("per_second"))
    failed = hot.get("failed_calls")
    found.append(
        _target(
            f"hot idea ({hot.get('clients', 16)} clients on one idea) / pipeline",
            f">= {HOT_IDEA_SHARE:.0%}, no failed call",
            hot_share,
            _judge(hot_share, hot_share is not None and hot_share >= HOT_IDEA_SHARE and not failed),
            f"{failed} failed calls: {hot.get('errors')}" if failed else "",
        )
    )

    cpu = found_ratios.get("cpu_per_endorsement")
    found.append(
        _target(
            "CPU per validated endorsement / reference's",
            f"<= {CPU_RATIO:g}x",
            cpu,
            _judge(cpu, cpu is not None and cpu <= CPU_RATIO),
            reference_note,
        )
    )

    # Judged like the reference's end-to-end (one consumer hop); the gate-opening path,
    # with two hops and twice the work, is told beside it.
    p99, gate_p99 = (
        _finite(_latency_at(results, LATENCY_LOAD, path).get("p99_ms")) for path in (ENDORSED, GATE)
    )
    found.append(
        _target(
            f"end-to-end p99 at {LATENCY_LOAD:g}/s, endorsement → its event (ms)",
            f"<= {LATENCY_TARGET_MS:g}",
            p99,
            _judge(p99, p99 is not None and p99 <= LATENCY_TARGET_MS),
            f"a gate-opening one → GateOpened: {gate_p99:.0f} ms" if gate_p99 is not None else "",
        )
    )

    sizes = results.get("growth", {}).get("sizes", {})
    if sizes:
        smallest, largest = min(sizes, key=int), max(sizes, key=int)
        growth = _ratio(sizes[largest]["endorse_median_ms"], sizes[smallest]["endorse_median_ms"])
        name = f"EndorseIdea median at {int(largest):,} / at {int(smallest):,} endorsements"
    else:
        growth, name = None, "EndorseIdea median at 50,000 / at 10 endorsements"
    stopped = results.get("growth", {}).get("stopped_at")
    found.append(
        _target(
            name,
            f"<= {GROWTH_RATIO:g}x",
            growth,
            # An idea the platform could not grow to its largest size has not met it.
            False if stopped else _judge(growth, growth is not None and growth <= GROWTH_RATIO),
            f"growth stopped at {stopped:,}: the pipeline fell behind" if stopped else "",
        )
    )

    answers = [s["get_idea_answer_bytes"] for s in sizes.values()]
    largest_answer = float(max(answers)) if answers else None
    found.append(
        _target(
            "GetIdea answer at any size (bytes)",
            f"<= {ANSWER_BYTES:,}",
            largest_answer,
            _judge(largest_answer, largest_answer is not None and largest_answer <= ANSWER_BYTES),
        )
    )

    gateway = results.get("gateway", {}).get("ratio")
    found.append(
        _target(
            "GetIdea through the gateway / bare grpc.aio server",
            f">= {GATEWAY_SHARE:.0%}",
            gateway,
            _judge(gateway, gateway is not None and gateway >= GATEWAY_SHARE),
        )
    )
    return found


def _number(value: Any, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float) and abs(value) < 1 and digits < 3:
        return f"{value:.3f}"
    return f"{value:,.{digits}f}"


def _share(ratio: float | None, of: str) -> str:
    return "" if ratio is None else f"{ratio:.1%} of {of}"


def _times(ratio: float | None, of: str) -> str:
    return "" if ratio is None else f"{ratio:.2f}x {of}"


def _percentiles(figures: dict[str, Any], keys: tuple[str, ...]) -> str:
    return "/".join(_number(figures.get(k)) for k in keys)


def _figure_rows(results: dict[str, Any]) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    reference = results.get("reference", {})
    found_ratios = results.get("ratios", {})
    if reference.get("available"):
        rows.append(
            ("reference: consumed (endorsements/s)", _number(reference["consumed_per_s"], 0), "")
        )
        rows.append(
            (
                "reference: CPU per endorsement, all processes (ms)",
                _number(reference["cpu_ms_per_endorsement"].get("total"), 2),
                "",
            )
        )
        rows.append(
            (
                f"reference: end-to-end at {_number(reference.get('rate'), 0)}/s p50/p95/p99 (ms)",
                _percentiles(reference["e2e_ms"], ("p50", "p95", "p99")),
                "",
            )
        )
    elif reference:
        rows.append(("reference", "-", reference.get("note", "")))
    pipeline = results.get("pipeline", {})
    if pipeline:
        cpu = pipeline.get("cpu_ms_per_endorsement", {})
        rows.append(
            (
                f"pipeline ({pipeline.get('clients')} clients, endorsements/s validated)",
                _number(pipeline.get("per_second"), 0),
                _share(found_ratios.get("pipeline_throughput"), "reference"),
            )
        )
        rows.append(
            (
                "  accepted by the gateway (endorsements/s)",
                _number(pipeline.get("accepted_per_second"), 0),
                "",
            )
        )
        rows.append(
            (
                "  CPU per validated endorsement, all processes (ms)",
                _number(cpu.get("total"), 2),
                _times(found_ratios.get("cpu_per_endorsement"), "reference"),
            )
        )
        shares = ", ".join(f"{k} {v:.2f}" for k, v in cpu.items() if k != "total")
        rows.append(("    by process (ms)", "", shares))
        commands = pipeline.get("mongo_commands_per_endorsement", {})
        if commands:
            rows.append(
                (
                    "  MongoDB commands / transactions per endorsement",
                    f"{_number(commands.get('total'), 2)} / "
                    f"{_number(commands.get('transactions'), 3)}",
                    ", ".join(
                        f"{k} {v:.2f}"
                        for k, v in sorted(commands.items(), key=lambda kv: -kv[1])
                        if k not in ("total", "transactions") and v >= 0.01
                    ),
                )
            )
    rows.extend(_unit_cost_rows(results))
    hot = results.get("hot_idea", {})
    if hot:
        failed = (
            f", {hot['failed_calls']} failed {hot['errors']}" if hot.get("failed_calls") else ""
        )
        rows.append(
            (
                f"hot idea ({hot.get('clients')} clients, one idea, endorsements/s){failed}",
                _number(hot.get("per_second"), 0),
                _share(_ratio(hot.get("per_second"), pipeline.get("per_second")), "pipeline"),
            )
        )
    rows.extend(_latency_rows(results, found_ratios))
    gateway = results.get("gateway", {})
    if gateway:
        bare = gateway["bare_server"].get("per_second")
        for name in ("bare_server", "gateway", "ideas_direct", "validation_direct"):
            rate = gateway.get(name, {}).get("per_second")
            share = _share(_ratio(rate, bare), "bare") if name != "bare_server" else ""
            rows.append((f"GetIdea {name} (calls/s)", _number(rate, 0), share))
    for size, figures in results.get("gate_scaling", {}).get("sizes", {}).items():
        rows.append(
            (
                f"gate evaluation, {int(size):,} endorsements (CPU ms)",
                _number(figures["cpu_ms"], 2),
                f"wall {_number(figures.get('median_ms'), 2)} ms",
            )
        )
    cli = results.get("cli", {})
    for name, label in (("help", "quorum --help"), ("whoami", "quorum keys whoami (one call)")):
        if name in cli:
            rows.append((f"{label} (ms, a fresh process)", _number(cli[name]["median_ms"], 0), ""))
    for service, memory in results.get("memory", {}).get("services", {}).items():
        rows.append((f"{service} peak RSS (MB)", _number(memory.get("peak_rss_mb")), ""))
    idle = results.get("idle_cpu", {}).get("percent_of_one_core", {})
    if idle:
        shares = ", ".join(f"{name} {share:g}" for name, share in idle.items())
        rows.append(("idle CPU, % of one core", f"{sum(idle.values()):.0f}", shares))
    meta = results.get("meta", {})
    if "machine_busy_cores" in meta:
        rows.append(
            (
                "machine busy / this run's processes (cores)",
                f"{meta['machine_busy_cores']:g} / {meta['bench_processes_cores']:g}",
                f"of {meta.get('machine', {}).get('cpus')}; load avg at end "
                f"{(meta.get('loadavg_at_end') or ['-'])[0]}",
            )
        )
    return rows


def _oplog(at_size: dict[str, Any], name: str) -> str:
    return _number(at_size["oplog_bytes_per_endorsement"].get(name), 0)


def growth_table(results: dict[str, Any]) -> list[str]:
    """One column per size of the idea."""
    growth = results.get("growth", {})
    sizes = growth.get("sizes", {})
    if not sizes:
        return [f"growth STOPPED {growth['stopped']}"] if growth.get("stopped") else []
    measures: tuple[tuple[str, Callable[[dict[str, Any]], str]], ...] = (
        ("EndorseIdea median (ms)", lambda s: _number(s["endorse_median_ms"])),
        (
            "ideas CPU per endorsement (ms)",
            lambda s: _number(s["cpu_ms_per_endorsement"].get("ideas"), 2),
        ),
        (
            "validation CPU per endorsement (ms)",
            lambda s: _number(s["cpu_ms_per_endorsement"].get("validation"), 2),
        ),
        (
            "all processes CPU per endorsement (ms)",
            lambda s: _number(s["cpu_ms_per_endorsement"].get("total"), 2),
        ),
        ("oplog per endorsement (bytes)", lambda s: _oplog(s, "total")),
        ("  written by ideas", lambda s: _oplog(s, "ideas")),
        ("  written by validation", lambda s: _oplog(s, "validation")),
        ("  written by notifications", lambda s: _oplog(s, "notifications")),
        ("  written by gateway", lambda s: _oplog(s, "gateway")),
        ("  outbox rows expired meanwhile (earlier writes)", lambda s: _oplog(s, "outbox_expiry")),
        ("GetIdea answer (bytes)", lambda s: _number(s["get_idea_answer_bytes"], 0)),
        ("idea document (BSON bytes)", lambda s: _number(s["idea_document_bytes"], 0)),
    )
    width = max(len(m[0]) for m in measures)
    lines = [
        f"{'growth: endorsements on the idea':<{width}}"
        + "".join(f"{int(size):>12,}" for size in sizes)
    ]
    lines.append("-" * (width + 12 * len(sizes)))
    for label, show in measures:
        lines.append(f"{label:<{width}}" + "".join(f"{show(s):>12}" for s in sizes.values()))
    lines.append(
        f"grown to {int(max(sizes, key=int)):,} in {_number(growth.get('grow_seconds'))} s "
        f"({_number(growth.get('grow_accepted_per_second'), 0)} endorsements/s accepted from "
        f"{growth.get('clients')} clients, {growth.get('grow_failed_calls', 0)} failed calls)"
    )
    if growth.get("stopped"):
        lines.append(f"STOPPED {growth['stopped']}")
    return lines


def table(results: dict[str, Any]) -> str:
    """Plain text: each figure and what it is compared with, growth, then the targets."""
    rows = _figure_rows(results)
    width = max([len(r[0]) for r in rows] + [40])
    lines = [f"{'measurement':<{width}}  {'figure':>20}  compared"]
    lines.append("-" * (width + 40))
    lines += [f"{name:<{width}}  {value:>20}  {note}" for name, value, note in rows]
    grown = growth_table(results)
    if grown:
        lines += ["", *grown]
    lines += ["", "targets (issue 13, judged in this run)"]
    for found in results.get("targets", []):
        verdict = {True: "met", False: "MISSED", None: "not measured"}[found["met"]]
        note = f"  ({found['note']})" if found.get("note") else ""
        lines.append(
            f"  {found['name']:<{width}} {_number(found['value'], 2):>12}  "
            f"(target {found['target']})  {verdict}{note}"
        )
    return "\n".join(lines)


def _latency_rows(
    results: dict[str, Any], found_ratios: dict[str, Any]
) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    e2e_rate = found_ratios.get("e2e_at_per_second")
    for path, prefix in ((ENDORSED, "e2e"), (GATE, "e2e_gate")):
        loads = results.get("latency", {}).get(path, {})
        if loads:
            rows.append((f"end-to-end: {PATHS[path]}", "", ""))
        for load, figures in loads.items():
            compared = ""
            if e2e_rate is not None and float(load) == float(e2e_rate):
                compared = (
                    f"p50 {_times(found_ratios.get(f'{prefix}_p50'), 'reference')}, "
                    f"p99 {_times(found_ratios.get(f'{prefix}_p99'), 'reference')}"
                )
            missing = f", {figures['missing']} missing" if figures.get("missing") else ""
            if figures.get("errors"):
                missing += f", {figures['errors']} failed calls"
            rows.append(
                (
                    f"  at {load}/s p50/p95/p99 (ms){missing}",
                    _percentiles(figures, ("p50_ms", "p95_ms", "p99_ms")),
                    compared,
                )
            )
    return rows


def _unit_cost_rows(results: dict[str, Any]) -> list[tuple[str, str, str]]:
    """The unit prices of this run, and mongod's share of the pipeline at those prices."""
    costs = results.get("unit_costs", {})
    rows: list[tuple[str, str, str]] = []
    wire = costs.get("grpc", {})
    if wire:
        rows.append(
            (
                "unit cost: gRPC unary round trip, CPU (ms)",
                _number(wire.get("round_trip_ms"), 3),
                f"server {wire.get('server_ms')}, client {wire.get('client_ms')}",
            )
        )
    mongo = costs.get("mongod", {})
    if not mongo:
        return rows
    rows.append(
        (
            "unit cost: mongod CPU per command / transaction (ms)",
            f"{_number(mongo.get('command_ms'), 3)} / {_number(mongo.get('transaction_ms'), 3)}",
            f"a command inside a transaction {mongo.get('command_in_transaction_ms')}",
        )
    )
    pipeline = results.get("pipeline", {})
    commands = pipeline.get("mongo_commands_per_endorsement", {})
    if commands:
        measured = pipeline.get("cpu_ms_per_endorsement", {}).get("mongo")
        rows.append(
            (
                "  pipeline's commands at these prices, mongod (ms)",
                _number(mongod_at_prices(commands, mongo), 2),
                f"measured {_number(measured, 2)}",
            )
        )
    return rows

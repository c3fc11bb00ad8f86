"""The pipeline, its gate policies in words, and what a draft policy would change."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from quorum.domain.v1 import domain_pb2
from quorum.gateway.v1 import gateway_pb2
from quorum_client.render.text import label, number, percent, plain_table, timestamp, weighting


def council_rule(policy: domain_pb2.GatePolicy) -> str:
    if not policy.HasField("council_approval"):
        return "-"
    rule = policy.council_approval
    who = rule.council_id or "every council"
    return f"approval of {who} ({percent(rule.quorum or 0.5)})"


def also_requires(policy: domain_pb2.GatePolicy) -> str:
    """Commitments and council approval: the criteria beyond counting customers."""
    parts = [
        f"{r.count} {label(domain_pb2.Commitment.DESCRIPTOR, r.commitment)}"
        for r in policy.min_commitments
    ]
    if policy.HasField("council_approval"):
        parts.append(council_rule(policy))
    return ", ".join(parts) or "-"


def policy_rules(policy: domain_pb2.GatePolicy) -> str:
    rules = []
    if policy.affiliates_count_once:
        rules.append("affiliates once")
    if policy.sponsor_excluded:
        rules.append("sponsor excluded")
    if policy.max_age_days:
        rules.append(f"max age {policy.max_age_days}d")
    if policy.HasField("relationship_factors"):
        f = policy.relationship_factors
        # The SPEC's defaults go without saying; only a tuned policy shows its factors.
        if (f.active, f.prospect, f.churned) != (1.0, 0.5, 0.5):
            rules.append(f"factors {number(f.active)}/{number(f.prospect)}/{number(f.churned)}")
    return ", ".join(rules) or "-"


def pipeline_table(pipeline: domain_pb2.Pipeline, stages: Iterable[str] | None = None) -> Table:
    wanted = set(stages) if stages is not None else None
    return policies_table(
        [p for p in pipeline.policies if wanted is None or p.stage in wanted],
        "Pipeline: " + " → ".join(pipeline.stages),
    )


def requires(policy: domain_pb2.GatePolicy) -> str:
    """What a gate asks, in words: counts, the cap on one customer's share, the rest."""
    parts = []
    if policy.min_customers:
        parts.append(f"{number(policy.min_customers)} customers")
    if policy.min_segments:
        parts.append(f"{number(policy.min_segments)} segments")
    if policy.min_active:
        parts.append(f"{number(policy.min_active)} active")
    if policy.min_weight:
        parts.append(f"weight {number(policy.min_weight)}")
    if policy.max_share:
        parts.append(f"max share {percent(policy.max_share)}")
    extra = also_requires(policy)
    if extra != "-":
        parts.append(extra)
    return ", ".join(parts) or "-"


def policies_table(policies: Sequence[domain_pb2.GatePolicy], title: str | None = None) -> Table:
    # Few columns, the criteria in words: no word is ever cut at 80 columns.
    table = plain_table(title)
    table.add_column("Gate into", no_wrap=True)
    table.add_column("v", justify="right", no_wrap=True)
    table.add_column("Requires", overflow="fold")
    table.add_column("Weighting", no_wrap=True)
    table.add_column("Rules", overflow="fold")
    for p in policies:
        table.add_row(p.stage, str(p.version), requires(p), weighting(p.weighting), policy_rules(p))
    return table


def what_if(answer: gateway_pb2.WhatIfResponse) -> RenderableType:
    parts: list[RenderableType] = [
        Text(
            f"The draft gate into {answer.stage}: {len(answer.would_open)} would open, "
            f"{len(answer.would_close)} would close, {answer.unchanged} unchanged; "
            f"{len(answer.past_advances_refused)} of {answer.past_advances_checked} past "
            "advances would have been refused."
        )
    ]
    for title, verdicts in (("Would open", answer.would_open), ("Would close", answer.would_close)):
        if verdicts:
            table = plain_table(title)
            table.add_column("Idea")
            table.add_column("Now")
            table.add_column("With the draft")
            for v in verdicts:
                table.add_row(
                    v.idea_id,
                    "holds" if v.holds_now else "does not hold",
                    Text(v.summary),
                )
            parts.append(table)
    if answer.past_advances_refused:
        table = plain_table("Past advances the draft would have refused")
        table.add_column("Idea")
        table.add_column("Decided")
        table.add_column("Why")
        for r in answer.past_advances_refused:
            table.add_row(r.idea_id, timestamp(r.decided_at), Text(r.summary))
        parts.append(table)
    return Group(*parts)

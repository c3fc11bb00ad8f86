"""Gate reports: the verdict, criterion by criterion, and how each organization weighs;
what a refused call lacks."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from quorum.domain.v1 import domain_pb2
from quorum_client.errors import FieldViolation, PreconditionViolation
from quorum_client.render.text import (
    NO,
    YES,
    arr,
    importance,
    number,
    percent,
    plain_table,
    relationship,
)


def criterion_value(name: str, value: float) -> str:
    return percent(value) if name == "max_share" else number(value)


def criterion_name(c: domain_pb2.CriterionResult) -> str:
    return f"{c.name} ({c.subject})" if c.subject else c.name


def gate_headline(report: domain_pb2.GateReport) -> str:
    verdict = "holds" if report.holds else "does not hold"
    return f"Gate into {report.stage} (policy v{report.policy_version}) {verdict}: {report.summary}"


def criteria_table(report: domain_pb2.GateReport, *, only_unmet: bool = False) -> Table:
    table = plain_table("Unmet criteria" if only_unmet else "Criteria")
    table.add_column("Criterion")
    table.add_column("Required", justify="right")
    table.add_column("Actual", justify="right")
    table.add_column("Met")
    table.add_column("Detail")
    for c in report.criteria:
        if only_unmet and c.met:
            continue
        table.add_row(
            criterion_name(c),
            ("≤ " if c.name == "max_share" else "≥ ") + criterion_value(c.name, c.required),
            criterion_value(c.name, c.actual),
            Text(YES, style="green") if c.met else Text(NO, style="red"),
            Text(c.detail or ""),
        )
    return table


def weights_table(report: domain_pb2.GateReport) -> Table:
    # Relationship and eligibility columns appear only when they say something: in
    # the common case (all active, all counted) the table stays narrow enough for a
    # plain 80-column terminal.
    weights = list(report.weights)
    show_relationship = any(w.relationship != domain_pb2.RELATIONSHIP_ACTIVE for w in weights)
    show_counts = any(not w.eligible for w in weights)
    table = plain_table("How each organization weighs")
    table.add_column("Organization")
    table.add_column("Segment")
    if show_relationship:
        table.add_column("Relationship")
    table.add_column("ARR", justify="right")
    table.add_column("Importance")
    table.add_column("Weight", justify="right")
    table.add_column("Share", justify="right")
    if show_counts:
        table.add_column("Counts")
    for w in weights:
        name = w.organization_name or w.organization_id
        if w.sponsor:
            name += " (submitter)"
        row: list[str | Text] = [Text(name), Text(w.segment or "-")]
        if show_relationship:
            row.append(relationship(w.relationship))
        row += [arr(w.arr), importance(w.importance), f"{w.weight:,.1f}", percent(w.share)]
        if show_counts:
            row.append(YES if w.eligible else f"no: {w.excluded_reason or 'excluded'}")
        table.add_row(*row)
    return table


def gate_report(report: domain_pb2.GateReport, *, weights: bool = True) -> RenderableType:
    parts: list[RenderableType] = [Text(gate_headline(report)), criteria_table(report)]
    if weights and report.weights:
        parts.append(weights_table(report))
    return Group(*parts)


def preconditions_table(violations: Sequence[PreconditionViolation]) -> Table:
    table = plain_table("Unmet conditions")
    table.add_column("Condition")
    table.add_column("Why")
    for v in violations:
        table.add_row(Text(v.subject or v.type), Text(v.description))
    return table


def field_list(violations: Sequence[FieldViolation]) -> Text:
    return Text("\n".join(f"  • {v.field}: {v.description}" for v in violations))

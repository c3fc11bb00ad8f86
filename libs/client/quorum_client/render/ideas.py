"""Ideas: their details, lists, endorsements and likely duplicates."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from quorum.domain.v1 import domain_pb2
from quorum.gateway.v1 import gateway_pb2
from quorum_client.render.text import (
    ID_WIDTH,
    commitments,
    field_grid,
    importance,
    label,
    member,
    plain_table,
    status,
    timestamp,
)


def next_gate(idea: gateway_pb2.Idea) -> str:
    if not idea.next_stage:
        return "-"
    return f"{idea.next_stage}: {'holds' if idea.next_gate_holds else 'does not hold'}"


def idea_details(
    idea: gateway_pb2.Idea, backing: gateway_pb2.ListEndorsementsResponse | None = None
) -> RenderableType:
    """The idea's fields; with `backing`, a first page of the organizations behind it."""
    rows: list[tuple[str, str | Text]] = [
        ("Idea", idea.id),
        ("Title", idea.title),
        ("Stage", f"{idea.stage or '(not yet recorded)'} ({status(idea.status)})"),
        ("Next gate", next_gate(idea)),
        ("Organizations", str(idea.organization_count)),
        ("Product area", idea.product_area or "-"),
        ("Tags", ", ".join(idea.tags) or "-"),
        ("Channel", label(domain_pb2.SourceChannel.DESCRIPTOR, idea.source_channel)),
        ("Submitted by", member(idea.submitted_by)),
        ("Created", timestamp(idea.created_at)),
        ("Versions", f"idea {idea.version}, stage {idea.stage_version}"),
    ]
    if idea.merged_into:
        rows.append(("Merged into", idea.merged_into))
    if idea.co_signed_by:
        rows.append(("Co-signed by", ", ".join(idea.co_signed_by)))
    if idea.overridden:
        rows.append(("Overridden", "yes: an admin moved it past a gate that did not hold"))
    rows.append(("Problem", idea.problem))
    parts: list[RenderableType] = [field_grid(rows)]
    if backing is not None and backing.endorsements:
        parts.append(endorsements_table(backing))
    return Group(*parts)


def endorsements_table(backing: gateway_pb2.ListEndorsementsResponse) -> Table:
    """One page of endorsements; the title says how many more there are or are hidden."""
    others = backing.organization_count - len(backing.endorsements)
    title = "Endorsements"
    if others > 0:
        title += f" (and {others} more not shown)"
    table = plain_table(title)
    for column in ("Organization", "Importance", "Commitments", "Members", "Endorsed at"):
        table.add_column(column)
    for e in backing.endorsements:
        table.add_row(
            Text(e.organization_id),
            importance(e.importance),
            commitments(e.commitments),
            str(e.member_count),
            timestamp(e.endorsed_at),
        )
    return table


def ideas_table(ideas: Sequence[gateway_pb2.Idea]) -> Table:
    # The id never wraps (it is copied into the next command); the title goes under it,
    # so the table stays readable at 80 columns, in a terminal or piped.
    table = plain_table()
    table.add_column("Idea (title)", width=ID_WIDTH, overflow="fold")
    table.add_column("Stage", overflow="fold")
    table.add_column("Orgs", justify="right", no_wrap=True)
    table.add_column("Next gate", overflow="fold")
    for idea in ideas:
        table.add_row(
            Text(idea.id) + Text("\n") + Text(idea.title, style="bold"),
            f"{idea.stage or '-'}\n{status(idea.status)}",
            str(idea.organization_count),
            next_gate(idea),
        )
    return table


def similar_table(similar: Sequence[gateway_pb2.SimilarIdea], title: str | None = None) -> Table:
    table = plain_table(title)
    table.add_column("Score", justify="right")
    table.add_column("Idea")
    table.add_column("Title")
    for s in similar:
        table.add_row(f"{s.score:.2f}", s.idea_id, Text(s.title))
    return table

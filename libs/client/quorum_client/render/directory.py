"""The tenant's directory: organizations and councils."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from quorum.domain.v1 import domain_pb2
from quorum_client.render.text import (
    NO,
    YES,
    arr,
    field_grid,
    percent,
    plain_table,
    relationship,
    timestamp,
)


def organizations_table(organizations: Sequence[domain_pb2.Organization]) -> Table:
    table = plain_table()
    for column in ("Organization", "Name", "Segment", "ARR", "Relationship", "Flags"):
        table.add_column(column, justify="right" if column == "ARR" else "left")
    for o in organizations:
        table.add_row(
            Text(o.organization_id),
            Text(o.name),
            Text(o.segment),
            arr(o.arr),
            relationship(o.relationship),
            Text(organization_flags(o)),
        )
    return table


def organization_flags(o: domain_pb2.Organization) -> str:
    flags = []
    if o.poor_fit:
        flags.append("poor fit")
    if o.parent_id:
        flags.append(f"parent {o.parent_id}")
    if o.peer_visible:
        flags.append("peer-visible")
    return ", ".join(flags) or "-"


def organization_details(o: domain_pb2.Organization) -> RenderableType:
    return field_grid(
        [
            ("Organization", o.organization_id),
            ("Name", o.name),
            ("Segment", o.segment),
            ("ARR (minor units)", arr(o.arr)),
            ("Relationship", relationship(o.relationship)),
            ("Poor fit", YES if o.poor_fit else NO),
            ("Parent", o.parent_id or "-"),
            ("Peer-visible", YES if o.peer_visible else NO),
            ("Contact", o.contact or "-"),
            ("Updated", timestamp(o.updated_at)),
        ]
    )


def councils_table(councils: Sequence[domain_pb2.Council]) -> Table:
    table = plain_table()
    for column in ("Council", "Name", "Members", "Quorum", "Charter"):
        table.add_column(column, overflow="fold")
    for c in councils:
        table.add_row(
            Text(c.council_id),
            Text(c.name),
            Text(", ".join(c.member_organization_ids) or "-"),
            percent(c.quorum) if c.quorum else "policy's",
            Text(c.charter or "-"),
        )
    return table

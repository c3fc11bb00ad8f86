"""Peers and the introductions between them."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.text import Text

from quorum.domain.v1 import domain_pb2
from quorum_client.render.text import label, plain_table


def peers_table(peers: Sequence[domain_pb2.Peer]) -> Table:
    table = plain_table()
    for column in ("Organization", "Name", "Segment"):
        table.add_column(column)
    for p in peers:
        table.add_row(Text(p.organization_id), Text(p.name), Text(p.segment))
    return table


def introduction_status(value: int) -> str:
    return label(domain_pb2.IntroductionStatus.DESCRIPTOR, value)


def introductions_table(introductions: Sequence[domain_pb2.Introduction]) -> Table:
    table = plain_table()
    for column in ("Introduction", "Idea", "From", "To", "Status", "Message", "Contacts"):
        table.add_column(column, overflow="fold")
    for i in introductions:
        contacts = " / ".join(c for c in (i.requester_contact, i.peer_contact) if c) or "-"
        table.add_row(
            i.introduction_id,
            i.idea_id,
            Text(f"{i.requester_member_id} @ {i.requester_organization_id}"),
            Text(i.peer_organization_id),
            introduction_status(i.status),
            Text(i.message or "-"),
            Text(contacts),
        )
    return table

"""`quorum councils …`: customer councils (groups of organizations)."""

from __future__ import annotations

from typing import Annotated

import typer

from quorum.domain.v1 import domain_pb2
from quorum.gateway.v1 import gateway_pb2
from quorum_client import render
from quorum_client.cli.options import set_given
from quorum_client.cli.terminal import calling, emit, emit_rows

councils_app = typer.Typer(
    help="Customer councils (groups of organizations).", no_args_is_help=True
)


@councils_app.command("upsert")
def councils_upsert(
    ctx: typer.Context,
    council: Annotated[str, typer.Argument(help="The council's id.")],
    name: Annotated[str | None, typer.Option("--name", help="Its name.")] = None,
    charter: Annotated[str | None, typer.Option("--charter", help="What it is for.")] = None,
    member: Annotated[
        list[str] | None,
        typer.Option("--member", help="A member organization; repeat; replaces the list."),
    ] = None,
    quorum: Annotated[
        float | None,
        typer.Option(
            "--quorum",
            min=0,
            max=1,
            help="Share of members whose approval a gate needs (0: policy's).",
        ),
    ] = None,
) -> None:
    """Create a council, or change the given fields of an existing one."""
    with calling(ctx) as client:
        existing = {c.council_id: c for c in client.list_councils()}
        current = existing.get(council) or domain_pb2.Council(council_id=council)
        set_given(current, name=name, charter=charter, quorum=quorum)
        if member is not None:
            del current.member_organization_ids[:]
            current.member_organization_ids.extend(member)
        stored = client.upsert_council(current)
    emit(ctx, stored, render.councils_table([stored]))


@councils_app.command("list")
def councils_list(ctx: typer.Context) -> None:
    """List the tenant's councils."""
    with calling(ctx) as client:
        found = client.list_councils()
    emit_rows(
        ctx,
        gateway_pb2.ListCouncilsResponse(councils=found),
        found,
        render.councils_table,
        "No councils yet.",
    )

"""`quorum scorecards …`: how well the vendor meets customer needs."""

from __future__ import annotations

from typing import Annotated

import typer

from quorum_client import render
from quorum_client.cli.terminal import calling, emit

scorecards_app = typer.Typer(
    help="How well the vendor meets customer needs: scorecards.", no_args_is_help=True
)


@scorecards_app.command("org")
def scorecards_org(
    ctx: typer.Context,
    organization: Annotated[
        str, typer.Argument(help="The organization (a customer key: its own).", show_default=False)
    ] = "",
) -> None:
    """An organization's record: submitted, endorsed, launched, declined, time to decision."""
    with calling(ctx) as client:
        card = client.get_organization_scorecard(organization)
    emit(ctx, card, render.organization_scorecard(card))


@scorecards_app.command("tenant")
def scorecards_tenant(ctx: typer.Context) -> None:
    """The vendor's record: overrides, launches without override, single-customer ideas stopped."""
    with calling(ctx) as client:
        card = client.get_tenant_scorecard()
    emit(ctx, card, render.tenant_scorecard(card))

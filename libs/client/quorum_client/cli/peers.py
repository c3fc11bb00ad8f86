"""`quorum peers …`: customers meeting opted-in peers who back the same idea."""

from __future__ import annotations

from typing import Annotated

import typer

from quorum.gateway.v1 import gateway_pb2
from quorum_client import render
from quorum_client.cli.options import IdeaArg
from quorum_client.cli.terminal import calling, emit, emit_rows

peers_app = typer.Typer(
    help="Customers meeting opted-in peers who back the same idea.", no_args_is_help=True
)


PeerOrgOption = Annotated[
    str,
    typer.Option("--org", help="Integration keys: which of its organizations acts."),
]


@peers_app.command("list")
def peers_list(ctx: typer.Context, idea: IdeaArg, org: PeerOrgOption = "") -> None:
    """Opted-in organizations that back the same idea."""
    with calling(ctx) as client:
        peers = client.list_peers(idea, org)
    emit_rows(
        ctx,
        gateway_pb2.ListPeersResponse(peers=peers),
        peers,
        render.peers_table,
        "No opted-in peers back this idea yet.",
    )


@peers_app.command("introduce")
def peers_introduce(
    ctx: typer.Context,
    idea: IdeaArg,
    peer: Annotated[str, typer.Argument(help="The peer organization's id.")],
    message: Annotated[str, typer.Option("--message", "-m", help="A note to the peer.")] = "",
) -> None:
    """Ask an opted-in peer for an introduction; the peer is told and may accept."""
    with calling(ctx) as client:
        introduction = client.request_introduction(idea, peer, message)
    emit(ctx, introduction, render.introductions_table([introduction]))


@peers_app.command("answer")
def peers_answer(
    ctx: typer.Context,
    introduction: Annotated[str, typer.Argument(help="The introduction's id.")],
    accept: Annotated[
        bool, typer.Option("--accept/--decline", help="The answer.", show_default=False)
    ],
    org: PeerOrgOption = "",
) -> None:
    """Accept or decline an introduction; on acceptance both sides get the contacts."""
    with calling(ctx) as client:
        answered = client.answer_introduction(introduction, accept=accept, organization_id=org)
    emit(ctx, answered, render.introductions_table([answered]))


@peers_app.command("introductions")
def peers_introductions(ctx: typer.Context, org: PeerOrgOption = "") -> None:
    """Introductions asked by or of the organization."""
    with calling(ctx) as client:
        found = client.list_introductions(org)
    emit_rows(
        ctx,
        gateway_pb2.ListIntroductionsResponse(introductions=found),
        found,
        render.introductions_table,
        "No introductions.",
    )

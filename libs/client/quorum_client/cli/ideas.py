"""`quorum ideas …`: submit, find, endorse, withdraw and merge customers' ideas."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import RenderableType
from rich.text import Text

from quorum.domain.v1 import domain_pb2
from quorum.gateway.v1 import gateway_pb2
from quorum_client import render
from quorum_client.cli.choices import (
    Channel,
    Importance,
    Status,
    wire,
)
from quorum_client.cli.options import (
    AllPagesOption,
    CommitOption,
    ExpectedVersion,
    IdeaArg,
    ImpactOption,
    ImportanceOption,
    JobOption,
    MemberOption,
    OrgOption,
    PageTokenOption,
    member_ref,
)
from quorum_client.cli.terminal import (
    calling,
    emit,
    emit_page,
    emit_rows,
    every_page,
    stage_name,
)

ideas_app = typer.Typer(
    help="Submit, find, endorse and merge customers' ideas.", no_args_is_help=True
)


# `ideas get` lists this many endorsing organizations; the rest are counted.
ENDORSEMENTS_SHOWN = 20


@ideas_app.command("submit")
def ideas_submit(
    ctx: typer.Context,
    title: Annotated[str, typer.Argument(help="The idea in one line (1-200 characters).")],
    problem: Annotated[
        str, typer.Option("--problem", "-p", help="The problem it solves (1-10,000 characters).")
    ],
    area: Annotated[
        str, typer.Option("--area", help="The product area, e.g. reporting (required).")
    ],
    tag: Annotated[
        list[str] | None, typer.Option("--tag", "-t", help="A tag; repeat for more.")
    ] = None,
    channel: Annotated[
        Channel, typer.Option("--channel", case_sensitive=False, help="Where it came from.")
    ] = Channel.API,
    org: OrgOption = "",
    member: MemberOption = "",
    job: JobOption = None,
    importance: ImportanceOption = Importance.IMPORTANT,
    impact: ImpactOption = "",
    commit: CommitOption = None,
    request_id: Annotated[
        str, typer.Option("--request-id", help="Idempotency key: a retry returns the same idea.")
    ] = "",
    id_only: Annotated[
        bool, typer.Option("--id-only", help="Print only the new idea's id (for scripts).")
    ] = False,
) -> None:
    """Submit an idea; the submitting organization's endorsement comes with it."""
    with calling(ctx) as client:
        answer = client.submit_idea(
            title,
            problem,
            product_area=area,
            tags=tag or (),
            source_channel=wire(domain_pb2.SourceChannel, channel),
            submitted_by=member_ref(org, member, job),
            importance=wire(domain_pb2.Importance, importance),
            impact=impact,
            commitments=[wire(domain_pb2.Commitment, c) for c in commit or ()],
            request_id=request_id,
        )
    if id_only:
        typer.echo(answer.idea.id)
        return
    parts: list[RenderableType] = [
        Text(f"Submitted idea {answer.idea.id}.", style="bold"),
        render.idea_details(answer.idea),
    ]
    if answer.similar_ideas:
        parts.append(render.similar_table(answer.similar_ideas, "Possible duplicates"))
    emit(ctx, answer, *parts)


@ideas_app.command("get")
def ideas_get(ctx: typer.Context, idea: IdeaArg) -> None:
    """Show an idea: its stage, next gate, evidence and endorsements."""
    with calling(ctx) as client:
        found = client.get_idea(idea)
        backing = client.list_endorsements(found.id, page_size=ENDORSEMENTS_SHOWN)
    emit(ctx, found, render.idea_details(found, backing))


@ideas_app.command("list")
def ideas_list(
    ctx: typer.Context,
    stage: Annotated[str, typer.Option("--stage", help="Only ideas at this stage.")] = "",
    status: Annotated[
        Status | None, typer.Option("--status", case_sensitive=False, help="Only this status.")
    ] = None,
    area: Annotated[str, typer.Option("--area", help="Only this product area.")] = "",
    tag: Annotated[str, typer.Option("--tag", help="Only ideas with this tag.")] = "",
    page_size: Annotated[
        int, typer.Option("--page-size", min=1, max=100, help="Ideas per page.")
    ] = 20,
    page_token: PageTokenOption = "",
    all_pages: AllPagesOption = False,
) -> None:
    """List ideas, newest first."""
    wanted_stage = stage_name(stage)
    wanted_status = wire(domain_pb2.IdeaStatus, status)
    with calling(ctx) as client:

        def fetch(token: str) -> gateway_pb2.ListIdeasResponse:
            return client.list_ideas(
                stage=wanted_stage,
                status=wanted_status,
                product_area=area,
                tag=tag,
                page_size=page_size,
                page_token=token,
            )

        page = every_page(fetch) if all_pages else fetch(page_token)
    body = render.ideas_table(page.ideas) if page.ideas else Text("No ideas match.")
    emit_page(ctx, page, body, page.next_page_token)


@ideas_app.command("endorsements")
def ideas_endorsements(
    ctx: typer.Context,
    idea: IdeaArg,
    page_size: Annotated[
        int, typer.Option("--page-size", min=1, max=500, help="Organizations per page.")
    ] = 50,
    page_token: PageTokenOption = "",
    all_pages: AllPagesOption = False,
) -> None:
    """The organizations behind an idea and how each counts (a customer: the visible ones)."""
    with calling(ctx) as client:

        def fetch(token: str) -> gateway_pb2.ListEndorsementsResponse:
            return client.list_endorsements(idea, page_size=page_size, page_token=token)

        page = every_page(fetch, page_token) if all_pages else fetch(page_token)
    body = render.endorsements_table(page) if page.endorsements else Text("No endorsements shown.")
    emit_page(ctx, page, body, page.next_page_token)


@ideas_app.command("endorse")
def ideas_endorse(
    ctx: typer.Context,
    idea: IdeaArg,
    org: OrgOption = "",
    member: MemberOption = "",
    job: JobOption = None,
    importance: ImportanceOption = Importance.IMPORTANT,
    impact: ImpactOption = "",
    commit: CommitOption = None,
    expected_version: ExpectedVersion = 0,
) -> None:
    """Endorse an idea for the member's organization (again: no change)."""
    with calling(ctx) as client:
        answer = client.endorse_idea(
            idea,
            member=member_ref(org, member, job),
            importance=wire(domain_pb2.Importance, importance),
            impact=impact,
            commitments=[wire(domain_pb2.Commitment, c) for c in commit or ()],
            expected_version=expected_version,
        )
    headline = "Endorsed." if answer.changed else "Already endorsed exactly so; nothing changed."
    emit(ctx, answer, Text(headline, style="bold"), render.idea_details(answer.idea))


@ideas_app.command("withdraw")
def ideas_withdraw(
    ctx: typer.Context,
    idea: IdeaArg,
    org: OrgOption = "",
    member: MemberOption = "",
    expected_version: ExpectedVersion = 0,
) -> None:
    """Take back a member's endorsement."""
    with calling(ctx) as client:
        found = client.withdraw_endorsement(
            idea, member=member_ref(org, member), expected_version=expected_version
        )
    emit(ctx, found, Text("Endorsement withdrawn.", style="bold"), render.idea_details(found))


@ideas_app.command("similar")
def ideas_similar(
    ctx: typer.Context,
    title: Annotated[str, typer.Argument(help="The title to compare.")],
    problem: Annotated[str, typer.Option("--problem", "-p", help="The problem text.")] = "",
    limit: Annotated[int, typer.Option("--limit", min=1, max=20, help="At most this many.")] = 5,
) -> None:
    """Find ideas that resemble a text (before submitting a duplicate)."""
    with calling(ctx) as client:
        similar = client.find_similar_ideas(title, problem, limit=limit)
    emit_rows(
        ctx,
        gateway_pb2.FindSimilarIdeasResponse(similar_ideas=similar),
        similar,
        render.similar_table,
        "No similar ideas.",
    )


@ideas_app.command("merge")
def ideas_merge(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help="The duplicate idea's id (it goes).")],
    target: Annotated[str, typer.Argument(help="The surviving idea's id.")],
    expected_version: Annotated[
        int, typer.Option("--expected-version", min=0, help="The target's version (0: any).")
    ] = 0,
    expected_source_version: Annotated[
        int,
        typer.Option("--expected-source-version", min=0, help="The source's version (0: any)."),
    ] = 0,
) -> None:
    """Merge a duplicate into another idea; endorsements carry over, one per organization."""
    with calling(ctx) as client:
        answer = client.merge_ideas(
            source,
            target,
            expected_version=expected_version,
            expected_source_version=expected_source_version,
        )
    emit(
        ctx,
        answer,
        Text(f"Merged {answer.source.id or source} into {answer.target.id}.", style="bold"),
        render.idea_details(answer.target),
    )

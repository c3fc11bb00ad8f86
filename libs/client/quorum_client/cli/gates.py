"""`quorum gates …`: gate reports; advance, decline, override; council votes, co-signing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer
from rich.console import RenderableType
from rich.text import Text

from quorum.domain.v1 import domain_pb2
from quorum.gateway.v1 import gateway_pb2
from quorum_client import render
from quorum_client.cli.options import ExpectedVersion, IdeaArg
from quorum_client.cli.terminal import calling, emit, stage_name

gates_app = typer.Typer(help="Gate reports; advance, decline; council votes.", no_args_is_help=True)


def _emit_move(
    ctx: typer.Context,
    answer: gateway_pb2.AdvanceStageResponse | gateway_pb2.OverrideStageResponse,
    headline: str,
    show: Callable[[domain_pb2.GateReport], RenderableType],
) -> None:
    """A stage move: what moved where, then the gate's report when the answer has one."""
    parts: list[RenderableType] = [Text(headline, style="bold")]
    if answer.HasField("report"):
        parts.append(show(answer.report))
    emit(ctx, answer, *parts)


@gates_app.command("report")
def gates_report(
    ctx: typer.Context,
    idea: IdeaArg,
    weights: Annotated[
        bool, typer.Option("--weights/--no-weights", help="Show each organization's weight.")
    ] = True,
) -> None:
    """Evaluate the gate into the idea's next stage now, criterion by criterion."""
    with calling(ctx) as client:
        answer = client.get_gate_report(idea)
    if not answer.next_stage or not answer.HasField("report"):
        body: RenderableType = Text(
            f"Idea {answer.idea_id} is at {answer.stage}, the end of the pipeline: no gate ahead."
        )
    else:
        body = render.gate_report(answer.report, weights=weights)
    emit(ctx, answer, Text(f"Idea {answer.idea_id} is at {answer.stage}."), body)


@gates_app.command("advance")
def gates_advance(
    ctx: typer.Context,
    idea: IdeaArg,
    stage: Annotated[str, typer.Argument(help="The next stage, e.g. DISCOVERY.")],
    expected_version: ExpectedVersion = 0,
    weights: Annotated[
        bool, typer.Option("--weights/--no-weights", help="Show each organization's weight.")
    ] = False,
) -> None:
    """Move an idea to its next stage: allowed only when the gate holds."""
    with calling(ctx) as client:
        answer = client.advance_stage(idea, stage_name(stage), expected_version=expected_version)
    _emit_move(
        ctx,
        answer,
        f"Advanced {answer.idea_id}: {answer.from_stage} → {answer.stage} "
        f"({render.status(answer.status)}, stage version {answer.stage_version}).",
        lambda report: render.gate_report(report, weights=weights),
    )


@gates_app.command("decline")
def gates_decline(
    ctx: typer.Context,
    idea: IdeaArg,
    reason: Annotated[
        str, typer.Option("--reason", "-r", help="Why, for the endorsers (1-2,000 characters).")
    ],
    expected_version: ExpectedVersion = 0,
) -> None:
    """Decline an idea with a reason; its endorsers are told."""
    with calling(ctx) as client:
        answer = client.decline_idea(idea, reason, expected_version=expected_version)
    emit(
        ctx,
        answer,
        Text(
            f"Declined {answer.idea_id} (stage version {answer.stage_version}); "
            "its endorsers are told.",
            style="bold",
        ),
    )


@gates_app.command("vote")
def gates_vote(
    ctx: typer.Context,
    idea: IdeaArg,
    approve: Annotated[
        bool, typer.Option("--approve/--reject", help="The vote.", show_default=False)
    ],
    council: Annotated[str, typer.Option("--council", help="The council's id.")],
    org: Annotated[
        str,
        typer.Option("--org", help="The voting member organization (implied by a customer key)."),
    ] = "",
    comment: Annotated[str, typer.Option("--comment", help="Why, for the vendor.")] = "",
) -> None:
    """Cast (or change) a council member organization's vote on the idea's next gate."""
    with calling(ctx) as client:
        answer = client.cast_council_vote(idea, council, org, approve=approve, comment=comment)
    emit(
        ctx,
        answer,
        Text(
            f"Vote recorded on the gate into {answer.stage or 'the next stage'}: "
            f"{answer.approvals} approvals, {answer.rejections} rejections.",
            style="bold",
        ),
    )


@gates_app.command("override")
def gates_override(
    ctx: typer.Context,
    idea: IdeaArg,
    stage: Annotated[str, typer.Argument(help="The next stage, e.g. DISCOVERY.")],
    justification: Annotated[
        str,
        typer.Option(
            "--justification", "-j", help="Why the evidence is not needed (at least 20 characters)."
        ),
    ],
    expected_version: ExpectedVersion = 0,
) -> None:
    """Admins only: move an idea past a gate that does not hold. Recorded and announced."""
    with calling(ctx) as client:
        answer = client.override_stage(
            idea, stage_name(stage), justification, expected_version=expected_version
        )
    _emit_move(
        ctx,
        answer,
        f"Overridden {answer.idea_id}: {answer.from_stage} → {answer.stage} "
        f"({render.status(answer.status)}); the audit trail, the scorecard, the councils "
        "and the endorsers know.",
        lambda report: render.criteria_table(report, only_unmet=True),
    )


@gates_app.command("cosign")
def gates_cosign(
    ctx: typer.Context,
    idea: IdeaArg,
    council: Annotated[str, typer.Option("--council", help="The council's id.")],
) -> None:
    """A council backs an idea as a joint campaign of its members."""
    with calling(ctx) as client:
        councils = client.co_sign_idea(idea, council)
    emit(
        ctx,
        gateway_pb2.CoSignIdeaResponse(co_signed_by=councils),
        Text(f"Co-signed; backed by {', '.join(councils) or council}.", style="bold"),
    )

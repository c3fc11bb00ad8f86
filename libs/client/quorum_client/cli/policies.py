"""`quorum policies …`: the pipeline, its versioned gate policies, what-if drafts."""

from __future__ import annotations

import re
from typing import Annotated

import typer
from rich.text import Text

from quorum.domain.v1 import domain_pb2
from quorum_client import render
from quorum_client.cli.choices import Commitment, Weighting, wire
from quorum_client.cli.options import set_given
from quorum_client.cli.terminal import calling, emit, stage_name

policies_app = typer.Typer(
    help="The pipeline and its versioned gate policies.", no_args_is_help=True
)


@policies_app.command("show")
def policies_show(
    ctx: typer.Context,
    stages: Annotated[
        list[str] | None, typer.Argument(help="Only the gates into these stages.")
    ] = None,
) -> None:
    """Show the pipeline and the gate policy into each stage."""
    with calling(ctx) as client:
        pipeline = client.get_pipeline()
    wanted = [stage_name(s) for s in stages] if stages else None
    emit(ctx, pipeline, render.pipeline_table(pipeline, wanted))


_COMMITMENT_RULE = re.compile(r"^\s*([a-z-]+)\s*=\s*(\d+)\s*$", re.IGNORECASE)


def _commitment_requirement(text: str) -> domain_pb2.CommitmentRequirement:
    match = _COMMITMENT_RULE.match(text)
    choices = ", ".join(c.value for c in Commitment)
    if match is None:
        raise typer.BadParameter(
            f"{text!r}: expected COMMITMENT=COUNT, e.g. beta-tester=3", param_hint="--commitment"
        )
    try:
        kind = Commitment(match.group(1).lower())
    except ValueError:
        raise typer.BadParameter(
            f"{match.group(1)!r} is not one of {choices}", param_hint="--commitment"
        ) from None
    return domain_pb2.CommitmentRequirement(
        commitment=wire(domain_pb2.Commitment, kind), count=int(match.group(2))
    )


@policies_app.command("set")
def policies_set(
    ctx: typer.Context,
    stage: Annotated[str, typer.Argument(help="The stage the gate leads into, e.g. DISCOVERY.")],
    min_customers: Annotated[int | None, typer.Option(min=0, help="Distinct customers.")] = None,
    min_segments: Annotated[int | None, typer.Option(min=0, help="Distinct segments.")] = None,
    min_active: Annotated[int | None, typer.Option(min=0, help="ACTIVE customers.")] = None,
    min_weight: Annotated[float | None, typer.Option(min=0, help="Total weight.")] = None,
    max_share: Annotated[
        float | None,
        typer.Option(min=0, max=1, help="Cap on one customer's share of the weight, 0-1."),
    ] = None,
    commitment: Annotated[
        list[str] | None,
        typer.Option(
            "--commitment",
            help="COMMITMENT=COUNT, e.g. beta-tester=3; repeat; replaces the list.",
        ),
    ] = None,
    council_approval: Annotated[
        bool | None,
        typer.Option(
            "--council-approval/--no-council-approval", help="Require a council's approval."
        ),
    ] = None,
    council: Annotated[
        str | None,
        typer.Option("--council", help="The approving council ('' for every council)."),
    ] = None,
    council_quorum: Annotated[
        float | None,
        typer.Option(min=0, max=1, help="Share of the council's members that must approve."),
    ] = None,
    weighting: Annotated[
        Weighting | None,
        typer.Option("--weighting", case_sensitive=False, help="How revenue becomes weight."),
    ] = None,
    factor_active: Annotated[
        float | None, typer.Option(min=0, help="Relationship factor for ACTIVE.")
    ] = None,
    factor_prospect: Annotated[
        float | None, typer.Option(min=0, help="Relationship factor for PROSPECT.")
    ] = None,
    factor_churned: Annotated[
        float | None, typer.Option(min=0, help="Relationship factor for CHURNED.")
    ] = None,
    affiliates_count_once: Annotated[
        bool | None,
        typer.Option(
            "--affiliates-count-once/--affiliates-count-apart",
            help="Organizations sharing a parent count as one customer.",
        ),
    ] = None,
    sponsor_excluded: Annotated[
        bool | None,
        typer.Option(
            "--sponsor-excluded/--sponsor-counted",
            help="The submitter does not count toward min customers.",
        ),
    ] = None,
    max_age_days: Annotated[
        int | None,
        typer.Option(min=0, help="Endorsements older than this stop counting (0: never)."),
    ] = None,
    what_if: Annotated[
        bool,
        typer.Option(
            "--what-if",
            help="Store nothing: show which ideas the draft would open or close, "
            "and which past advances it would have refused.",
        ),
    ] = False,
) -> None:
    """Store a new version of one gate's policy: the current one with the given changes.

    Open ideas are re-evaluated against it. With --what-if, nothing is stored.
    """
    target = stage_name(stage)
    requirements = [_commitment_requirement(c) for c in commitment] if commitment else None
    with calling(ctx) as client:
        pipeline = client.get_pipeline()
        policy = domain_pb2.GatePolicy(stage=target)
        for existing in pipeline.policies:
            if existing.stage == target:
                policy.CopyFrom(existing)
        # The service assigns both; sending old values back would only confuse.
        policy.ClearField("version")
        policy.ClearField("updated_at")
        set_given(
            policy,
            min_customers=min_customers,
            min_segments=min_segments,
            min_active=min_active,
            min_weight=min_weight,
            max_share=max_share,
            affiliates_count_once=affiliates_count_once,
            sponsor_excluded=sponsor_excluded,
            max_age_days=max_age_days,
        )
        if weighting is not None:
            policy.weighting = wire(domain_pb2.Weighting, weighting)
        if requirements is not None:
            del policy.min_commitments[:]
            policy.min_commitments.extend(r for r in requirements if r.count)
        if council_approval is False:
            policy.ClearField("council_approval")
        elif council_approval or council is not None or council_quorum is not None:
            policy.council_approval.SetInParent()
            if council is not None:
                policy.council_approval.council_id = council
            if council_quorum is not None:
                policy.council_approval.quorum = council_quorum
        if (factor_active, factor_prospect, factor_churned) != (None, None, None):
            factors = policy.relationship_factors
            if not policy.HasField("relationship_factors"):
                # SPEC defaults, so changing one factor does not zero the others.
                factors.active, factors.prospect, factors.churned = 1.0, 0.5, 0.5
            set_given(
                factors, active=factor_active, prospect=factor_prospect, churned=factor_churned
            )
        if what_if:
            verdict = client.what_if(policy)
            emit(ctx, verdict, render.what_if(verdict))
            return
        stored = client.update_gate_policy(policy)
    emit(
        ctx,
        stored,
        Text(f"Gate into {stored.stage} is now at version {stored.version}.", style="bold"),
        render.policies_table([stored]),
    )

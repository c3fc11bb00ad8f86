"""`quorum`: Quorum's public API from a terminal, for PDP tools, integrations and people.

    quorum ideas submit "Export gate reports to CSV" --problem "..." --org acme --member ana
    quorum gates report IDEA
    quorum gates advance IDEA DISCOVERY
    quorum events watch --idea IDEA

Where and as whom: --address / QUORUM_ADDRESS (default 127.0.0.1:50051) and
--api-key / QUORUM_API_KEY. Answers print as tables (or JSON with --json); a refused
call prints one sentence, the offending fields or unmet criteria, and exits with 1.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated

import grpc
import typer
from rich.console import Console, RenderableType
from rich.text import Text

from quorum.domain.v1 import domain_pb2
from quorum.gateway.v1 import gateway_pb2
from quorum_client import render
from quorum_client.client import (
    ADDRESS_ENV,
    API_KEY_ENV,
    DEFAULT_ADDRESS,
    DEFAULT_TIMEOUT,
    QuorumError,
)
from quorum_client.events_cli import events_app
from quorum_client.notifications_cli import notifications_app
from quorum_client.terminal import State, calling, emit, stage_name

# `ideas get` lists this many endorsing organizations; the rest are counted.
ENDORSEMENTS_SHOWN = 20

app = typer.Typer(
    name="quorum",
    help="Quorum's public API: ideas, validation gates, directory, policies, keys, events.",
    no_args_is_help=True,
    add_completion=False,
)
ideas_app = typer.Typer(
    help="Submit, find, endorse and merge customers' ideas.", no_args_is_help=True
)
gates_app = typer.Typer(help="Gate reports; advance, decline; council votes.", no_args_is_help=True)
orgs_app = typer.Typer(help="The tenant's customer organizations.", no_args_is_help=True)
councils_app = typer.Typer(
    help="Customer councils (groups of organizations).", no_args_is_help=True
)
policies_app = typer.Typer(
    help="The pipeline and its versioned gate policies.", no_args_is_help=True
)
keys_app = typer.Typer(help="API keys and the principals behind them.", no_args_is_help=True)
scorecards_app = typer.Typer(
    help="How well the vendor meets customer needs: scorecards.", no_args_is_help=True
)
peers_app = typer.Typer(
    help="Customers meeting opted-in peers who back the same idea.", no_args_is_help=True
)
app.add_typer(ideas_app, name="ideas")
app.add_typer(gates_app, name="gates")
app.add_typer(orgs_app, name="orgs")
app.add_typer(councils_app, name="councils")
app.add_typer(policies_app, name="policies")
app.add_typer(keys_app, name="keys")
app.add_typer(events_app, name="events")
app.add_typer(scorecards_app, name="scorecards")
app.add_typer(peers_app, name="peers")
app.add_typer(notifications_app, name="notifications")


# --- the choices the contract's enums offer, as people type them -------------------


class Importance(StrEnum):
    NICE_TO_HAVE = "nice-to-have"
    IMPORTANT = "important"
    CRITICAL = "critical"


class Commitment(StrEnum):
    BETA_TESTER = "beta-tester"
    CO_DEVELOP = "co-develop"
    PREORDER = "preorder"


class Channel(StrEnum):
    PORTAL = "portal"
    API = "api"
    HELP_DESK = "help-desk"
    CRM = "crm"
    CHAT = "chat"
    EMAIL = "email"
    COUNCIL = "council"


class JobFunction(StrEnum):
    EXECUTIVE = "executive"
    TECHNICAL = "technical"
    FINANCIAL = "financial"
    OPERATIONS = "operations"
    PRODUCT = "product"
    OTHER = "other"


class Status(StrEnum):
    OPEN = "open"
    MERGED = "merged"
    DECLINED = "declined"
    LAUNCHED = "launched"


class Relationship(StrEnum):
    ACTIVE = "active"
    PROSPECT = "prospect"
    CHURNED = "churned"


class Weighting(StrEnum):
    EQUAL = "equal"
    ARR_LOG = "arr-log"
    ARR_LINEAR = "arr-linear"


class Role(StrEnum):
    VENDOR_ADMIN = "vendor-admin"
    PRODUCT_MANAGER = "product-manager"
    CUSTOMER = "customer"
    INTEGRATION = "integration"


def _constant(choice: StrEnum) -> str:
    return choice.value.upper().replace("-", "_")


def importance_value(choice: Importance) -> domain_pb2.Importance.ValueType:
    return domain_pb2.Importance.Value(f"IMPORTANCE_{_constant(choice)}")


def commitment_value(choice: Commitment) -> domain_pb2.Commitment.ValueType:
    return domain_pb2.Commitment.Value(f"COMMITMENT_{_constant(choice)}")


def channel_value(choice: Channel) -> domain_pb2.SourceChannel.ValueType:
    return domain_pb2.SourceChannel.Value(f"SOURCE_CHANNEL_{_constant(choice)}")


def job_value(choice: JobFunction) -> domain_pb2.JobFunction.ValueType:
    return domain_pb2.JobFunction.Value(f"JOB_FUNCTION_{_constant(choice)}")


def status_value(choice: Status) -> domain_pb2.IdeaStatus.ValueType:
    return domain_pb2.IdeaStatus.Value(f"IDEA_STATUS_{_constant(choice)}")


def relationship_value(choice: Relationship) -> domain_pb2.Relationship.ValueType:
    return domain_pb2.Relationship.Value(f"RELATIONSHIP_{_constant(choice)}")


def weighting_value(choice: Weighting) -> domain_pb2.Weighting.ValueType:
    return domain_pb2.Weighting.Value(f"WEIGHTING_{_constant(choice)}")


def role_value(choice: Role) -> gateway_pb2.Role.ValueType:
    return gateway_pb2.Role.Value(f"ROLE_{_constant(choice)}")


def _member(org: str, member: str, job: JobFunction | None = None) -> domain_pb2.MemberRef | None:
    if not org and not member and job is None:
        return None  # a CUSTOMER key is the member; the gateway fills it in
    return domain_pb2.MemberRef(
        organization_id=org,
        member_id=member,
        job_function=job_value(job) if job is not None else domain_pb2.JOB_FUNCTION_UNSPECIFIED,
    )


@app.callback()
def main(
    ctx: typer.Context,
    address: Annotated[
        str,
        typer.Option("--address", "-a", envvar=ADDRESS_ENV, help="The gateway's host:port."),
    ] = DEFAULT_ADDRESS,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            "-k",
            envvar=API_KEY_ENV,
            help="The API key (sent as `authorization: Bearer KEY`).",
            show_default=False,
        ),
    ] = None,
    timeout: Annotated[
        float,
        typer.Option(envvar="QUORUM_TIMEOUT", min=0.1, help="Seconds to wait for an answer."),
    ] = DEFAULT_TIMEOUT,
    tls: Annotated[
        bool,
        typer.Option("--tls/--plaintext", envvar="QUORUM_TLS", help="Use TLS to the gateway."),
    ] = False,
    json_output: Annotated[
        bool,
        typer.Option("--json", help="Print answers as JSON (events: one object per line)."),
    ] = False,
) -> None:
    """Quorum's public API: ideas, validation gates, directory, policies, keys, events."""
    ctx.obj = State(
        address=address,
        api_key=api_key or None,
        timeout=timeout,
        tls=tls,
        json=json_output,
        out=Console(highlight=False),
        err=Console(stderr=True, highlight=False),
    )


# Options several commands share.
OrgOption = Annotated[
    str, typer.Option("--org", help="The member's organization (implied by a customer key).")
]
MemberOption = Annotated[
    str, typer.Option("--member", help="The member's id (implied by a customer key).")
]
JobOption = Annotated[
    JobFunction | None,
    typer.Option("--job-function", case_sensitive=False, help="The member's job function."),
]
ImportanceOption = Annotated[
    Importance,
    typer.Option("--importance", "-i", case_sensitive=False, help="How much it matters."),
]
ImpactOption = Annotated[str, typer.Option("--impact", help="The business impact, in words.")]
CommitOption = Annotated[
    list[Commitment] | None,
    typer.Option("--commit", case_sensitive=False, help="A commitment; repeat for more."),
]
ExpectedVersion = Annotated[
    int,
    typer.Option(
        "--expected-version",
        min=0,
        help="Fail with ABORTED unless the version is still this (0: do not check).",
    ),
]
IdeaArg = Annotated[str, typer.Argument(help="The idea's id.", show_default=False)]


# --- ideas -------------------------------------------------------------------------


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
            source_channel=channel_value(channel),
            submitted_by=_member(org, member, job),
            importance=importance_value(importance),
            impact=impact,
            commitments=[commitment_value(c) for c in commit or ()],
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
    page_token: Annotated[
        str, typer.Option("--page-token", help="Continue where a previous page ended.")
    ] = "",
    all_pages: Annotated[bool, typer.Option("--all", help="Fetch every page.")] = False,
) -> None:
    """List ideas, newest first."""
    wanted_stage = stage_name(stage)
    wanted_status = status_value(status) if status else domain_pb2.IDEA_STATUS_UNSPECIFIED
    with calling(ctx) as client:
        if all_pages:
            everything = client.iter_ideas(
                stage=wanted_stage,
                status=wanted_status,
                product_area=area,
                tag=tag,
                page_size=page_size,
            )
            page = gateway_pb2.ListIdeasResponse(ideas=list(everything))
        else:
            page = client.list_ideas(
                stage=wanted_stage,
                status=wanted_status,
                product_area=area,
                tag=tag,
                page_size=page_size,
                page_token=page_token,
            )
    parts: list[RenderableType] = [
        render.ideas_table(page.ideas) if page.ideas else Text("No ideas match.")
    ]
    if page.next_page_token:
        parts.append(Text(f"More: --page-token {page.next_page_token}", style="dim"))
    emit(ctx, page, *parts)


@ideas_app.command("endorsements")
def ideas_endorsements(
    ctx: typer.Context,
    idea: IdeaArg,
    page_size: Annotated[
        int, typer.Option("--page-size", min=1, max=500, help="Organizations per page.")
    ] = 50,
    page_token: Annotated[
        str, typer.Option("--page-token", help="Continue where a previous page ended.")
    ] = "",
    all_pages: Annotated[bool, typer.Option("--all", help="Fetch every page.")] = False,
) -> None:
    """The organizations behind an idea and how each counts (a customer: the visible ones)."""
    with calling(ctx) as client:
        page = client.list_endorsements(idea, page_size=page_size, page_token=page_token)
        if all_pages:
            while page.next_page_token:
                more = client.list_endorsements(
                    idea, page_size=page_size, page_token=page.next_page_token
                )
                page.endorsements.extend(more.endorsements)
                page.next_page_token = more.next_page_token
    parts: list[RenderableType] = [
        render.endorsements_table(page) if page.endorsements else Text("No endorsements shown.")
    ]
    if page.next_page_token:
        parts.append(Text(f"More: --page-token {page.next_page_token}", style="dim"))
    emit(ctx, page, *parts)


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
            member=_member(org, member, job),
            importance=importance_value(importance),
            impact=impact,
            commitments=[commitment_value(c) for c in commit or ()],
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
            idea, member=_member(org, member), expected_version=expected_version
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
    emit(
        ctx,
        gateway_pb2.FindSimilarIdeasResponse(similar_ideas=similar),
        render.similar_table(similar) if similar else Text("No similar ideas."),
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


# --- gates -------------------------------------------------------------------------


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
    parts: list[RenderableType] = [
        Text(
            f"Advanced {answer.idea_id}: {answer.from_stage} → {answer.stage} "
            f"({render.status(answer.status)}, stage version {answer.stage_version}).",
            style="bold",
        )
    ]
    if answer.HasField("report"):
        parts.append(render.gate_report(answer.report, weights=weights))
    emit(ctx, answer, *parts)


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
    parts: list[RenderableType] = [
        Text(
            f"Overridden {answer.idea_id}: {answer.from_stage} → {answer.stage} "
            f"({render.status(answer.status)}); the audit trail, the scorecard, the councils "
            "and the endorsers know.",
            style="bold",
        )
    ]
    if answer.HasField("report"):
        parts.append(render.criteria_table(answer.report, only_unmet=True))
    emit(ctx, answer, *parts)


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


# --- directory ---------------------------------------------------------------------


@orgs_app.command("upsert")
def orgs_upsert(
    ctx: typer.Context,
    organization: Annotated[str, typer.Argument(help="The organization's id, e.g. a CRM id.")],
    name: Annotated[str | None, typer.Option("--name", help="Its name.")] = None,
    segment: Annotated[
        str | None, typer.Option("--segment", help="Its industry segment, e.g. retail.")
    ] = None,
    arr: Annotated[
        int | None,
        typer.Option("--arr", min=0, help="Annual revenue with you, in minor units (cents)."),
    ] = None,
    relationship: Annotated[
        Relationship | None,
        typer.Option("--relationship", case_sensitive=False, help="Default for new: active."),
    ] = None,
    poor_fit: Annotated[
        bool | None,
        typer.Option("--poor-fit/--good-fit", help="A poor fit's endorsements do not count."),
    ] = None,
    parent: Annotated[
        str | None, typer.Option("--parent", help="Its parent organization ('' for none).")
    ] = None,
    peer_visible: Annotated[
        bool | None,
        typer.Option("--peer-visible/--private", help="Shown to peer organizations or not."),
    ] = None,
    contact: Annotated[
        str | None,
        typer.Option("--contact", help="Who peers reach after an accepted introduction."),
    ] = None,
) -> None:
    """Create an organization, or change the given fields of an existing one."""
    with calling(ctx) as client:
        try:
            current = client.get_organization(organization)
        except QuorumError as error:
            if error.code is not grpc.StatusCode.NOT_FOUND:
                raise
            current = domain_pb2.Organization(
                organization_id=organization, relationship=domain_pb2.RELATIONSHIP_ACTIVE
            )
        if name is not None:
            current.name = name
        if segment is not None:
            current.segment = segment
        if arr is not None:
            current.arr = arr
        if relationship is not None:
            current.relationship = relationship_value(relationship)
        if poor_fit is not None:
            current.poor_fit = poor_fit
        if parent is not None:
            current.parent_id = parent
        if peer_visible is not None:
            current.peer_visible = peer_visible
        if contact is not None:
            current.contact = contact
        current.ClearField("updated_at")
        stored = client.upsert_organization(current)
    emit(ctx, stored, render.organization_details(stored))


@orgs_app.command("get")
def orgs_get(
    ctx: typer.Context,
    organization: Annotated[str, typer.Argument(help="The organization's id.")],
) -> None:
    """Show one organization."""
    with calling(ctx) as client:
        found = client.get_organization(organization)
    emit(ctx, found, render.organization_details(found))


@orgs_app.command("list")
def orgs_list(ctx: typer.Context) -> None:
    """List the tenant's organizations."""
    with calling(ctx) as client:
        found = list(client.iter_organizations())
    emit(
        ctx,
        gateway_pb2.ListOrganizationsResponse(organizations=found),
        render.organizations_table(found) if found else Text("No organizations yet."),
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
        if name is not None:
            current.name = name
        if charter is not None:
            current.charter = charter
        if member is not None:
            del current.member_organization_ids[:]
            current.member_organization_ids.extend(member)
        if quorum is not None:
            current.quorum = quorum
        stored = client.upsert_council(current)
    emit(ctx, stored, render.councils_table([stored]))


@councils_app.command("list")
def councils_list(ctx: typer.Context) -> None:
    """List the tenant's councils."""
    with calling(ctx) as client:
        found = client.list_councils()
    emit(
        ctx,
        gateway_pb2.ListCouncilsResponse(councils=found),
        render.councils_table(found) if found else Text("No councils yet."),
    )


# --- policies ----------------------------------------------------------------------


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
        commitment=commitment_value(kind), count=int(match.group(2))
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
        if min_customers is not None:
            policy.min_customers = min_customers
        if min_segments is not None:
            policy.min_segments = min_segments
        if min_active is not None:
            policy.min_active = min_active
        if min_weight is not None:
            policy.min_weight = min_weight
        if max_share is not None:
            policy.max_share = max_share
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
        if weighting is not None:
            policy.weighting = weighting_value(weighting)
        if (factor_active, factor_prospect, factor_churned) != (None, None, None):
            factors = policy.relationship_factors
            if not policy.HasField("relationship_factors"):
                # SPEC defaults, so changing one factor does not zero the others.
                factors.active, factors.prospect, factors.churned = 1.0, 0.5, 0.5
            if factor_active is not None:
                factors.active = factor_active
            if factor_prospect is not None:
                factors.prospect = factor_prospect
            if factor_churned is not None:
                factors.churned = factor_churned
        if affiliates_count_once is not None:
            policy.affiliates_count_once = affiliates_count_once
        if sponsor_excluded is not None:
            policy.sponsor_excluded = sponsor_excluded
        if max_age_days is not None:
            policy.max_age_days = max_age_days
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


# --- keys --------------------------------------------------------------------------


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9._@-]+", "-", text.lower()).strip("-")


@keys_app.command("create")
def keys_create(
    ctx: typer.Context,
    role: Annotated[
        Role, typer.Option("--role", case_sensitive=False, help="What the key may do.")
    ],
    name: Annotated[str, typer.Option("--name", help="Who or what uses it, for people.")] = "",
    principal: Annotated[
        str,
        typer.Option(
            "--principal", help="The principal's id (default: member@org, or from --name)."
        ),
    ] = "",
    org: Annotated[str, typer.Option("--org", help="customer: the member's organization.")] = "",
    member: Annotated[str, typer.Option("--member", help="customer: the member's id.")] = "",
    for_org: Annotated[
        list[str] | None,
        typer.Option("--for-org", help="integration: an organization it acts for; repeat."),
    ] = None,
    secret_only: Annotated[
        bool, typer.Option("--secret-only", help="Print only the secret (for scripts).")
    ] = False,
) -> None:
    """Create an API key; its secret is printed this once and never again."""
    if not principal:
        principal = f"{member}@{org}" if role is Role.CUSTOMER and member and org else _slug(name)
    if not principal:
        raise typer.BadParameter("give --principal or --name", param_hint="--principal")
    with calling(ctx) as client:
        answer = client.create_api_key(
            principal_id=principal,
            display_name=name or principal,
            role=role_value(role),
            organization_id=org,
            member_id=member,
            organization_ids=for_org or (),
        )
    if secret_only:
        typer.echo(answer.secret)
        return
    emit(
        ctx,
        answer,
        render.key_details(answer.key),
        Text("Secret (shown only now; store it safely):", style="bold"),
        Text(answer.secret),
    )


@keys_app.command("list")
def keys_list(
    ctx: typer.Context,
    all_keys: Annotated[bool, typer.Option("--all", help="Include revoked keys.")] = False,
) -> None:
    """List the tenant's API keys (never their secrets)."""
    with calling(ctx) as client:
        keys = client.list_api_keys(include_revoked=all_keys)
    emit(
        ctx,
        gateway_pb2.ListApiKeysResponse(keys=keys),
        render.keys_table(keys) if keys else Text("No keys."),
    )


@keys_app.command("revoke")
def keys_revoke(
    ctx: typer.Context, key: Annotated[str, typer.Argument(help="The key's id (not its secret).")]
) -> None:
    """Revoke a key; calls with it fail from then on."""
    with calling(ctx) as client:
        revoked = client.revoke_api_key(key)
    emit(
        ctx, revoked, Text(f"Revoked {revoked.key_id}.", style="bold"), render.key_details(revoked)
    )


@keys_app.command("whoami")
def keys_whoami(ctx: typer.Context) -> None:
    """Show the tenant and principal the current key belongs to."""
    with calling(ctx) as client:
        answer = client.who_am_i()
    emit(ctx, answer, render.key_details(answer.key, answer.tenant_id))


# --- scorecards and peers ----------------------------------------------------------


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


PeerOrgOption = Annotated[
    str,
    typer.Option("--org", help="Integration keys: which of its organizations acts."),
]


@peers_app.command("list")
def peers_list(ctx: typer.Context, idea: IdeaArg, org: PeerOrgOption = "") -> None:
    """Opted-in organizations that back the same idea."""
    with calling(ctx) as client:
        peers = client.list_peers(idea, org)
    emit(
        ctx,
        gateway_pb2.ListPeersResponse(peers=peers),
        render.peers_table(peers) if peers else Text("No opted-in peers back this idea yet."),
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
    emit(
        ctx,
        gateway_pb2.ListIntroductionsResponse(introductions=found),
        render.introductions_table(found) if found else Text("No introductions."),
    )


if __name__ == "__main__":  # pragma: no cover - `python -m quorum_client.cli`
    app(prog_name="quorum")

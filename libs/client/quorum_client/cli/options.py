"""Options and arguments several commands share, so they read the same everywhere."""

from __future__ import annotations

from typing import Annotated

import typer
from google.protobuf.message import Message

from quorum.domain.v1 import domain_pb2
from quorum_client.cli.choices import Commitment, Importance, JobFunction, wire

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
PageTokenOption = Annotated[
    str, typer.Option("--page-token", help="Continue where a previous page ended.")
]
AllPagesOption = Annotated[bool, typer.Option("--all", help="Fetch every page.")]
IdeaArg = Annotated[str, typer.Argument(help="The idea's id.", show_default=False)]


def member_ref(
    org: str, member: str, job: JobFunction | None = None
) -> domain_pb2.MemberRef | None:
    if not org and not member and job is None:
        return None  # a CUSTOMER key is the member; the gateway fills it in
    return domain_pb2.MemberRef(
        organization_id=org,
        member_id=member,
        job_function=wire(domain_pb2.JobFunction, job),
    )


def set_given(message: Message, **values: object) -> None:
    """Set each field an option was given for; an option left out (None) changes nothing.

    What `upsert` and `policies set` promise: the current record with only the typed
    fields changed, so a second command does not undo the first.
    """
    for name, value in values.items():
        if value is not None:
            setattr(message, name, value)

"""`quorum orgs …`: the tenant's customer organizations."""

from __future__ import annotations

from typing import Annotated

import grpc
import typer

from quorum.domain.v1 import domain_pb2
from quorum.gateway.v1 import gateway_pb2
from quorum_client import render
from quorum_client.cli.choices import Relationship, wire
from quorum_client.cli.options import set_given
from quorum_client.cli.terminal import calling, emit, emit_rows
from quorum_client.errors import QuorumError

orgs_app = typer.Typer(help="The tenant's customer organizations.", no_args_is_help=True)


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
        set_given(
            current,
            name=name,
            segment=segment,
            arr=arr,
            poor_fit=poor_fit,
            parent_id=parent,
            peer_visible=peer_visible,
            contact=contact,
        )
        if relationship is not None:
            current.relationship = wire(domain_pb2.Relationship, relationship)
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
    emit_rows(
        ctx,
        gateway_pb2.ListOrganizationsResponse(organizations=found),
        found,
        render.organizations_table,
        "No organizations yet.",
    )

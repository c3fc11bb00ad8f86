"""`quorum keys …`: API keys and the principals behind them."""

from __future__ import annotations

import re
from typing import Annotated

import typer
from rich.text import Text

from quorum.gateway.v1 import gateway_pb2
from quorum_client import render
from quorum_client.cli.choices import Role, wire
from quorum_client.cli.terminal import calling, emit, emit_rows

keys_app = typer.Typer(help="API keys and the principals behind them.", no_args_is_help=True)


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
            role=wire(gateway_pb2.Role, role),
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
    emit_rows(ctx, gateway_pb2.ListApiKeysResponse(keys=keys), keys, render.keys_table, "No keys.")


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

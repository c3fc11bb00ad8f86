"""`quorum notifications …`: subscriptions and the delivery log, through the public API.

    quorum notifications subscribe --team product --webhook http://127.0.0.1:8090/product
    quorum notifications list
    quorum notifications deliveries --idea IDEA
    quorum notifications unsubscribe SUBSCRIPTION

A customer key subscribes its own member unless told otherwise; an integration key
names which of its organizations or members; a vendor key anyone, teams included.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer
from rich.console import RenderableType
from rich.text import Text

from quorum.domain.v1 import domain_pb2
from quorum.gateway.v1 import gateway_pb2
from quorum.notifications.v1 import notifications_pb2
from quorum_client import render
from quorum_client.cli.choices import wire
from quorum_client.cli.options import PageTokenOption
from quorum_client.cli.terminal import calling, emit, emit_page, emit_rows, every_page

notifications_app = typer.Typer(
    help="Subscriptions (webhook or e-mail) and the delivery log.", no_args_is_help=True
)


class Team(StrEnum):
    PRODUCT = "product"
    ADMINS = "admins"


class Kind(StrEnum):
    STAGE_ADVANCED = "stage-advanced"
    IDEA_DECLINED = "idea-declined"
    IDEA_LAUNCHED = "idea-launched"
    GATE_OPENED = "gate-opened"
    STAGE_OVERRIDDEN = "stage-overridden"
    INTRODUCTION_REQUESTED = "introduction-requested"
    INTRODUCTION_ANSWERED = "introduction-answered"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"


def subscriber(org: str, member: str, team: Team | None) -> domain_pb2.Subscriber | None:
    """Who is told; None lets the gateway take the key's own member or organization."""
    if team is not None and (org or member):
        raise typer.BadParameter("give --team, or --org (and --member), not both")
    if team is not None:
        return domain_pb2.Subscriber(team=wire(domain_pb2.Team, team))
    if member:
        return domain_pb2.Subscriber(
            member=domain_pb2.MemberRef(organization_id=org, member_id=member)
        )
    if org:
        return domain_pb2.Subscriber(organization_id=org)
    return None


@notifications_app.command("subscribe")
def subscribe(
    ctx: typer.Context,
    webhook: Annotated[str, typer.Option("--webhook", help="POST signed JSON to this URL.")] = "",
    email: Annotated[str, typer.Option("--email", help="Send e-mail to this address.")] = "",
    org: Annotated[str, typer.Option("--org", help="An organization (or a member's).")] = "",
    member: Annotated[str, typer.Option("--member", help="A member of --org.")] = "",
    team: Annotated[
        Team | None, typer.Option("--team", case_sensitive=False, help="A team of the vendor.")
    ] = None,
    kind: Annotated[
        list[Kind] | None,
        typer.Option("--kind", case_sensitive=False, help="Only this kind; repeat (default all)."),
    ] = None,
    secret: Annotated[
        str, typer.Option("--secret", help="The webhook's signing key (default: generated).")
    ] = "",
    description: Annotated[str, typer.Option("--description", help="For people.")] = "",
) -> None:
    """Subscribe a member, an organization or a team; a webhook's secret is shown once."""
    if bool(webhook) == bool(email):
        raise typer.BadParameter("give exactly one of --webhook and --email")
    subscription = notifications_pb2.Subscription(
        kinds=[wire(domain_pb2.NotificationKind, k) for k in kind or ()],
        description=description,
    )
    who = subscriber(org, member, team)
    if who is not None:
        subscription.subscriber.CopyFrom(who)
    if webhook:
        subscription.webhook.CopyFrom(notifications_pb2.WebhookChannel(url=webhook, secret=secret))
    else:
        subscription.email.CopyFrom(notifications_pb2.EmailChannel(address=email))
    with calling(ctx) as client:
        made = client.create_subscription(subscription)
    parts: list[RenderableType] = [
        Text(f"Subscribed {made.subscription_id}.", style="bold"),
        render.subscriptions_table([made]),
    ]
    if made.webhook.secret:
        parts.append(Text(f"Webhook secret (shown only now): {made.webhook.secret}"))
    emit(ctx, made, *parts)


@notifications_app.command("list")
def list_subscriptions(ctx: typer.Context) -> None:
    """The subscriptions this key manages (never their webhook secrets)."""
    with calling(ctx) as client:
        page = every_page(lambda token: client.list_subscriptions(page_size=500, page_token=token))
    emit_rows(ctx, page, page.subscriptions, render.subscriptions_table, "No subscriptions.")


@notifications_app.command("unsubscribe")
def unsubscribe(
    ctx: typer.Context,
    subscription: Annotated[str, typer.Argument(help="The subscription's id.")],
) -> None:
    """End a subscription; its pending deliveries are cancelled."""
    with calling(ctx) as client:
        cancelled = client.delete_subscription(subscription)
    emit(
        ctx,
        gateway_pb2.DeleteSubscriptionResponse(cancelled_deliveries=cancelled),
        Text(f"Unsubscribed {subscription}; {cancelled} pending deliveries cancelled."),
    )


@notifications_app.command("deliveries")
def deliveries(
    ctx: typer.Context,
    idea: Annotated[str, typer.Option("--idea", help="Only about this idea.")] = "",
    subscription: Annotated[
        str, typer.Option("--subscription", help="Only through this subscription.")
    ] = "",
    status: Annotated[
        DeliveryStatus | None,
        typer.Option("--status", case_sensitive=False, help="Only deliveries in this state."),
    ] = None,
    page_size: Annotated[
        int, typer.Option("--page-size", min=1, max=500, help="Deliveries per page.")
    ] = 50,
    page_token: PageTokenOption = "",
) -> None:
    """The delivery log: every notification, its attempts and where it stands."""
    wanted = wire(notifications_pb2.DeliveryStatus, status)
    with calling(ctx) as client:
        page = client.list_deliveries(
            idea_id=idea,
            subscription_id=subscription,
            status=wanted,
            page_size=page_size,
            page_token=page_token,
        )
    body = (
        render.deliveries_table(page.deliveries)
        if page.deliveries
        else Text("No deliveries match.")
    )
    emit_page(ctx, page, body, page.next_page_token)

"""Subscriptions and the delivery log: who is told, how, and where each notice stands."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.text import Text

from quorum.domain.v1 import domain_pb2
from quorum.notifications.v1 import notifications_pb2
from quorum_client.render.text import ID_WIDTH, label, member, plain_table, timestamp


def subscriber_text(who: domain_pb2.Subscriber) -> str:
    which = who.WhichOneof("who")
    if which == "member":
        return member(who.member)
    if which == "organization_id":
        return f"{who.organization_id} (organization)"
    if which == "team":
        return f"{label(domain_pb2.Team.DESCRIPTOR, who.team)} team"
    return "-"


def kinds_text(kinds: Sequence[int]) -> str:
    if not kinds:
        return "every kind"
    return ", ".join(label(domain_pb2.NotificationKind.DESCRIPTOR, k) for k in kinds)


def channel_text(subscription: notifications_pb2.Subscription) -> str:
    if subscription.HasField("webhook"):
        return f"webhook {subscription.webhook.url}"
    if subscription.HasField("email"):
        return f"e-mail {subscription.email.address}"
    return "-"


def subscriptions_table(subscriptions: Sequence[notifications_pb2.Subscription]) -> Table:
    # Two lines a subscription keep it within 80 columns without ever wrapping an id.
    table = plain_table()
    table.add_column("Subscription (who)", width=ID_WIDTH, overflow="fold")
    table.add_column("Channel (kinds)", overflow="fold")
    for s in subscriptions:
        table.add_row(
            Text(s.subscription_id) + Text(f"\n{subscriber_text(s.subscriber)}"),
            Text(channel_text(s)) + Text(f"\n{kinds_text(s.kinds)}"),
        )
    return table


def deliveries_table(deliveries: Sequence[notifications_pb2.Delivery]) -> Table:
    # Two lines a delivery keep it within 80 columns without ever wrapping an id.
    table = plain_table()
    table.add_column("Notification (idea)", width=ID_WIDTH, overflow="fold")
    table.add_column("To", overflow="fold")
    table.add_column("Status", no_wrap=True)
    table.add_column("Tries", justify="right", no_wrap=True)
    for d in deliveries:
        when = d.completed_at if d.HasField("completed_at") else d.next_attempt_at
        table.add_row(
            Text(label(domain_pb2.NotificationKind.DESCRIPTOR, d.kind))
            + Text(f"\n{d.idea_id or '-'}"),
            Text(f"{subscriber_text(d.recipient)}\nvia {d.target}"),
            label(notifications_pb2.DeliveryStatus.DESCRIPTOR, d.status) + f"\n{timestamp(when)}",
            str(len(d.attempts)),
        )
    return table

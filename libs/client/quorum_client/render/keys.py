"""API keys and the principals behind them (never their secrets)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from quorum.gateway.v1 import gateway_pb2
from quorum_client.render.text import day, field_grid, plain_table, role, timestamp


def keys_table(keys: Sequence[gateway_pb2.ApiKey]) -> Table:
    table = plain_table()
    table.add_column("Key", no_wrap=True)
    table.add_column("Who", overflow="fold", min_width=16)
    table.add_column("Role", no_wrap=True)
    table.add_column("Acts for", overflow="fold")
    table.add_column("Created", no_wrap=True)
    revoked = any(k.HasField("revoked_at") for k in keys)
    if revoked:
        table.add_column("Revoked", no_wrap=True)
    for k in keys:
        who = Text(k.display_name)
        if k.principal_id != k.display_name:
            who += Text(f"\n{k.principal_id}", style="dim")
        row: list[str | Text] = [k.key_id, who, role(k.role), Text(acts_for(k)), day(k.created_at)]
        if revoked:
            row.append(day(k.revoked_at) if k.HasField("revoked_at") else "-")
        table.add_row(*row)
    return table


def acts_for(key: gateway_pb2.ApiKey) -> str:
    if key.role == gateway_pb2.ROLE_CUSTOMER:
        return f"{key.member_id} @ {key.organization_id}"
    if key.role == gateway_pb2.ROLE_INTEGRATION:
        return ", ".join(key.organization_ids) or "-"
    return "-"


def key_details(key: gateway_pb2.ApiKey, tenant_id: str = "") -> RenderableType:
    rows: list[tuple[str, str | Text]] = []
    if tenant_id:
        rows.append(("Tenant", tenant_id))
    rows += [
        ("Key", key.key_id),
        ("Principal", key.principal_id),
        ("Name", key.display_name),
        ("Role", role(key.role)),
        ("Acts for", acts_for(key)),
        ("Created", timestamp(key.created_at)),
        ("Created by", key.created_by or "-"),
    ]
    if key.HasField("revoked_at"):
        rows.append(("Revoked", timestamp(key.revoked_at)))
    return field_grid(rows)

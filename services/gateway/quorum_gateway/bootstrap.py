"""`python -m quorum_gateway.bootstrap --tenant ID`: a new tenant and its first admin key.

`--new-admin-key` mints another admin key for a tenant that exists: keys are stored
hashed and shown once, so a lost admin key cannot be read back, only replaced (and the
lost one revoked with the new one). This runs on the host, against the gateway's
MongoDB database, never over the API: whoever can run it already holds the database.

Prints only the key's secret on stdout (so scripts can capture it); everything else
goes to stderr. A refusal prints nothing on stdout and exits 2, so `KEY=$(…)` fails.
The tenant starts with the default pipeline (the validation service gives it to every
tenant without one).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys

from quorum_common.errors import AlreadyExists, NotFound, StartupError
from quorum_common.mongo import connect
from quorum_common.settings import load_settings
from quorum_gateway.keys import KeyStore
from quorum_gateway.principals import Role
from quorum_gateway.settings import GatewaySettings

_TENANT = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
COMMAND = "quorum-bootstrap"  # bin/quorum-bootstrap runs this module


async def bootstrap(
    tenant_id: str,
    name: str,
    admin_name: str,
    settings: GatewaySettings,
    *,
    new_admin_key: bool = False,
) -> str:
    """The secret of a new VENDOR_ADMIN key; with `new_admin_key`, of an existing tenant."""
    client = await connect(settings.mongodb_uri, settings.startup_timeout_seconds)
    try:
        keys = KeyStore(client[settings.gateway_mongodb_database], cache_seconds=0)
        await keys.create_indexes()
        if new_admin_key:
            if not await keys.tenant_exists(tenant_id):
                raise NotFound(
                    f"tenant {tenant_id} does not exist; create it with "
                    f"`{COMMAND} --tenant {tenant_id}`"
                )
        else:
            try:
                await keys.create_tenant(tenant_id, name)
            except AlreadyExists:
                raise AlreadyExists(
                    f"tenant {tenant_id} exists and its keys are never shown again; "
                    f"a new admin key: `{COMMAND} --tenant {tenant_id} --new-admin-key`"
                ) from None
        _, secret = await keys.create(
            tenant_id,
            principal_id="admin",
            display_name=admin_name,
            role=Role.VENDOR_ADMIN,
            created_by="bootstrap",
        )
        return secret
    finally:
        await client.close()


def main() -> int:
    parser = argparse.ArgumentParser(
        prog=COMMAND, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tenant", required=True, help="tenant id: a-z, 0-9 and -, 2-63 chars")
    parser.add_argument("--name", default="", help="the vendor's display name")
    parser.add_argument("--admin-name", default="Administrator", help="the admin's display name")
    parser.add_argument(
        "--new-admin-key",
        action="store_true",
        help="mint another admin key for an existing tenant (a lost key is never shown again)",
    )
    args = parser.parse_args()
    if not _TENANT.match(args.tenant):
        print("bootstrap: --tenant must be 2-63 of a-z, 0-9 and -", file=sys.stderr)
        return 2
    try:
        settings = load_settings(GatewaySettings)
        secret = asyncio.run(
            bootstrap(
                args.tenant,
                args.name or args.tenant,
                args.admin_name,
                settings,
                new_admin_key=args.new_admin_key,
            )
        )
    except (StartupError, AlreadyExists, NotFound) as error:
        print(f"bootstrap: {error}", file=sys.stderr)
        return 2
    made = "a new" if args.new_admin_key else f"tenant {args.tenant} created; its first"
    print(f"{made} VENDOR_ADMIN key for {args.tenant} (shown once):", file=sys.stderr)
    print(secret)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

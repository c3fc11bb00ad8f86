"""`python -m quorum_gateway.bootstrap --tenant ID`: a new tenant and its first admin key.

Prints only the key's secret on stdout (so scripts can capture it); everything else
goes to stderr. The tenant starts with the default pipeline (the validation service
gives it to every tenant without one).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys

from quorum_common.errors import AlreadyExists, StartupError
from quorum_common.mongo import connect
from quorum_common.settings import load_settings
from quorum_gateway.keys import KeyStore
from quorum_gateway.principals import Role
from quorum_gateway.settings import GatewaySettings

_TENANT = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


async def bootstrap(tenant_id: str, name: str, admin_name: str, settings: GatewaySettings) -> str:
    client = await connect(settings.mongodb_uri, settings.startup_timeout_seconds)
    try:
        keys = KeyStore(client[settings.gateway_mongodb_database], cache_seconds=0)
        await keys.create_indexes()
        await keys.create_tenant(tenant_id, name)
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
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tenant", required=True, help="tenant id: a-z, 0-9 and -, 2-63 chars")
    parser.add_argument("--name", default="", help="the vendor's display name")
    parser.add_argument("--admin-name", default="Administrator", help="the admin's display name")
    args = parser.parse_args()
    if not _TENANT.match(args.tenant):
        print("bootstrap: --tenant must be 2-63 of a-z, 0-9 and -", file=sys.stderr)
        return 2
    try:
        settings = load_settings(GatewaySettings)
        secret = asyncio.run(
            bootstrap(args.tenant, args.name or args.tenant, args.admin_name, settings)
        )
    except (StartupError, AlreadyExists) as error:
        print(f"bootstrap: {error}", file=sys.stderr)
        return 2
    print(
        f"tenant {args.tenant} created; its first VENDOR_ADMIN key (shown once):", file=sys.stderr
    )
    print(secret)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

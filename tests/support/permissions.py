"""The README's table of roles and RPCs, read as data (the tests hold the code to it)."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
ROLES = {
    "admin": "VENDOR_ADMIN",
    "PM": "PRODUCT_MANAGER",
    "customer": "CUSTOMER",
    "integration": "INTEGRATION",
}
_ROW = re.compile(r"^\| `(\w+Service)` \| (.+?) \| (.+?) \|$")


def _roles(cell: str) -> frozenset[str]:
    # "all (customers: their own …)", "admin, PM, customer (a council member)"
    words = re.sub(r"\(.*?\)", "", cell).replace(",", " ").split()
    if words == ["all"]:
        return frozenset(ROLES.values())
    return frozenset(ROLES[w] for w in words)


def documented_permissions(readme: Path = README) -> dict[str, frozenset[str]]:
    """'Service/Method' → the role names the README's table allows to call it."""
    table: dict[str, frozenset[str]] = {}
    for line in readme.read_text().splitlines():
        row = _ROW.match(line.strip())
        if row is None:
            continue
        service, methods, roles = row.groups()
        for method in re.findall(r"`(\w+)`", methods):
            table[f"{service}/{method}"] = _roles(roles)
    return table

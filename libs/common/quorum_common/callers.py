"""Whose an internal request is: the caller's tenant, and for a decision its actor.

Only the gateway calls the internal services. It names the authenticated principal's
tenant in every internal request, and the principal as the actor of every decision
(advance, override, decline, co-sign, merge), in one place (the gateway's `Backends`).
Every internal server checks them here, once, as the request is decoded (the shared
server's `DecodingInterceptor`), under one rule and before any servicer runs: a request
without a well-formed tenant is INVALID_ARGUMENT naming `tenant_id`, whatever its
method, also a method added later. A servicer then reads `request.tenant_id` as given.

Why fields of each request rather than call metadata: the internal contracts are held
to buf's FILE breaking rules (a field may not go, not even reserved), so the fields
would stay beside the metadata, two sources of one tenant that could disagree; and
tenant isolation is the product's first promise. As fields, a request is whole by
itself: the tests and the benchmark that call an internal service directly name its
tenant exactly as the gateway does, and no caller can leave it out unnoticed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from google.protobuf.descriptor import Descriptor

from quorum_common.errors import Violations

ID_MAX = 128
# The identifiers the gateway hands out (tenants, principals): no spaces, nothing to trim.
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$")


def _check_id(violations: Violations, field: str, value: str) -> None:
    if not value:
        violations.add(field, "is required")
    elif len(value) > ID_MAX or not _ID.match(value):
        violations.add(field, f"must be 1-{ID_MAX} letters, digits or ._:@- (no spaces)")


def check_tenant(violations: Violations, tenant_id: str) -> None:
    """The one rule for a tenant id in an internal request."""
    _check_id(violations, "tenant_id", tenant_id)


def _check_tenant_only(request: Any) -> None:
    violations = Violations()
    check_tenant(violations, request.tenant_id)
    violations.raise_if_any()


def _check_tenant_and_actor(request: Any) -> None:
    violations = Violations()
    check_tenant(violations, request.tenant_id)
    # A decision's record says who took it.
    _check_id(violations, "actor.principal_id", request.actor.principal_id)
    violations.raise_if_any()


def caller_check(message: Descriptor) -> Callable[[Any], None] | None:
    """What a request of this type must name of its caller; None for a request that
    names none (the public API's, health, reflection). Chosen once per method, so a
    call pays for two field reads."""
    fields = message.fields_by_name
    if "tenant_id" not in fields:
        return None
    if "actor" in fields:
        return _check_tenant_and_actor
    return _check_tenant_only

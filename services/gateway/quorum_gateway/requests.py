"""What a public request must be before the gateway acts on it: one place for the API.

Every request passes `check_request` as it is decoded (the server's innermost
interceptor, after authentication): the bounds every field has (`request_checks`),
then the rules the gateway itself relies on. A rule of one backend (an idea's title,
a policy's thresholds) is that backend's to check; the gateway relays its verdict.
"""

from __future__ import annotations

import re
from typing import Any

from quorum_common.errors import FieldViolation, InvalidArgument, Violations
from quorum_common.request_checks import INTEGER_MAX, check_message

# A cursor is an event's sequence number, stored as a signed 64-bit integer.
CURSOR_MAX = INTEGER_MAX
KINDS_MAX = 20
KIND_MAX = 100
_DIGITS = re.compile(r"^[0-9]{1,19}$")


def watch_cursor(cursor: str) -> int | None:
    """The sequence a WatchEvents cursor names; None for "from now" (empty)."""
    if not cursor:
        return None
    if not _DIGITS.match(cursor) or int(cursor) > CURSOR_MAX:
        raise InvalidArgument(
            [
                FieldViolation(
                    "cursor",
                    f"must be a cursor from a previous WatchEvents answer (0 to {CURSOR_MAX})",
                )
            ]
        )
    return int(cursor)


def _check_watch(violations: Violations, request: Any) -> None:
    try:
        watch_cursor(request.cursor)
    except InvalidArgument as error:
        for violation in error.violations:
            violations.add(violation.field, violation.description)
    if len(request.kinds) > KINDS_MAX:
        violations.add("kinds", f"at most {KINDS_MAX}")
    for index, kind in enumerate(request.kinds):
        if len(kind) > KIND_MAX:
            violations.add(f"kinds[{index}]", f"must be at most {KIND_MAX} characters")


_RULES = {"quorum.gateway.v1.WatchEventsRequest": _check_watch}


def check_request(request: Any) -> None:
    """Raise InvalidArgument naming every field of a public request out of bounds."""
    violations = Violations()
    check_message(violations, request)
    rule = _RULES.get(request.DESCRIPTOR.full_name)
    if rule is not None:
        rule(violations, request)
    violations.raise_if_any()

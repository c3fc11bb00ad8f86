"""Page tokens: an opaque cursor on (created_at, id), stable while new rows arrive."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from quorum_common.errors import FieldViolation, InvalidArgument

PAGE_SIZE_DEFAULT = 100
PAGE_SIZE_MAX = 500


@dataclass(frozen=True)
class Cursor:
    created_at: datetime
    id: str


def encode(cursor: Cursor | None) -> str:
    if cursor is None:
        return ""
    raw = json.dumps([cursor.created_at.isoformat(), cursor.id]).encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode(token: str, field: str = "page_token") -> Cursor | None:
    if not token:
        return None
    try:
        moment, identity = json.loads(base64.urlsafe_b64decode(token.encode()))
        return Cursor(datetime.fromisoformat(moment), str(identity))
    except (ValueError, TypeError):
        raise InvalidArgument(
            [FieldViolation(field, "is not a token from a previous page")]
        ) from None


def after_clause(cursor: Cursor, descending: bool) -> dict[str, Any]:
    """Rows strictly after the cursor in (created_at, _id) order."""
    op = "$lt" if descending else "$gt"
    return {
        "$or": [
            {"created_at": {op: cursor.created_at}},
            {"created_at": cursor.created_at, "_id": {op: cursor.id}},
        ]
    }

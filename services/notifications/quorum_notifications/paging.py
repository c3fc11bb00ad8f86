"""Page tokens: an opaque cursor on (created_at, id), stable while new rows arrive, and
the pages they lead to."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection

from quorum_common.errors import FieldViolation, InvalidArgument
from quorum_common.mongo import Document

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


async def page_of(
    rows: AsyncCollection[Document],
    query: Document,
    size: int,
    after: Cursor | None,
    descending: bool,
) -> tuple[list[Document], Cursor | None]:
    """Up to `size` rows of `query` after the cursor in (created_at, _id) order, and the
    cursor of the page that follows (None: this is the last)."""
    if after is not None:
        query = {**query, **after_clause(after, descending)}
    order = DESCENDING if descending else ASCENDING
    docs = await rows.find(
        query, sort=[("created_at", order), ("_id", order)], limit=size + 1
    ).to_list()
    more = len(docs) > size
    docs = docs[:size]
    last = Cursor(docs[-1]["created_at"], docs[-1]["_id"]) if more and docs else None
    return docs, last


def after_clause(cursor: Cursor, descending: bool) -> dict[str, Any]:
    """Rows strictly after the cursor in (created_at, _id) order."""
    op = "$lt" if descending else "$gt"
    return {
        "$or": [
            {"created_at": {op: cursor.created_at}},
            {"created_at": cursor.created_at, "_id": {op: cursor.id}},
        ]
    }

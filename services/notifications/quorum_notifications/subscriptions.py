"""Subscriptions: who wants which kinds of notification, on which channel.

A webhook's secret is stored as given: it must be at hand to sign every request
(it cannot be hashed like an API key). It leaves the service only in the answer to
the call that created it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from quorum_common.mongo import Document
from quorum_notifications.domain import Kind, Scope, Subscription
from quorum_notifications.messages import subscription_of
from quorum_notifications.paging import Cursor, after_clause

SUBSCRIPTIONS = "subscriptions"
INDEXES = [
    IndexModel([("tenant_id", ASCENDING), ("subscriber_key", ASCENDING)], name="by_subscriber"),
    IndexModel(
        [("tenant_id", ASCENDING), ("created_at", ASCENDING), ("_id", ASCENDING)],
        name="oldest_first",
    ),
]


def scope_clause(scope: Scope, field: str) -> Document:
    """A query on `field` (a recipient key) admitting exactly what `scope` admits."""
    # Anchored prefixes of escaped keys: each is a range of the field's index.
    alternatives: list[Document] = [{field: {"$in": scope.keys()}}]
    alternatives += [{field: {"$regex": f"^{re.escape(p)}"}} for p in scope.prefixes()]
    return {"$or": alternatives}


class Subscriptions:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._subscriptions = database[SUBSCRIPTIONS]

    async def add(self, doc: Document) -> None:
        await self._subscriptions.insert_one(doc)

    async def page(
        self,
        tenant_id: str,
        subscriber_key: str | None,
        size: int,
        after: Cursor | None,
        scope: Scope | None = None,
    ) -> tuple[list[Document], Cursor | None]:
        query: Document = {"tenant_id": tenant_id}
        if subscriber_key is not None:
            query["subscriber_key"] = subscriber_key
        if scope is not None:
            query.setdefault("$and", []).append(scope_clause(scope, "subscriber_key"))
        if after is not None:
            query.update(after_clause(after, descending=False))
        docs = await self._subscriptions.find(
            query, sort=[("created_at", ASCENDING), ("_id", ASCENDING)], limit=size + 1
        ).to_list()
        more = len(docs) > size
        docs = docs[:size]
        last = Cursor(docs[-1]["created_at"], docs[-1]["_id"]) if more and docs else None
        return docs, last

    async def find(self, tenant_id: str, subscription_id: str) -> Document | None:
        return await self._subscriptions.find_one({"_id": subscription_id, "tenant_id": tenant_id})

    async def remove(
        self, session: AsyncClientSession, tenant_id: str, subscription_id: str
    ) -> bool:
        done = await self._subscriptions.delete_one(
            {"_id": subscription_id, "tenant_id": tenant_id}, session=session
        )
        return done.deleted_count == 1

    async def matching(
        self, tenant_id: str, subscriber_keys: Iterable[str], kind: Kind
    ) -> list[Subscription]:
        """The tenant's subscriptions of these subscribers that want this kind."""
        docs = await self._subscriptions.find(
            {
                "tenant_id": tenant_id,
                "subscriber_key": {"$in": list(subscriber_keys)},
                "$or": [{"kinds": []}, {"kinds": kind.value}],
            }
        ).to_list()
        return [subscription_of(d) for d in docs]

"""Subscriptions: who wants which kinds of notification, on which channel.

A webhook's secret must be at hand to sign every request (it cannot be hashed like
an API key), so it is stored encrypted (`quorum_common.secretbox`, the key from
NOTIFICATIONS_SECRETS_KEY): `secret` is the newest, and during a rollover
`previous_secret` signs too until `previous_secret_expires_at`. A secret leaves the
service only in the answer to the call that set it. Subscriptions stored before
encryption existed hold `secret` in plain text: it is read as it is, and sealed by
`seal_plaintext` when the service starts.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable
from datetime import datetime

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from quorum_common.mongo import Document
from quorum_common.secretbox import SecretBox, SecretUnreadable
from quorum_notifications import signatures
from quorum_notifications.domain import Channel, Kind, Scope, Subscription
from quorum_notifications.messages import subscription_of
from quorum_notifications.paging import Cursor, page_of
from quorum_notifications.webhooks import Signing

SUBSCRIPTIONS = "subscriptions"
INDEXES = [
    IndexModel([("tenant_id", ASCENDING), ("subscriber_key", ASCENDING)], name="by_subscriber"),
    IndexModel(
        [("tenant_id", ASCENDING), ("created_at", ASCENDING), ("_id", ASCENDING)],
        name="oldest_first",
    ),
    # Whether anyone in a tenant wants a kind (`any_wanting`, once per notification).
    IndexModel([("tenant_id", ASCENDING), ("kinds", ASCENDING)], name="by_kind"),
]


def scope_clause(scope: Scope, field: str) -> Document:
    """A query on `field` (a recipient key) admitting exactly what `scope` admits."""
    # Anchored prefixes of escaped keys: each is a range of the field's index.
    alternatives: list[Document] = [{field: {"$in": scope.keys()}}]
    alternatives += [{field: {"$regex": f"^{re.escape(p)}"}} for p in scope.prefixes()]
    return {"$or": alternatives}


def signing_of(doc: Document, box: SecretBox, at: datetime) -> Signing:
    """The scheme and the secrets a webhook delivery is signed with at `at`, newest first."""
    found = [box.open(doc["secret"])]
    previous = doc.get("previous_secret")
    expires = doc.get("previous_secret_expires_at")
    if previous and expires is not None and expires > at:
        # The previous secret is a courtesy to receivers: one that no longer decrypts (a
        # rotation made after the encryption key was lost) must not stop the new one.
        with contextlib.suppress(SecretUnreadable):
            found.append(box.open(previous))
    return Signing(signatures.Scheme(doc.get("scheme", signatures.Scheme.QUORUM_V1)), tuple(found))


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
        return await page_of(self._subscriptions, query, size, after, descending=False)

    async def find(self, tenant_id: str, subscription_id: str) -> Document | None:
        return await self._subscriptions.find_one({"_id": subscription_id, "tenant_id": tenant_id})

    async def remove(
        self, session: AsyncClientSession, tenant_id: str, subscription_id: str
    ) -> bool:
        done = await self._subscriptions.delete_one(
            {"_id": subscription_id, "tenant_id": tenant_id}, session=session
        )
        return done.deleted_count == 1

    async def any_wanting(
        self, tenant_id: str, kind: Kind, session: AsyncClientSession | None = None
    ) -> bool:
        """Whether any subscription of the tenant wants this kind (one indexed read)."""
        found = await self._subscriptions.find_one(
            {"tenant_id": tenant_id, "$or": [{"kinds": []}, {"kinds": kind.value}]},
            projection={"_id": 1},
            session=session,
        )
        return found is not None

    async def wanted(
        self, session: AsyncClientSession, asked: Iterable[tuple[str, Kind]]
    ) -> set[tuple[str, Kind]]:
        """Which (tenant, kind) pairs some subscription wants: one indexed read a pair.

        A batch of events names a few pairs at most (one tenant's gate openings, say),
        whatever its size.
        """
        return {
            (tenant_id, kind)
            for tenant_id, kind in sorted(set(asked), key=lambda pair: (pair[0], pair[1].value))
            if await self.any_wanting(tenant_id, kind, session)
        }

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

    async def rotate(
        self, tenant_id: str, subscription_id: str, sealed: str, previous_until: datetime
    ) -> Document | None:
        """The newest secret becomes the previous one (valid until then), `sealed` the newest."""
        return await self._subscriptions.find_one_and_update(
            {"_id": subscription_id, "tenant_id": tenant_id, "channel": Channel.WEBHOOK.value},
            [
                {
                    "$set": {
                        "previous_secret": "$secret",
                        "previous_secret_expires_at": previous_until,
                        "secret": sealed,
                    }
                }
            ],
            return_document=True,
        )

    async def end_rollover(self, tenant_id: str, subscription_id: str) -> Document | None:
        return await self._subscriptions.find_one_and_update(
            {"_id": subscription_id, "tenant_id": tenant_id, "channel": Channel.WEBHOOK.value},
            {"$unset": {"previous_secret": "", "previous_secret_expires_at": ""}},
            return_document=True,
        )

    async def seal_plaintext(self, box: SecretBox) -> int:
        """Encrypts every secret still stored in plain text; how many there were.

        Each update names the plain value it replaces, so replicas starting together
        (or a rotation meanwhile) never seal a secret twice or lose a newer one.
        """
        sealed = 0
        async for doc in self._subscriptions.find(
            {"secret": {"$type": "string", "$not": {"$regex": "^fernet:"}}},
            projection={"secret": 1},
        ):
            done = await self._subscriptions.update_one(
                {"_id": doc["_id"], "secret": doc["secret"]},
                {"$set": {"secret": box.seal(doc["secret"])}},
            )
            sealed += done.modified_count
        return sealed

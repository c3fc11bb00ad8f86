"""Who is told about an idea: its submitter and every endorsing member (MongoDB).

A projection of the ideas service's events, kept in the notifications service's own
database so that delivering a notification never reads another service's data.

`recipients` holds one small document per idea (title, submitter, merged_into);
`recipient_members` one record per (tenant, idea, member) whose `_id` sorts an idea's
members together (see projection.member_key), so reading them is one index range,
paged, and nothing grows with the idea's size. A consumed batch costs one bulk write
per collection. Until this layout, each idea's document carried a `members` array
rewritten per endorsement; `migrate()` moves those arrays out at start.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Collection, Iterable
from functools import partial

from pymongo import DeleteOne, IndexModel, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure

from quorum.events.v1 import events_pb2
from quorum_common.mongo import Document, in_transaction
from quorum_notifications.domain import IdeaPeople, Member
from quorum_notifications.projection import (
    changes,
    idea_prefix,
    member_document,
    member_key,
    member_of_key,
    organization_prefix,
    prefix_end,
)

log = logging.getLogger(__name__)

RECIPIENTS = "recipients"
MEMBERS = "recipient_members"
# Both are read by `_id` only: a member record's id is its index.
INDEXES: list[IndexModel] = []
MEMBER_INDEXES: list[IndexModel] = []
# The index of the old layout, over the `members` array.
_OLD_INDEX = "tenant_id_1_members.member_id_1"
PAGE = 1000


def _member_of(doc: Document) -> Member:
    return Member(doc["organization_id"], doc["member_id"])


def _range(prefix: str) -> Document:
    return {"$gte": prefix, "$lt": prefix_end(prefix)}


def _endorsing(tenant_id: str, idea_id: str, member: Member) -> UpdateOne:
    """The member's record on the idea, inserted if missing: what an endorsement and the
    upgrade from member arrays both leave."""
    return UpdateOne(
        {"_id": member_key(tenant_id, idea_id, member)},
        {"$setOnInsert": {"tenant_id": tenant_id, "idea_id": idea_id, **member_document(member)}},
        upsert=True,
    )


class Recipients:
    def __init__(self, database: AsyncDatabase[Document], page: int = PAGE) -> None:
        self._client = database.client
        self._ideas = database[RECIPIENTS]
        self._members = database[MEMBERS]
        self._page = page

    async def apply(self, session: AsyncClientSession, events: Iterable[events_pb2.Event]) -> None:
        """Apply consumed idea events (inside the consumer's transaction)."""
        found = changes(events)
        if found.members:
            await self._members.bulk_write(
                [
                    _endorsing(tenant_id, idea_id, member)
                    if endorses
                    else DeleteOne({"_id": member_key(tenant_id, idea_id, member)})
                    for (tenant_id, idea_id, member), endorses in found.members.items()
                ],
                ordered=False,
                session=session,
            )
        if found.ideas:
            await self._ideas.bulk_write(
                [
                    UpdateOne(
                        {"_id": idea_id, "tenant_id": tenant_id}, {"$set": fields}, upsert=True
                    )
                    for (tenant_id, idea_id), fields in found.ideas.items()
                ],
                ordered=False,
                session=session,
            )

    async def idea(self, tenant_id: str, idea_id: str) -> IdeaPeople | None:
        """The idea's title and submitter (no members); None while it is unknown."""
        doc = await self._ideas.find_one(
            {"_id": idea_id, "tenant_id": tenant_id}, projection={"title": 1, "submitter": 1}
        )
        if doc is None:
            return None
        submitter = doc.get("submitter")
        return IdeaPeople(
            title=doc.get("title", ""), submitter=_member_of(submitter) if submitter else None
        )

    async def known(
        self, tenant_id: str, idea_id: str, organizations: Collection[str]
    ) -> frozenset[str]:
        """Which of these organizations have a member endorsing the idea."""
        if not organizations:
            return frozenset()
        ranges = [
            {"_id": _range(organization_prefix(tenant_id, idea_id, o))} for o in organizations
        ]
        return frozenset(
            [
                member_of_key(doc["_id"]).organization_id
                async for doc in self._members.find({"$or": ranges}, projection={"_id": 1})
            ]
        )

    async def endorsers(self, tenant_id: str, idea_id: str) -> AsyncIterator[list[Member]]:
        """The idea's endorsing members, a page at a time, by organization then member.

        Always yields at least one (possibly empty) page. Each page is its own
        query, covered by the `_id` index, after the last id of the one before.
        """
        prefix = idea_prefix(tenant_id, idea_id)
        bounds: Document = _range(prefix)
        while True:
            docs = await self._members.find(
                {"_id": bounds}, projection={"_id": 1}, sort=[("_id", 1)], limit=self._page
            ).to_list()
            yield [member_of_key(doc["_id"]) for doc in docs]
            if len(docs) < self._page:
                return
            bounds = {"$gt": docs[-1]["_id"], "$lt": prefix_end(prefix)}

    # --- upgrade in place -------------------------------------------------------------

    async def migrate(self) -> int:
        """Move the old layout's `members` arrays into member records; how many ideas.

        Idempotent and resumable: each idea moves in one transaction (records upserted,
        array removed), so a crash leaves every idea in one layout or the other and the
        next start moves the rest. It runs at every start, so arrays an older replica
        still wrote during a rolling upgrade move too.
        """
        moved = 0
        async for doc in self._ideas.find(
            {"members": {"$exists": True}}, projection={"_id": 1, "tenant_id": 1}
        ):
            await in_transaction(self._client, partial(self._migrate_one, doc))
            moved += 1
        if moved:
            log.info("recipients: %d ideas moved to one record per member", moved)
        with contextlib.suppress(OperationFailure):
            if _OLD_INDEX in await self._ideas.index_information():
                await self._ideas.drop_index(_OLD_INDEX)
        return moved

    async def _migrate_one(self, found: Document, session: AsyncClientSession) -> None:
        key = {"_id": found["_id"], "tenant_id": found["tenant_id"]}
        # Read again inside the transaction: the array as it is, if not moved meanwhile.
        doc = await self._ideas.find_one(
            {**key, "members": {"$exists": True}}, projection={"members": 1}, session=session
        )
        if doc is None:
            return
        members = {_member_of(m) for m in doc["members"]}
        tenant_id, idea_id = found["tenant_id"], found["_id"]
        ordered = sorted(members)
        for start in range(0, len(ordered), self._page):
            await self._members.bulk_write(
                [_endorsing(tenant_id, idea_id, m) for m in ordered[start : start + self._page]],
                ordered=False,
                session=session,
            )
        await self._ideas.update_one(key, {"$unset": {"members": ""}}, session=session)

"""Who is told about an idea: its submitter and every endorsing member.

A projection of the ideas service's events, kept in the notifications service's own
database so that delivering a notification never reads another service's data.
"""

from __future__ import annotations

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from quorum.domain.v1 import domain_pb2
from quorum.events.v1 import events_pb2
from quorum_common.consumer import PROCESSED, PROCESSED_INDEXES
from quorum_common.mongo import Document, ensure_indexes

RECIPIENTS = "recipients"


def _member(ref: domain_pb2.MemberRef) -> Document:
    return {"organization_id": ref.organization_id, "member_id": ref.member_id}


class Recipients:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._database = database
        self._recipients = database[RECIPIENTS]

    async def create_indexes(self) -> None:
        await ensure_indexes(
            self._database,
            {
                RECIPIENTS: [
                    IndexModel([("tenant_id", ASCENDING), ("members.member_id", ASCENDING)])
                ],
                PROCESSED: PROCESSED_INDEXES,
            },
        )

    async def apply(self, session: AsyncClientSession, event: events_pb2.Event) -> None:
        key = {"_id": event.envelope.idea_id, "tenant_id": event.envelope.tenant_id}
        kind = event.WhichOneof("payload")
        if kind == "idea_submitted":
            member = _member(event.idea_submitted.submitted_by)
            await self._recipients.update_one(
                key,
                {"$set": {"submitter": member}, "$addToSet": {"members": member}},
                upsert=True,
                session=session,
            )
        elif kind == "idea_endorsed":
            await self._recipients.update_one(
                key,
                {"$addToSet": {"members": _member(event.idea_endorsed.member)}},
                upsert=True,
                session=session,
            )
        elif kind == "endorsement_withdrawn":
            await self._recipients.update_one(
                key,
                {"$pull": {"members": _member(event.endorsement_withdrawn.member)}},
                session=session,
            )

    async def of(self, tenant_id: str, idea_id: str) -> list[Document]:
        doc = await self._recipients.find_one({"_id": idea_id, "tenant_id": tenant_id})
        return list(doc["members"]) if doc else []

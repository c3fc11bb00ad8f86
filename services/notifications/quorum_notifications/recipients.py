"""Who is told about an idea: its submitter and every endorsing member.

A projection of the ideas service's events, kept in the notifications service's own
database so that delivering a notification never reads another service's data.
It also keeps the idea's title, so that notifications can name the idea.
"""

from __future__ import annotations

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from quorum.domain.v1 import domain_pb2
from quorum.events.v1 import events_pb2
from quorum_common.mongo import Document
from quorum_notifications.domain import IdeaPeople, Member

RECIPIENTS = "recipients"
INDEXES = [IndexModel([("tenant_id", ASCENDING), ("members.member_id", ASCENDING)])]


def _member(ref: domain_pb2.MemberRef) -> Document:
    return {"organization_id": ref.organization_id, "member_id": ref.member_id}


def _member_of(doc: Document) -> Member:
    return Member(doc["organization_id"], doc["member_id"])


class Recipients:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._recipients = database[RECIPIENTS]

    async def apply(self, session: AsyncClientSession, event: events_pb2.Event) -> None:
        key = {"_id": event.envelope.idea_id, "tenant_id": event.envelope.tenant_id}
        kind = event.WhichOneof("payload")
        if kind == "idea_submitted":
            submitted = event.idea_submitted
            member = _member(submitted.submitted_by)
            await self._recipients.update_one(
                key,
                {
                    "$set": {"submitter": member, "title": submitted.title},
                    "$addToSet": {"members": member},
                },
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
        elif kind == "ideas_merged":
            merged = event.ideas_merged
            carried = [_member(m) for m in merged.carried_members]
            await self._recipients.update_one(
                {"_id": merged.target_idea_id, "tenant_id": event.envelope.tenant_id},
                {"$addToSet": {"members": {"$each": carried}}},
                upsert=True,
                session=session,
            )
            # The source keeps its people for the record; nothing happens to it any more.
            await self._recipients.update_one(
                {"_id": merged.source_idea_id, "tenant_id": event.envelope.tenant_id},
                {"$set": {"merged_into": merged.target_idea_id}},
                session=session,
            )

    async def people(self, tenant_id: str, idea_id: str) -> IdeaPeople | None:
        doc = await self._recipients.find_one({"_id": idea_id, "tenant_id": tenant_id})
        if doc is None:
            return None
        submitter = doc.get("submitter")
        return IdeaPeople(
            title=doc.get("title", ""),
            submitter=_member_of(submitter) if submitter else None,
            members=frozenset(_member_of(m) for m in doc.get("members", [])),
        )

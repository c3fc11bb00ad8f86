"""Peers and introductions: customers finding each other, only with consent.

Only organizations that opted into peer visibility and endorse the same idea are
ever named; anything else answers exactly as if it did not exist.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from pymongo import ASCENDING, AsyncMongoClient, IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from quorum.domain.v1 import domain_pb2
from quorum.events.v1 import events_pb2
from quorum_common.errors import FailedPrecondition, NotFound
from quorum_common.events import new_event, now, timestamp
from quorum_common.mongo import Document
from quorum_common.outbox import Outbox
from quorum_common.unit_of_work import Unit, commit
from quorum_validation.stores import Stores

INTRODUCTIONS = "introductions"
INDEXES = {
    INTRODUCTIONS: [
        IndexModel([("tenant_id", ASCENDING), ("requester_organization_id", ASCENDING)]),
        IndexModel([("tenant_id", ASCENDING), ("peer_organization_id", ASCENDING)]),
    ]
}
_STATUS = {
    "PENDING": domain_pb2.INTRODUCTION_STATUS_PENDING,
    "ACCEPTED": domain_pb2.INTRODUCTION_STATUS_ACCEPTED,
    "DECLINED": domain_pb2.INTRODUCTION_STATUS_DECLINED,
}


@dataclass(frozen=True)
class Peer:
    organization_id: str
    name: str
    segment: str


def introduction_message(doc: Document) -> domain_pb2.Introduction:
    message = domain_pb2.Introduction(
        introduction_id=doc["_id"],
        idea_id=doc["idea_id"],
        requester_organization_id=doc["requester_organization_id"],
        requester_member_id=doc["requester_member_id"],
        peer_organization_id=doc["peer_organization_id"],
        message=doc["message"],
        status=_STATUS[doc["status"]],
        created_at=timestamp(doc["created_at"]),
    )
    if doc["status"] == "ACCEPTED":
        message.requester_contact = doc.get("requester_contact", "")
        message.peer_contact = doc.get("peer_contact", "")
    if doc.get("answered_at"):
        message.answered_at.CopyFrom(timestamp(doc["answered_at"]))
    return message


class Peers:
    def __init__(
        self,
        client: AsyncMongoClient[Document],
        outbox: Outbox | None,
        stores: Stores,
        database: AsyncDatabase[Document],
    ) -> None:
        self._client = client
        self._outbox = outbox
        self._stores = stores
        self._introductions = database[INTRODUCTIONS]

    async def peers(
        self,
        tenant_id: str,
        idea_id: str,
        organization_id: str,
        session: AsyncClientSession | None = None,
    ) -> list[Peer]:
        await self._stores.ledger.entry(tenant_id, idea_id, session)  # NOT_FOUND before anything
        endorsing = self._stores.evidence.endorsing
        if organization_id not in await endorsing(tenant_id, idea_id, [organization_id], session):
            raise FailedPrecondition("only organizations that endorse an idea see its peers")
        # The opted-in organizations are few next to an idea's endorsers: ask about them.
        visible = [
            doc
            for doc in await self._stores.directory.peer_visible_documents(tenant_id, session)
            if doc["organization_id"] != organization_id
        ]
        endorsers = await endorsing(
            tenant_id, idea_id, [doc["organization_id"] for doc in visible], session
        )
        return sorted(
            (
                Peer(doc["organization_id"], doc["name"], doc["segment"])
                for doc in visible
                if doc["organization_id"] in endorsers
            ),
            key=lambda p: p.organization_id,
        )

    async def request(
        self,
        tenant_id: str,
        idea_id: str,
        requester_organization_id: str,
        requester_member_id: str,
        peer_organization_id: str,
        message: str,
    ) -> domain_pb2.Introduction:
        async def work(unit: Unit) -> Document:
            session = unit.session
            visible = await self.peers(tenant_id, idea_id, requester_organization_id, session)
            if peer_organization_id not in {p.organization_id for p in visible}:
                # The same answer whether the organization exists, did not opt in, or
                # does not endorse the idea: nothing about it leaks.
                raise NotFound(f"no peer {peer_organization_id} on idea {idea_id}")
            doc: Document = {
                "_id": str(uuid.uuid4()),
                "tenant_id": tenant_id,
                "idea_id": idea_id,
                "requester_organization_id": requester_organization_id,
                "requester_member_id": requester_member_id,
                "peer_organization_id": peer_organization_id,
                "message": message,
                "status": "PENDING",
                "created_at": now(),
                "answered_at": None,
            }
            await self._introductions.insert_one(doc, session=session)
            event = self._event(tenant_id, idea_id)
            asked = event.introduction_requested
            asked.introduction_id = doc["_id"]
            asked.requester_organization_id = requester_organization_id
            asked.requester_member_id = requester_member_id
            asked.peer_organization_id = peer_organization_id
            asked.message = message
            unit.publish([event])
            return doc

        return introduction_message(await commit(self._client, self._outbox, work))

    async def answer(
        self, tenant_id: str, introduction_id: str, organization_id: str, accept: bool
    ) -> domain_pb2.Introduction:
        async def work(unit: Unit) -> Document:
            session = unit.session
            doc = await self._introductions.find_one(
                {
                    "_id": introduction_id,
                    "tenant_id": tenant_id,
                    "peer_organization_id": organization_id,
                },
                session=session,
            )
            if doc is None:
                raise NotFound(f"introduction {introduction_id} not found")
            if doc["status"] != "PENDING":
                raise FailedPrecondition(f"introduction {introduction_id} was already answered")
            update: Document = {
                "status": "ACCEPTED" if accept else "DECLINED",
                "answered_at": now(),
            }
            if accept:
                contacts = {
                    d["organization_id"]: d.get("contact", "")
                    for d in await self._stores.directory.load_documents(
                        tenant_id,
                        [doc["requester_organization_id"], doc["peer_organization_id"]],
                        session,
                    )
                }
                update["requester_contact"] = contacts.get(doc["requester_organization_id"], "")
                update["peer_contact"] = contacts.get(doc["peer_organization_id"], "")
            doc.update(update)
            await self._introductions.update_one(
                {"_id": introduction_id}, {"$set": update}, session=session
            )
            event = self._event(tenant_id, doc["idea_id"])
            answered = event.introduction_answered
            answered.introduction_id = introduction_id
            answered.requester_organization_id = doc["requester_organization_id"]
            answered.peer_organization_id = doc["peer_organization_id"]
            answered.accepted = accept
            if accept:
                answered.requester_contact = update["requester_contact"]
                answered.peer_contact = update["peer_contact"]
            unit.publish([event])
            return doc

        return introduction_message(await commit(self._client, self._outbox, work))

    async def list(self, tenant_id: str, organization_id: str) -> list[domain_pb2.Introduction]:
        cursor = self._introductions.find(
            {
                "tenant_id": tenant_id,
                "$or": [
                    {"requester_organization_id": organization_id},
                    {"peer_organization_id": organization_id},
                ],
            },
            sort=[("created_at", ASCENDING)],
        )
        return [introduction_message(doc) async for doc in cursor]

    def _event(self, tenant_id: str, idea_id: str) -> events_pb2.Event:
        return new_event(tenant_id=tenant_id, idea_id=idea_id, producer="validation")

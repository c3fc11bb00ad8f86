"""MongoDB persistence for ideas; every change commits with the event it owes."""

from __future__ import annotations

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from quorum.events.v1 import events_pb2
from quorum_common.errors import NotFound
from quorum_common.mongo import Document, ensure_indexes, in_transaction
from quorum_common.outbox import INDEXES as OUTBOX_INDEXES
from quorum_common.outbox import Outbox
from quorum_ideas.domain import (
    Commitment,
    Idea,
    Importance,
    Member,
    MemberEndorsement,
    Status,
)

IDEAS = "ideas"
REQUESTS = "requests"


def _member_doc(member: Member) -> Document:
    return {
        "organization_id": member.organization_id,
        "member_id": member.member_id,
        "job_function": member.job_function,
    }


def _member(doc: Document) -> Member:
    return Member(doc["organization_id"], doc["member_id"], doc.get("job_function", 0))


def to_document(idea: Idea) -> Document:
    return {
        "_id": idea.id,
        "tenant_id": idea.tenant_id,
        "title": idea.title,
        "problem": idea.problem,
        "product_area": idea.product_area,
        "tags": list(idea.tags),
        "source_channel": idea.source_channel,
        "submitted_by": _member_doc(idea.submitted_by),
        "created_at": idea.created_at,
        "updated_at": idea.updated_at,
        "status": int(idea.status),
        "stage": idea.stage,
        "merged_into": idea.merged_into,
        "version": idea.version,
        "endorsements": [
            {
                "member": _member_doc(e.member),
                "importance": int(e.importance),
                "impact": e.impact,
                "commitments": sorted(int(c) for c in e.commitments),
                "endorsed_at": e.endorsed_at,
            }
            for e in idea.endorsements
        ],
    }


def from_document(doc: Document) -> Idea:
    return Idea(
        id=doc["_id"],
        tenant_id=doc["tenant_id"],
        title=doc["title"],
        problem=doc["problem"],
        product_area=doc["product_area"],
        tags=tuple(doc["tags"]),
        source_channel=doc["source_channel"],
        submitted_by=_member(doc["submitted_by"]),
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
        status=Status(doc["status"]),
        stage=doc.get("stage", ""),
        merged_into=doc.get("merged_into", ""),
        version=doc["version"],
        endorsements=tuple(
            MemberEndorsement(
                member=_member(e["member"]),
                importance=Importance(e["importance"]),
                impact=e["impact"],
                commitments=frozenset(Commitment(c) for c in e["commitments"]),
                endorsed_at=e["endorsed_at"],
            )
            for e in doc["endorsements"]
        ),
    )


class IdeaStore:
    def __init__(
        self,
        client: AsyncMongoClient[Document],
        database: AsyncDatabase[Document],
        outbox: Outbox,
        topic: str,
    ) -> None:
        self._client = client
        self._database = database
        self._ideas = database[IDEAS]
        self._requests = database[REQUESTS]
        self._outbox = outbox
        self._topic = topic

    async def create_indexes(self) -> None:
        await ensure_indexes(
            self._database,
            {
                IDEAS: [
                    IndexModel(
                        [("tenant_id", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)]
                    ),
                ],
                REQUESTS: [],
                "outbox": OUTBOX_INDEXES,
            },
        )

    async def insert(
        self, idea: Idea, events: list[events_pb2.Event], request_id: str = ""
    ) -> Idea:
        """Store a new idea and its events; with a request id, at most once."""

        async def work(session: AsyncClientSession) -> Idea:
            if request_id:
                key = f"{idea.tenant_id}:{request_id}"
                earlier = await self._requests.find_one({"_id": key}, session=session)
                if earlier is not None:
                    return await self._get(idea.tenant_id, earlier["idea_id"], session)
                await self._requests.insert_one(
                    {"_id": key, "idea_id": idea.id, "at": idea.created_at}, session=session
                )
            await self._ideas.insert_one(to_document(idea), session=session)
            await self._outbox.add(session, self._topic, events)
            return idea

        try:
            stored = await in_transaction(self._client, work)
        except DuplicateKeyError:
            # The same request id committed concurrently: answer with its idea.
            earlier = await self._requests.find_one({"_id": f"{idea.tenant_id}:{request_id}"})
            if earlier is None:
                raise
            return await self.get(idea.tenant_id, earlier["idea_id"])
        self._outbox.notify()
        return stored

    async def get(self, tenant_id: str, idea_id: str) -> Idea:
        return await self._get(tenant_id, idea_id, None)

    async def _get(self, tenant_id: str, idea_id: str, session: AsyncClientSession | None) -> Idea:
        doc = await self._ideas.find_one({"_id": idea_id, "tenant_id": tenant_id}, session=session)
        if doc is None:
            raise NotFound(f"idea {idea_id} not found")
        return from_document(doc)

    async def recent_texts(self, tenant_id: str, limit: int) -> list[tuple[str, str, str]]:
        """(id, title, problem) of the tenant's newest open ideas, for duplicate hints."""
        cursor = self._ideas.find(
            {"tenant_id": tenant_id, "status": int(Status.OPEN)},
            projection={"title": 1, "problem": 1},
            sort=[("created_at", DESCENDING)],
            limit=limit,
        )
        return [(d["_id"], d["title"], d["problem"]) async for d in cursor]

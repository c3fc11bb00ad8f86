"""MongoDB persistence for ideas; every change commits with the event it owes.

Optimistic versioning: every change a caller makes reads the ideas, decides with
the pure rules in `domain.py`, and writes each changed idea with the filter
{_id, version: <the version read>} in the same transaction as its events. Inside
the snapshot transaction a concurrent writer surfaces as a write conflict, which
the driver retries from the read, so the rules always decide on the latest state;
the version filter is the backstop that turns any lost race into Conflict
(ABORTED) instead of a silent overwrite.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from quorum.events.v1 import events_pb2
from quorum_common.consumer import PROCESSED, PROCESSED_INDEXES
from quorum_common.errors import Conflict, NotFound
from quorum_common.events import PoisonEvent, event_type
from quorum_common.mongo import Document, ensure_indexes, in_transaction
from quorum_common.outbox import INDEXES as OUTBOX_INDEXES
from quorum_common.outbox import Outbox
from quorum_ideas.domain import (
    Commitment,
    Idea,
    Importance,
    ListRequest,
    Member,
    MemberEndorsement,
    PagePosition,
    Status,
    projected_status,
)

log = logging.getLogger(__name__)

IDEAS = "ideas"
REQUESTS = "requests"
_NEWEST_FIRST = [("created_at", DESCENDING), ("_id", DESCENDING)]
T = TypeVar("T")
# What a change may rewrite; stage belongs to the projection, the rest is immutable.
_CHANGEABLE = ("endorsements", "updated_at", "version", "status", "merged_into")


@dataclass(frozen=True)
class Change(Generic[T]):
    """What a decision on freshly read ideas amounts to: the answer, and what to write."""

    result: T
    save: Sequence[Idea] = field(default_factory=tuple)
    events: Sequence[events_pb2.Event] = field(default_factory=tuple)


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
                # Each serves ListIdeas newest first: unfiltered, and by the
                # filters that narrow a tenant's ideas the most.
                IDEAS: [
                    IndexModel([("tenant_id", ASCENDING), *_NEWEST_FIRST]),
                    IndexModel([("tenant_id", ASCENDING), ("status", ASCENDING), *_NEWEST_FIRST]),
                    IndexModel([("tenant_id", ASCENDING), ("stage", ASCENDING), *_NEWEST_FIRST]),
                    IndexModel([("tenant_id", ASCENDING), ("tags", ASCENDING), *_NEWEST_FIRST]),
                ],
                REQUESTS: [],
                "outbox": OUTBOX_INDEXES,
                PROCESSED: PROCESSED_INDEXES,
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

    async def change(
        self,
        tenant_id: str,
        idea_ids: Sequence[str],
        decide: Callable[[list[Idea]], Change[T]],
    ) -> T:
        """Read the ideas, let `decide` rule, write its ideas and events together.

        `decide` may run more than once (the transaction retries on a write
        conflict), so it must not have effects of its own; it raises to refuse.
        """
        events_written = False

        async def work(session: AsyncClientSession) -> T:
            nonlocal events_written
            read = {i: await self._get(tenant_id, i, session) for i in idea_ids}
            decision = decide(list(read.values()))
            for idea in decision.save:
                await self._save(session, read[idea.id], idea)
            await self._outbox.add(session, self._topic, list(decision.events))
            events_written = bool(decision.events)
            return decision.result

        result = await in_transaction(self._client, work)
        if events_written:
            self._outbox.notify()
        return result

    async def _save(self, session: AsyncClientSession, before: Idea, after: Idea) -> None:
        old, new = to_document(before), to_document(after)
        changes = {name: new[name] for name in _CHANGEABLE if new[name] != old[name]}
        written = await self._ideas.update_one(
            {"_id": before.id, "tenant_id": before.tenant_id, "version": before.version},
            {"$set": changes},
            session=session,
        )
        if written.matched_count != 1:
            raise Conflict(
                f"idea {before.id} changed while this request was applied; re-read it and retry"
            )

    async def page(self, request: ListRequest) -> tuple[list[Idea], PagePosition | None]:
        """One page, newest first, and where the next one starts (None: last page)."""
        query: Document = {"tenant_id": request.tenant_id}
        chosen = request.filter
        if chosen.stage:
            query["stage"] = chosen.stage
        if chosen.status is not None:
            query["status"] = int(chosen.status)
        if chosen.product_area:
            query["product_area"] = chosen.product_area
        if chosen.tag:
            query["tags"] = chosen.tag
        if request.after is not None:
            # Strictly after the previous page's last idea in (created_at, _id)
            # order: ideas created meanwhile are never skipped nor repeated.
            after = request.after
            query["$or"] = [
                {"created_at": {"$lt": after.created_at}},
                {"created_at": after.created_at, "_id": {"$lt": after.idea_id}},
            ]
        cursor = self._ideas.find(query, sort=_NEWEST_FIRST, limit=request.page_size + 1)
        ideas = [from_document(doc) async for doc in cursor]
        if len(ideas) <= request.page_size:
            return ideas, None
        last = ideas[request.page_size - 1]
        return ideas[: request.page_size], PagePosition(last.created_at, last.id)

    async def project(self, session: AsyncClientSession, event: events_pb2.Event) -> None:
        """Apply a validation event to an idea's stage and status (consumer handler).

        The validation ledger is the source of truth; this copy only serves the
        ListIdeas filters and GetIdea. It deliberately leaves `version` and
        `updated_at` alone: the version guards what callers change (endorsements,
        merges), and a stage moving in the background must not make a caller's
        expected_version stale. A caller's change racing with this one still
        cannot act on a stale status: both write the same document inside snapshot
        transactions, so one of them is retried on the other's result.
        """
        kind = event.WhichOneof("payload")
        if kind == "stage_advanced":
            advanced = event.stage_advanced
            if not advanced.to_stage:
                raise PoisonEvent("stage_advanced.to_stage is empty")
            incoming = _status(advanced.status) if advanced.status else None
            await self._project(session, event, advanced.to_stage, incoming)
        elif kind == "idea_declined":
            await self._project(session, event, None, Status.DECLINED)

    async def _project(
        self,
        session: AsyncClientSession,
        event: events_pb2.Event,
        stage: str | None,
        incoming: Status | None,
    ) -> None:
        envelope = event.envelope
        if not envelope.idea_id:
            raise PoisonEvent(f"{event_type(event)} without envelope.idea_id")
        key = {"_id": envelope.idea_id, "tenant_id": envelope.tenant_id}
        doc = await self._ideas.find_one(key, projection={"status": 1}, session=session)
        if doc is None:
            # Not an idea of this service (the ledger only knows ideas we published,
            # so this is another deployment's or a hand-made event): nothing to show.
            log.warning("%s for unknown idea %s ignored", event_type(event), envelope.idea_id)
            return
        changes: dict[str, Any] = {"status": int(projected_status(Status(doc["status"]), incoming))}
        if stage is not None:
            changes["stage"] = stage
        await self._ideas.update_one(key, {"$set": changes}, session=session)


def _status(value: int) -> Status:
    try:
        return Status(value)
    except ValueError:
        raise PoisonEvent(f"unknown idea status {value}") from None

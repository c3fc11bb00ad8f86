"""MongoDB persistence for ideas: reads, the write paths, the stage projection.

Writes go through `writes.py` (submissions, endorsements and withdrawals in groups;
merges alone); every change commits with the events it owes (`unit_of_work`). Reads
never touch more than they answer: an idea is one small document, and its
endorsements are read a page at a time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, IndexModel, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from quorum.domain.v1 import domain_pb2
from quorum.events.v1 import events_pb2
from quorum_common.errors import Conflict, NotFound
from quorum_common.events import PoisonEvent, event_type, now
from quorum_common.group_commit import GroupCommit
from quorum_common.mongo import Document, ensure_indexes
from quorum_common.outbox import COLLECTION as OUTBOX
from quorum_common.outbox import INDEXES as OUTBOX_INDEXES
from quorum_common.outbox import Outbox
from quorum_common.processed import PROCESSED, PROCESSED_INDEXES, Consumed
from quorum_common.unit_of_work import Unit, commit
from quorum_ideas import domain, requests
from quorum_ideas.documents import (
    ENDORSEMENTS,
    IDEAS,
    ORGANIZATION_ENDORSEMENTS,
    REQUESTS,
    backings_of,
    endorsement_of,
    idea_of,
    idea_prefix,
    organization_endorsement_of,
    organization_key,
    under,
)
from quorum_ideas.domain import Idea, OrganizationBacking, OrganizationEndorsement, Status
from quorum_ideas.listing import EndorsementsRequest, ListRequest, PagePosition
from quorum_ideas.messages import ideas_merged
from quorum_ideas.migration import migrate_embedded_endorsements
from quorum_ideas.writes import (
    Endorse,
    Endorsed,
    Submit,
    Withdraw,
    Withdrew,
    Work,
    Writes,
    backing_writes,
    submitted_request,
)

log = logging.getLogger(__name__)

_NEWEST_FIRST = [("created_at", DESCENDING), ("_id", DESCENDING)]
# A merge reads the target's records of the source's organizations this many at a time.
_MERGE_READ = 500
# The validation events the projection takes; the others are not its business.
PROJECTED = ("StageAdvanced", "IdeaDeclined")


def changed_by(work: Work) -> tuple[str, ...]:
    """What a write changes, so that two groups committing at once never share it."""
    if isinstance(work, Submit) and work.request_key:
        return (work.idea_id, work.request_key)
    return (work.idea_id,)


def moment() -> datetime:
    # Mongo keeps milliseconds; trimming here makes an answer equal a later read.
    at = now()
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


class IdeaStore:
    def __init__(
        self,
        client: AsyncMongoClient[Document],
        database: AsyncDatabase[Document],
        outbox: Outbox,
        clock: Callable[[], datetime] = moment,
        group_window: float = 0.0,
    ) -> None:
        self._client = client
        self._database = database
        self._ideas = database[IDEAS]
        self._endorsements = database[ENDORSEMENTS]
        self._organizations = database[ORGANIZATION_ENDORSEMENTS]
        self._outbox = outbox
        self._clock = clock
        self._writes = Writes(database, clock)
        self._group: GroupCommit[Work, Any] = GroupCommit(
            client, outbox, self._writes.apply, keys=changed_by, window=group_window
        )

    @property
    def group_commit(self) -> GroupCommit[Work, Any]:
        return self._group

    async def prepare(self) -> None:
        """Indexes, and the upgrade of older layouts (idempotent, resumable)."""
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
                # Both are read by ranges of their path-shaped _id (documents.py).
                ENDORSEMENTS: [],
                ORGANIZATION_ENDORSEMENTS: [],
                REQUESTS: [],
                OUTBOX: OUTBOX_INDEXES,
                PROCESSED: PROCESSED_INDEXES,
            },
        )
        await self._outbox.prepare()
        await migrate_embedded_endorsements(self._database)

    # --- writes ---------------------------------------------------------------------

    async def submit(
        self,
        idea: Idea,
        endorsement: domain.MemberEndorsement,
        request_id: str = "",
        fingerprint: str = "",
    ) -> Idea:
        """Store a new idea with its submitter's endorsement; with a request id, at most once.

        A request id belongs to the submitting member: the same id repeated with the same
        body answers the idea it made; with another body it is refused (`request_id`).
        """
        work = Submit(idea.tenant_id, idea, endorsement, request_id, fingerprint)
        try:
            stored: Idea = await self._group.run(work)
        except DuplicateKeyError:
            # The same request id committed concurrently elsewhere: answer with its idea.
            earlier = await self._database[REQUESTS].find_one({"_id": work.request_key})
            if earlier is None:
                raise
            used = submitted_request(earlier)
            domain.check_same_request(used.fingerprint, fingerprint)
            return await self.get(idea.tenant_id, used.idea_id)
        return stored

    async def endorse(self, request: requests.EndorseRequest) -> Endorsed:
        result: Endorsed = await self._group.run(Endorse(request))
        return result

    async def withdraw(self, request: requests.WithdrawRequest) -> Withdrew:
        result: Withdrew = await self._group.run(Withdraw(request))
        return result

    async def merge(self, request: requests.MergeRequest, actor: domain_pb2.Actor) -> domain.Merge:
        """Fold the source into the target, alone in its transaction (it moves every record)."""

        async def work(unit: Unit) -> domain.Merge:
            session = unit.session
            ids = [request.source_idea_id, request.target_idea_id]
            found = {
                doc["_id"]: idea_of(doc)
                async for doc in self._ideas.find({"_id": {"$in": ids}}, session=session)
            }
            source, target = (self._owned(found, request.tenant_id, i) for i in ids)
            domain.check_mergeable(source, target)
            moving = [
                endorsement_of(doc)
                async for doc in self._endorsements.find(
                    {"_id": under(idea_prefix(source.tenant_id, source.id))}, session=session
                )
            ]
            target_backings = await self._backings(
                unit, target, sorted({e.member.organization_id for e in moving})
            )
            merged = domain.merge(
                source,
                target,
                moving,
                target_backings,
                self._clock(),
                request.expected_source_version,
                request.expected_target_version,
            )
            for before, after in ((source, merged.source), (target, merged.target)):
                await self._save_idea(unit, before, after)
            members: list[Any] = []
            organizations: list[Any] = []
            for backing in merged.changed:
                more, organization = backing_writes(
                    target.tenant_id,
                    target.id,
                    target_backings.get(backing.organization_id),
                    backing,
                )
                members.extend(more)
                organizations.append(organization)
            if members:
                await self._endorsements.bulk_write(members, ordered=False, session=session)
            if organizations:
                await self._organizations.bulk_write(organizations, ordered=False, session=session)
            unit.publish(ideas_merged(merged, actor))
            return merged

        return await commit(self._client, self._outbox, work)

    def _owned(self, found: dict[str, Idea], tenant_id: str, idea_id: str) -> Idea:
        idea = found.get(idea_id)
        if idea is None or idea.tenant_id != tenant_id:
            raise NotFound(f"idea {idea_id} not found")
        return idea

    async def _backings(
        self, unit: Unit, idea: Idea, organization_ids: Sequence[str]
    ) -> dict[str, OrganizationBacking]:
        """The idea's backing of each of these organizations that endorses it."""
        backings: dict[str, OrganizationBacking] = {}
        for start in range(0, len(organization_ids), _MERGE_READ):
            chunk = organization_ids[start : start + _MERGE_READ]
            ranges = [{"_id": under(organization_key(idea.tenant_id, idea.id, o))} for o in chunk]
            docs = await self._endorsements.find({"$or": ranges}, session=unit.session).to_list()
            backings.update(backings_of(docs))
        return backings

    async def _save_idea(self, unit: Unit, before: Idea, after: Idea) -> None:
        written = await self._ideas.update_one(
            {"_id": before.id, "version": before.version},
            {
                "$set": {
                    "updated_at": after.updated_at,
                    "version": after.version,
                    "status": int(after.status),
                    "merged_into": after.merged_into,
                    "organization_count": after.organization_count,
                    "endorsement_count": after.endorsement_count,
                }
            },
            session=unit.session,
        )
        if written.matched_count != 1:
            raise Conflict(
                f"idea {before.id} changed while this request was applied; re-read it and retry"
            )

    # --- reads ----------------------------------------------------------------------

    async def get(self, tenant_id: str, idea_id: str) -> Idea:
        doc = await self._ideas.find_one({"_id": idea_id, "tenant_id": tenant_id})
        if doc is None:
            raise NotFound(f"idea {idea_id} not found")
        return idea_of(doc)

    async def recent_texts(self, tenant_id: str, limit: int) -> list[tuple[str, str, str]]:
        """(id, title, problem) of the tenant's newest open ideas, for duplicate hints."""
        cursor = self._ideas.find(
            {"tenant_id": tenant_id, "status": int(Status.OPEN)},
            projection={"title": 1, "problem": 1},
            sort=[("created_at", DESCENDING)],
            limit=limit,
        )
        return [(d["_id"], d["title"], d["problem"]) async for d in cursor]

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
        ideas = [idea_of(doc) async for doc in cursor]
        if len(ideas) <= request.page_size:
            return ideas, None
        last = ideas[request.page_size - 1]
        return ideas[: request.page_size], PagePosition(last.created_at, last.id)

    async def endorsements(
        self, request: EndorsementsRequest
    ) -> tuple[list[OrganizationEndorsement], str, int]:
        """One page of counted endorsements by organization, the next page's start
        ("" on the last page), and the idea's organization count."""
        idea = await self.get(request.tenant_id, request.idea_id)
        prefix = idea_prefix(idea.tenant_id, idea.id)
        bounds = under(prefix)
        if request.after:
            bounds["$gt"] = organization_key(idea.tenant_id, idea.id, request.after)
        docs = await self._organizations.find(
            {"_id": bounds}, sort=[("_id", ASCENDING)], limit=request.page_size + 1
        ).to_list()
        page = [organization_endorsement_of(doc) for doc in docs[: request.page_size]]
        more = len(docs) > request.page_size
        return page, page[-1].organization_id if more and page else "", idea.organization_count

    # --- the stage projection (consumer handler) ------------------------------------

    async def project(self, unit: Unit, consumed: Sequence[Consumed]) -> None:
        """Apply validation events to ideas' stage and status, one command for the batch.

        The validation ledger is the source of truth; this copy only serves the
        ListIdeas filters and GetIdea. It deliberately leaves `version` and
        `updated_at` alone: the version guards what callers change (endorsements,
        merges), and a stage moving in the background must not make a caller's
        expected_version stale. A caller's change racing with this one still cannot
        act on a stale status: both write the same document inside snapshot
        transactions, so one of them is retried on the other's result. A merge is
        decided here, and no stage event (which may have been in flight) undoes it.
        """
        writes: list[Any] = []
        for item in consumed:
            writes.extend(_projection(item.event))
        if writes:
            await self._ideas.bulk_write(writes, ordered=True, session=unit.session)


def _projection(event: events_pb2.Event) -> list[Any]:
    envelope = event.envelope
    kind = event.WhichOneof("payload")
    if not envelope.idea_id:
        raise PoisonEvent(f"{event_type(event)} without envelope.idea_id")
    key = {"_id": envelope.idea_id, "tenant_id": envelope.tenant_id}
    not_merged = {**key, "status": {"$ne": int(Status.MERGED)}}
    if kind == "stage_advanced":
        advanced = event.stage_advanced
        if not advanced.to_stage:
            raise PoisonEvent("stage_advanced.to_stage is empty")
        writes: list[Any] = [UpdateOne(key, {"$set": {"stage": advanced.to_stage}})]
        if advanced.status:
            status = _status(advanced.status)
            writes.append(UpdateOne(not_merged, {"$set": {"status": int(status)}}))
        return writes
    if kind == "idea_declined":
        return [UpdateOne(not_merged, {"$set": {"status": int(Status.DECLINED)}})]
    return []


def _status(value: int) -> Status:
    try:
        return Status(value)
    except ValueError:
        raise PoisonEvent(f"unknown idea status {value}") from None

"""The stage ledger: where each idea stands, the source of truth for stages.

One small document per idea (stage, status, votes, the last verdict on its next gate
and the incremental tally of that gate), whatever the idea's popularity: its evidence
lives in records of its own (`evidence.py`). Changes go through `judging.py` (the
consumer and re-evaluation) and `usecases.py` (the API), each in one unit of work.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from pymongo import ASCENDING, IndexModel, InsertOne, ReplaceOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from quorum.domain.v1 import domain_pb2
from quorum_common.errors import Conflict, NotFound
from quorum_common.mongo import Document
from quorum_validation.evidence import tally_document, tally_of

# The entry is the lifecycle's (its rules decide on it); what the ledger keeps of it is here.
from quorum_validation.lifecycle import Entry as Entry
from quorum_validation.lifecycle import GateState, Status, Vote

LEDGER = "stage_ledger"
INDEXES = {
    LEDGER: [
        IndexModel([("tenant_id", ASCENDING), ("status", ASCENDING)]),
        IndexModel([("tenant_id", ASCENDING), ("stage", ASCENDING)]),
        IndexModel([("tenant_id", ASCENDING), ("sponsor_chain", ASCENDING)]),
        # The few entries whose tally a rebuild or a clean-up has not finished.
        IndexModel(
            [("tally.pending", ASCENDING)],
            name="rebuilding",
            partialFilterExpression={"tally.pending": True},
        ),
        IndexModel(
            [("tally.leftovers", ASCENDING)],
            name="cleaning_up",
            partialFilterExpression={"tally.leftovers": True},
        ),
    ]
}
_STATUS_NUMBER = {
    Status.OPEN: domain_pb2.IDEA_STATUS_OPEN,
    Status.MERGED: domain_pb2.IDEA_STATUS_MERGED,
    Status.DECLINED: domain_pb2.IDEA_STATUS_DECLINED,
    Status.LAUNCHED: domain_pb2.IDEA_STATUS_LAUNCHED,
}


def status_number(status: Status) -> int:
    return int(_STATUS_NUMBER[status])


def entry_of(doc: Document) -> Entry:
    votes: dict[str, dict[str, dict[str, Vote]]] = {}
    for vote in doc.get("council_votes", []):
        votes.setdefault(vote["stage"], {}).setdefault(vote["council_id"], {})[
            vote["organization_id"]
        ] = Vote(vote["approve"], vote.get("comment", ""), vote["at"])
    gate = doc.get("gate")
    tally = doc.get("tally")
    return Entry(
        idea_id=doc["_id"],
        tenant_id=doc["tenant_id"],
        stage=doc["stage"],
        status=Status(doc["status"]),
        sponsor_organization_id=doc["sponsor_organization_id"],
        council_votes=votes,
        gate=GateState(gate["stage"], gate["holds"]) if gate else None,
        version=doc["version"],
        entered_stage_at=doc["entered_stage_at"],
        merged_into=doc.get("merged_into", ""),
        overridden=doc.get("overridden", False),
        co_signed_by=tuple(doc.get("co_signed_by", [])),
        next_stage=doc.get("next_stage", ""),
        organization_count=doc.get("organization_count", 0),
        version_floor=doc.get("version_floor", 0),
        sponsor_chain=tuple(doc.get("sponsor_chain", ())),
        tally=tally_of(tally) if tally else None,
        # An entry upgraded from embedded evidence has folded up to its floor at least.
        idea_version=max(doc.get("idea_version", 0), doc.get("version_floor", 0)),
    )


def entry_document(entry: Entry) -> Document:
    return {
        "_id": entry.idea_id,
        "tenant_id": entry.tenant_id,
        "stage": entry.stage,
        "status": entry.status.value,
        "sponsor_organization_id": entry.sponsor_organization_id,
        "council_votes": [
            {
                "stage": stage,
                "council_id": council,
                "organization_id": org,
                "approve": vote.approve,
                "comment": vote.comment,
                "at": vote.at,
            }
            for stage, councils in sorted(entry.council_votes.items())
            for council, votes in sorted(councils.items())
            for org, vote in sorted(votes.items())
        ],
        "overridden": entry.overridden,
        "co_signed_by": list(entry.co_signed_by),
        "gate": {"stage": entry.gate.stage, "holds": entry.gate.holds} if entry.gate else None,
        "version": entry.version,
        "entered_stage_at": entry.entered_stage_at,
        "merged_into": entry.merged_into,
        "next_stage": entry.next_stage,
        "organization_count": entry.organization_count,
        "version_floor": entry.version_floor,
        "sponsor_chain": list(entry.sponsor_chain),
        "tally": tally_document(entry.tally) if entry.tally else None,
        "idea_version": entry.idea_version,
    }


@dataclass(frozen=True)
class Progress:
    """Where an idea stands, as GetIdeaProgress answers (one ledger read)."""

    stage: str
    status: int
    next_stage: str
    next_gate_holds: bool
    version: int
    entered_stage_at: datetime
    organization_count: int
    overridden: bool
    co_signed_by: tuple[str, ...]
    idea_id: str = ""
    idea_version: int = 0


def progress(entry: Entry) -> Progress:
    following = entry.next_stage if entry.status is Status.OPEN else ""
    return Progress(
        stage=entry.stage,
        status=status_number(entry.status),
        next_stage=following,
        next_gate_holds=bool(following and entry.gate and entry.gate.holds),
        version=entry.version,
        entered_stage_at=entry.entered_stage_at,
        organization_count=entry.organization_count,
        overridden=entry.overridden,
        co_signed_by=entry.co_signed_by,
        idea_id=entry.idea_id,
        idea_version=entry.idea_version,
    )


class LedgerStore:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._ledger = database[LEDGER]

    async def entry(
        self, tenant_id: str, idea_id: str, session: AsyncClientSession | None = None
    ) -> Entry:
        doc = await self._ledger.find_one({"_id": idea_id, "tenant_id": tenant_id}, session=session)
        if doc is None:
            raise NotFound(f"idea {idea_id} is not in the stage ledger (yet)")
        return entry_of(doc)

    async def progress(self, tenant_id: str, idea_id: str) -> Progress:
        """Where an idea stands: one read, without the tally (GetIdea asks on every call)."""
        doc = await self._ledger.find_one(
            {"_id": idea_id, "tenant_id": tenant_id}, projection={"tally": False}
        )
        if doc is None:
            raise NotFound(f"idea {idea_id} is not in the stage ledger (yet)")
        return progress(entry_of(doc))

    async def progress_of(self, tenant_id: str, idea_ids: Sequence[str]) -> list[Progress]:
        """Where each of these ideas stands (one read); unknown ideas are left out."""
        cursor = self._ledger.find(
            {"_id": {"$in": list(idea_ids)}, "tenant_id": tenant_id}, projection={"tally": False}
        )
        return [progress(entry_of(doc)) async for doc in cursor]

    async def entries(
        self, session: AsyncClientSession, idea_ids: Sequence[str]
    ) -> dict[str, Entry]:
        """The entries of these ideas (one command), by idea id."""
        if not idea_ids:
            return {}
        cursor = self._ledger.find({"_id": {"$in": list(idea_ids)}}, session=session)
        return {doc["_id"]: entry_of(doc) async for doc in cursor}

    async def save(
        self, session: AsyncClientSession, saves: Sequence[tuple[Entry, int | None]]
    ) -> None:
        """Write entries, each if still at the version read (None: a new entry)."""
        if not saves:
            return
        replaced = sum(1 for _, read in saves if read is not None)
        result = await self._ledger.bulk_write(
            [
                InsertOne(entry_document(entry))
                if read is None
                else ReplaceOne({"_id": entry.idea_id, "version": read}, entry_document(entry))
                for entry, read in saves
            ],
            ordered=True,
            session=session,
        )
        if result.matched_count != replaced:
            raise Conflict("an idea changed concurrently; read it again")

    async def open_ideas(self, tenant_id: str) -> list[str]:
        cursor = self._ledger.find(
            {"tenant_id": tenant_id, "status": Status.OPEN.value}, projection={"_id": 1}
        )
        return [doc["_id"] async for doc in cursor]

    async def unfinished(self) -> list[str]:
        """Ideas whose tally a rebuild or a clean-up has still to finish."""
        found: set[str] = set()
        for field in ("tally.pending", "tally.leftovers"):
            found.update(await self._ledger.distinct("_id", {field: True}))
        return sorted(found)

    async def ideas_sponsored_within(
        self, tenant_id: str, organization_ids: Sequence[str]
    ) -> set[str]:
        """Open ideas whose sponsor's customer depends on these organizations."""
        found = await self._ledger.distinct(
            "_id",
            {
                "tenant_id": tenant_id,
                "status": Status.OPEN.value,
                "sponsor_chain": {"$in": list(organization_ids)},
            },
        )
        return set(found)

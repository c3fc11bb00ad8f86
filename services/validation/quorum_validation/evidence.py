"""An idea's evidence as records of their own, and the tally's customers (MongoDB).

`evidence`: one record per (tenant, idea, organization), holding that organization's
counted endorsement (None once no member endorses: a tombstone, whose `version` keeps
an older redelivered event from bringing it back), the directory inputs it was judged
with, and how it counts toward the gate the ledger's tally judges (`tally.Contribution`).
`evidence_customers`: one record per customer of an idea under that gate
(`tally.Customer`). The ledger entry holds the `tally.IdeaTally`.

A record's `_id` is its path (`evidence_documents.py`), so all records of an idea are
one range of the `_id` index. The other indexes serve the tally's rare look-ups, and
most records are in none but the chain index:

- `chain` (the organizations whose directory entries decide its customer): which ideas a
  directory change touches, and an organization's ideas (scorecards);
- heaviest members of a customer with affiliates (records whose chain is longer than
  the organization itself, the only ones that can share a customer);
- counted endorsements by date, only under a policy with a maximum age (freshness);
- every endorsing organization in a report's order (the heaviest first).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, DeleteOne, IndexModel, ReplaceOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from quorum_common.mongo import Document
from quorum_validation.criteria import Dominant
from quorum_validation.evidence_documents import (
    Record,
    customer_document,
    customer_key,
    customer_of,
    record_document,
    record_key,
    record_of,
    report_weights,
    tally_document,
    tally_of,
    under,
)
from quorum_validation.messages import LISTED
from quorum_validation.tally import Customer, Member

__all__ = [
    "CUSTOMERS",
    "EVIDENCE",
    "INDEXES",
    "EvidenceStore",
    "Record",
    "customer_document",
    "customer_key",
    "record_document",
    "record_key",
    "report_weights",
    "tally_document",
    "tally_of",
    "under",
]

EVIDENCE = "evidence"
CUSTOMERS = "evidence_customers"
_READ_BATCH = 1000
# Records a rebuild counts, and old customers it deletes, per transaction: a popular
# idea's whole evidence is more than one transaction should write.
CHUNK = 1000


def _of_a_generation(keys: list[tuple[str, int]], **options: Any) -> IndexModel:
    """An index within one generation of an idea's records or customers: the prefix every
    read of an idea's evidence narrows to first."""
    return IndexModel(
        [("tenant_id", ASCENDING), ("idea_id", ASCENDING), ("generation", ASCENDING), *keys],
        **options,
    )


INDEXES = {
    EVIDENCE: [
        IndexModel(
            [("tenant_id", ASCENDING), ("chain", ASCENDING), ("idea_id", ASCENDING)],
            name="by_chain",
        ),
        _of_a_generation(
            [("customer_id", ASCENDING), ("weight", DESCENDING), ("organization_id", ASCENDING)],
            name="affiliates_heaviest_first",
            partialFilterExpression={"affiliate": True, "eligible": True},
        ),
        _of_a_generation(
            [("endorsed_at", ASCENDING)],
            name="counted_by_age",
            partialFilterExpression={"dated": True, "eligible": True},
        ),
        _of_a_generation(
            [("rank", ASCENDING), ("weight", DESCENDING), ("organization_id", ASCENDING)],
            # Also finds the records a rebuild has still to count (older generations).
            name="report_order",
            partialFilterExpression={"live": True},
        ),
    ],
    CUSTOMERS: [
        _of_a_generation(
            [("weight", DESCENDING), ("customer_id", ASCENDING)], name="heaviest_first"
        )
    ],
}


# --------------------------------------------------------------------------- the store


class EvidenceStore:
    def __init__(self, database: AsyncDatabase[Document], chunk: int = CHUNK) -> None:
        self._records = database[EVIDENCE]
        self._customers = database[CUSTOMERS]
        self._chunk = chunk

    async def records(self, session: AsyncClientSession, keys: Sequence[str]) -> dict[str, Record]:
        """The records with these keys (one command), by key."""
        if not keys:
            return {}
        # One reply: a first batch holds 101 documents unless told otherwise.
        cursor = self._records.find(
            {"_id": {"$in": list(keys)}}, session=session, batch_size=len(keys) + 1
        )
        return {doc["_id"]: record_of(doc) async for doc in cursor}

    async def idea_records(
        self, session: AsyncClientSession | None, tenant_id: str, idea_id: str
    ) -> list[Record]:
        """Every organization endorsing the idea (O(N): rebuilds, reports, advances)."""
        return await self._every({"_id": under(tenant_id, idea_id), "live": True}, session)

    async def endorsing(
        self,
        tenant_id: str,
        idea_id: str,
        organization_ids: Iterable[str],
        session: AsyncClientSession | None = None,
    ) -> set[str]:
        """Which of these organizations endorse the idea."""
        keys = [record_key(tenant_id, idea_id, oid) for oid in organization_ids]
        cursor = self._records.find(
            {"_id": {"$in": keys}, "live": True},
            projection={"organization_id": 1},
            session=session,
        )
        return {doc["organization_id"] async for doc in cursor}

    async def customers(
        self, session: AsyncClientSession, keys: Sequence[str]
    ) -> dict[str, tuple[int, Customer]]:
        """The customers with these keys, by key, with the generation each counts for."""
        if not keys:
            return {}
        cursor = self._customers.find(
            {"_id": {"$in": list(keys)}}, session=session, batch_size=len(keys) + 1
        )
        return {doc["_id"]: (doc.get("generation", 0), customer_of(doc)) async for doc in cursor}

    async def write_records(
        self, session: AsyncClientSession | None, docs: Sequence[Document]
    ) -> None:
        if docs:
            await self._records.bulk_write(
                [ReplaceOne({"_id": d["_id"]}, d, upsert=True) for d in docs],
                ordered=False,
                session=session,
            )

    async def write_customers(
        self, session: AsyncClientSession, writes: Sequence[tuple[str, Document | None]]
    ) -> None:
        """Replace each customer's record, or delete it (None)."""
        if writes:
            await self._customers.bulk_write(
                [
                    ReplaceOne({"_id": key}, doc, upsert=True)
                    if doc is not None
                    else DeleteOne({"_id": key})
                    for key, doc in writes
                ],
                ordered=False,
                session=session,
            )

    async def drop_customers(
        self, session: AsyncClientSession, tenant_id: str, idea_id: str, generation: int
    ) -> bool:
        """Delete up to a chunk of the idea's customers of generations before this one.

        True if that was the last of them. Chunked: a popular idea has tens of thousands,
        more than one transaction should write.
        """
        cursor = self._customers.find(
            {"tenant_id": tenant_id, "idea_id": idea_id, "generation": {"$lt": generation}},
            projection={"_id": 1},
            limit=self._chunk + 1,
            session=session,
        )
        keys = [doc["_id"] async for doc in cursor]
        if keys:
            chunk = keys[: self._chunk]
            await self._customers.delete_many({"_id": {"$in": chunk}}, session=session)
        return len(keys) <= self._chunk

    async def uncounted(
        self,
        session: AsyncClientSession,
        tenant_id: str,
        idea_id: str,
        generation: int,
        skip: Iterable[str],
    ) -> tuple[list[Record], bool]:
        """Up to a chunk of endorsing records a rebuild has not counted yet; True if all."""
        cursor = self._records.find(
            {
                "tenant_id": tenant_id,
                "idea_id": idea_id,
                "live": True,
                "generation": {"$lt": generation},
                "_id": {"$nin": list(skip)},
            },
            limit=self._chunk + 1,
            session=session,
            batch_size=self._chunk + 1,
        )
        found = [record_of(doc) async for doc in cursor]
        return found[: self._chunk], len(found) <= self._chunk

    # --- the tally's look-ups (after the batch's own writes, which they see) -------

    async def stale(
        self,
        session: AsyncClientSession,
        tenant_id: str,
        idea_id: str,
        generation: int,
        cutoff: datetime,
        skip: Iterable[str],
    ) -> list[Record]:
        """Counted records endorsed before `cutoff`, but those in `skip` (keys)."""
        cursor = self._records.find(
            {
                "tenant_id": tenant_id,
                "idea_id": idea_id,
                "generation": generation,
                "dated": True,
                "eligible": True,
                "endorsed_at": {"$lt": cutoff},
                "_id": {"$nin": list(skip)},
            },
            session=session,
        )
        return [record_of(doc) async for doc in cursor]

    async def oldest(
        self, session: AsyncClientSession, tenant_id: str, idea_id: str, generation: int
    ) -> datetime | None:
        """When the oldest counted endorsement was made."""
        doc = await self._records.find_one(
            {
                "tenant_id": tenant_id,
                "idea_id": idea_id,
                "generation": generation,
                "dated": True,
                "eligible": True,
            },
            projection={"endorsed_at": 1},
            sort=[("endorsed_at", ASCENDING)],
            session=session,
        )
        return doc["endorsed_at"] if doc else None

    async def heaviest(
        self,
        session: AsyncClientSession,
        tenant_id: str,
        idea_id: str,
        generation: int,
        customer_id: str,
    ) -> Member:
        """The heaviest member of a customer with members."""
        found = []
        doc = await self._records.find_one(
            {
                "tenant_id": tenant_id,
                "idea_id": idea_id,
                "generation": generation,
                "customer_id": customer_id,
                "affiliate": True,
                "eligible": True,
            },
            sort=[("weight", DESCENDING), ("organization_id", ASCENDING)],
            session=session,
        )
        if doc is not None:
            found.append(record_of(doc))
        # The head of the tree itself, when it endorses, is not an affiliate.
        head = await self._records.find_one(
            {"_id": record_key(tenant_id, idea_id, customer_id)}, session=session
        )
        if (
            head is not None
            and head["eligible"]
            and head["customer_id"] == customer_id
            and head.get("generation", 0) == generation
        ):
            found.append(record_of(head))
        members = [m for m in (r.member for r in found) if m is not None]
        assert members, f"customer {customer_id} of idea {idea_id} has no member"
        return min(members, key=lambda m: (-m.weight, m.organization_id))

    async def top(
        self, session: AsyncClientSession, tenant_id: str, idea_id: str, generation: int
    ) -> Dominant:
        """The heaviest customer of an idea with customers, the smallest id among equals."""
        doc = await self._customers.find_one(
            {"tenant_id": tenant_id, "idea_id": idea_id, "generation": generation},
            sort=[("weight", DESCENDING), ("customer_id", ASCENDING)],
            session=session,
        )
        assert doc is not None, f"idea {idea_id} has no customer"
        heaviest = doc["heaviest"]
        return Dominant(
            doc["customer_id"], doc["weight"], heaviest["name"], heaviest["organization_id"]
        )

    async def listed(
        self, session: AsyncClientSession | None, tenant_id: str, idea_id: str, generation: int
    ) -> list[Record]:
        """The organizations a report lists: eligible first, heaviest first, then by id."""
        cursor = self._records.find(
            {"tenant_id": tenant_id, "idea_id": idea_id, "generation": generation, "live": True},
            sort=[("rank", ASCENDING), ("weight", DESCENDING), ("organization_id", ASCENDING)],
            limit=LISTED,
            session=session,
        )
        return [record_of(doc) async for doc in cursor]

    async def listed_many(
        self, session: AsyncClientSession | None, ideas: Sequence[tuple[str, str, int]]
    ) -> dict[str, list[Record]]:
        """`listed` for several ideas of at most LISTED records each, in one query."""
        if not ideas:
            return {}
        cursor = self._records.find(
            {
                "$or": [
                    {"tenant_id": t, "idea_id": i, "generation": g, "live": True}
                    for t, i, g in ideas
                ]
            },
            session=session,
        )
        found: dict[str, list[tuple[tuple[Any, ...], Record]]] = {}
        async for doc in cursor:
            order = (doc["rank"], -doc["weight"], doc["organization_id"])
            found.setdefault(doc["idea_id"], []).append((order, record_of(doc)))
        return {
            idea_id: [record for _, record in sorted(rows, key=lambda row: row[0])][:LISTED]
            for idea_id, rows in found.items()
        }

    # --- outside the tally ----------------------------------------------------------

    async def ideas_touching(self, tenant_id: str, organization_ids: Sequence[str]) -> set[str]:
        """Ideas whose evidence depends on these organizations' directory entries."""
        found = await self._records.distinct(
            "idea_id", {"tenant_id": tenant_id, "chain": {"$in": list(organization_ids)}}
        )
        return set(found)

    async def _every(self, query: Document, session: AsyncClientSession | None) -> list[Record]:
        """Every record `query` finds, read in large batches (it may be most of an idea's)."""
        cursor = self._records.find(query, session=session, batch_size=_READ_BATCH)
        return [record_of(doc) async for doc in cursor]

    async def records_touching(
        self,
        session: AsyncClientSession,
        tenant_id: str,
        idea_id: str,
        organization_ids: Sequence[str],
    ) -> list[Record]:
        """The idea's endorsing records whose customer depends on these organizations."""
        return await self._every(
            {
                "tenant_id": tenant_id,
                "chain": {"$in": list(organization_ids)},
                "idea_id": idea_id,
                "live": True,
            },
            session,
        )

    async def is_customer(
        self,
        session: AsyncClientSession,
        tenant_id: str,
        idea_id: str,
        generation: int,
        customer_id: str,
    ) -> bool:
        found = await self._customers.find_one(
            {"_id": customer_key(tenant_id, idea_id, customer_id), "generation": generation},
            projection={"_id": 1},
            session=session,
        )
        return found is not None

    async def ideas_endorsed_by(self, tenant_id: str, organization_id: str) -> list[str]:
        cursor = self._records.find(
            {
                "tenant_id": tenant_id,
                "chain": organization_id,
                "organization_id": organization_id,
                "live": True,
            },
            projection={"idea_id": 1},
        )
        return [doc["idea_id"] async for doc in cursor]

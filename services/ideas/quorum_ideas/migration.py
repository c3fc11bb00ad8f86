"""Upgrade in place: ideas that still carry their endorsements in one array.

Before endorsements became records of their own, an idea document held every member's
endorsement in an `endorsements` array, rewritten whole on each change. At start the
service moves each such idea's endorsements into `endorsements` and
`organization_endorsements` records, sets its counts and only then removes the array:

- idempotent: the records are written with upserts keyed by their path, so running it
  again (or two replicas running it at once) writes the same records;
- resumable: an idea keeps its array until its records are all written, so a crash
  midway leaves it to be migrated again at the next start;
- nothing lost or counted twice: the final update applies only if the idea is still at
  the version that was read, otherwise the idea is read and migrated again.

No event is published: the validation service upgrades its own copy of the evidence.
"""

from __future__ import annotations

import logging
from typing import Any

from pymongo import ReplaceOne
from pymongo.asynchronous.database import AsyncDatabase

from quorum_common.mongo import Document
from quorum_ideas.documents import (
    ENDORSEMENTS,
    IDEAS,
    ORGANIZATION_ENDORSEMENTS,
    endorsement_document,
    endorsement_of,
    idea_prefix,
    organization_document,
    under,
)
from quorum_ideas.domain import OrganizationBacking

log = logging.getLogger(__name__)

_WRITE_BATCH = 1000


async def migrate_embedded_endorsements(database: AsyncDatabase[Document]) -> int:
    """Migrate every idea that still has an `endorsements` array; how many were."""
    ideas = database[IDEAS]
    migrated = 0
    pending = ideas.find({"endorsements": {"$exists": True}}, projection={"_id": 1})
    async for found in pending:
        while True:
            doc = await ideas.find_one({"_id": found["_id"]})
            if doc is None or "endorsements" not in doc:
                break
            if await _migrate(database, doc):
                migrated += 1
                break
    if migrated:
        log.info("moved the endorsements of %d ideas into records of their own", migrated)
    return migrated


async def _migrate(database: AsyncDatabase[Document], doc: Document) -> bool:
    """Write the idea's records, then drop its array; False if it changed meanwhile."""
    tenant_id, idea_id = doc["tenant_id"], doc["_id"]
    grouped: dict[str, list[Any]] = {}
    for raw in doc["endorsements"]:
        endorsement = endorsement_of(raw)
        grouped.setdefault(endorsement.member.organization_id, []).append(endorsement)
    members = [endorsement_document(tenant_id, idea_id, e) for es in grouped.values() for e in es]
    organizations = []
    for organization_id, endorsements in grouped.items():
        backing = OrganizationBacking(organization_id, tuple(endorsements))
        counted = backing.counted()
        assert counted is not None
        organizations.append(organization_document(tenant_id, idea_id, counted, backing.summed))
    prefix = idea_prefix(tenant_id, idea_id)
    for collection, docs in (
        (database[ENDORSEMENTS], members),
        (database[ORGANIZATION_ENDORSEMENTS], organizations),
    ):
        # Records of an earlier attempt that the array no longer has (a withdrawal by a
        # replica of the old version in between) go; the rest is written again.
        keep = [d["_id"] for d in docs]
        await collection.delete_many({"_id": {**under(prefix), "$nin": keep}})
        for start in range(0, len(docs), _WRITE_BATCH):
            chunk = docs[start : start + _WRITE_BATCH]
            await collection.bulk_write(
                [ReplaceOne({"_id": d["_id"]}, d, upsert=True) for d in chunk], ordered=False
            )
    done = await database[IDEAS].update_one(
        {"_id": idea_id, "version": doc["version"], "endorsements": {"$exists": True}},
        {
            "$set": {
                "organization_count": len(organizations),
                "endorsement_count": len(members),
            },
            "$unset": {"endorsements": ""},
        },
    )
    return done.matched_count == 1

"""Upgrade in place: ledger entries that still embed every organization's endorsement.

Before evidence became records of its own, a ledger entry held an `endorsements` array
(one counted endorsement per organization) and the idea version of the last event it
applied. At start, each such entry is moved into evidence records, and then, in one
transaction, loses its array and starts its tally (a popular idea's tally is finished
by the re-evaluator, a chunk per transaction):

- nothing lost or counted twice: the records are written before the array goes, and
  the entry keeps the old idea version as a floor, so an event it had applied (or an
  older one) is not applied again;
- idempotent and resumable: only entries that still have the array are migrated, and
  its records are upserted by key, so a crash midway leaves the entry to be migrated
  again at the next start; records of an earlier attempt the array no longer has (an
  old replica writing in between) are removed, and the array goes only if the entry
  is still at the version that was read (otherwise it is read and migrated again).

No event is published: the stored verdict is kept, and the gate is judged as usual.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from quorum_common.mongo import Document
from quorum_common.unit_of_work import Unit, commit
from quorum_validation.evidence import (
    CHUNK,
    EVIDENCE,
    EvidenceStore,
    Record,
    record_document,
    under,
)
from quorum_validation.judging import Judging, Work
from quorum_validation.ledger import LEDGER, entry_document, entry_of
from quorum_validation.lifecycle import next_stage_of
from quorum_validation.messages import endorsement_from
from quorum_validation.policies import PolicyStore
from quorum_validation.usecases import moment

log = logging.getLogger(__name__)


async def migrate_embedded_evidence(
    client: AsyncMongoClient[Document],
    database: AsyncDatabase[Document],
    evidence: EvidenceStore,
    policies: PolicyStore,
    judging: Judging,
    clock: Callable[[], datetime] = moment,
) -> int:
    """Migrate every entry that still has an `endorsements` array; how many were."""
    ledger = database[LEDGER]
    migrated = 0
    pending = ledger.find({"endorsements": {"$exists": True}}, projection={"_id": 1})
    async for found in pending:
        while True:
            doc = await ledger.find_one({"_id": found["_id"], "endorsements": {"$exists": True}})
            if doc is None:
                break  # migrated meanwhile
            await _write_records(database, evidence, doc)

            async def work(unit: Unit, doc: Document = doc) -> bool:
                return await _upgrade(unit, database, policies, judging, doc, clock())

            if await commit(client, None, work):
                migrated += 1
                break
    if migrated:
        log.info("moved the evidence of %d ledger entries into records of their own", migrated)
    return migrated


def _records(doc: Document) -> list[Record]:
    floor = doc.get("idea_version", 0)
    return [
        Record(e["organization_id"], floor, endorsement_from(e), e.get("member_count", 1))
        for e in doc["endorsements"]
    ]


async def _write_records(
    database: AsyncDatabase[Document], evidence: EvidenceStore, doc: Document
) -> None:
    """The entry's evidence as records, a chunk per command (idempotent)."""
    tenant_id, idea_id = doc["tenant_id"], doc["_id"]
    records = _records(doc)
    await database[EVIDENCE].delete_many(
        {
            "_id": under(tenant_id, idea_id),
            "organization_id": {"$nin": [r.organization_id for r in records]},
        }
    )
    docs = [record_document(tenant_id, idea_id, r) for r in records]
    for start in range(0, len(docs), CHUNK):
        await evidence.write_records(None, docs[start : start + CHUNK])


async def _upgrade(
    unit: Unit,
    database: AsyncDatabase[Document],
    policies: PolicyStore,
    judging: Judging,
    read: Document,
    at: datetime,
) -> bool:
    """Drop the array of an entry whose records are written; False if it changed since."""
    session = unit.session
    doc = await database[LEDGER].find_one(
        {"_id": read["_id"], "version": read["version"], "endorsements": {"$exists": True}},
        session=session,
    )
    if doc is None or doc["endorsements"] != read["endorsements"]:
        return False  # changed by an old replica since its records were written
    pipeline = await policies.pipeline(doc["tenant_id"], session)
    old = entry_of(doc)
    entry = replace(
        old,
        next_stage=next_stage_of(pipeline, old.stage, old.status),
        organization_count=len(doc["endorsements"]),
        version_floor=doc.get("idea_version", 0),
        tally=None,
    )
    work = Work(entry, old.version, pipeline)
    await judging.settle(session, [work], at)  # starts the tally from the records
    upgraded = entry_document(replace(work.entry, gate=old.gate))
    await database[LEDGER].replace_one({"_id": doc["_id"]}, upgraded, session=session)
    return True


async def migrate_idea_versions(database: AsyncDatabase[Document]) -> int:
    """Give entries from before `idea_version` the version they have folded; how many.

    That is the newest idea version among the idea's evidence records (each took the
    version of the event that wrote it), or the entry's floor. Only entries without the
    field are touched, so a consumer that saved the entry meanwhile wins.
    """
    ledger, records = database[LEDGER], database[EVIDENCE]
    migrated = 0
    async for doc in ledger.find({"idea_version": {"$exists": False}}):
        cursor = await records.aggregate(
            [
                {"$match": {"_id": under(doc["tenant_id"], doc["_id"])}},
                {"$group": {"_id": None, "version": {"$max": "$version"}}},
            ]
        )
        newest = await cursor.to_list()
        version = max([doc.get("version_floor", 0), *(n["version"] for n in newest)])
        done = await ledger.update_one(
            {"_id": doc["_id"], "idea_version": {"$exists": False}},
            {"$set": {"idea_version": version}},
        )
        migrated += done.modified_count
    if migrated:
        log.info("gave %d ledger entries the idea version they have folded", migrated)
    return migrated

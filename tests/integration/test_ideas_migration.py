"""Upgrade in place: ideas stored with their endorsements in one array become records.

A database written by the previous layout is migrated at start, idempotently (again and
again, same records) and resumably (a start that died midway is finished by the next),
and the upgraded ideas answer and change exactly as if they had been written anew.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import Isolation
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from quorum_common.outbox import Outbox
from quorum_ideas import domain, requests
from quorum_ideas.documents import ENDORSEMENTS, IDEAS, ORGANIZATION_ENDORSEMENTS
from quorum_ideas.listing import EndorsementsRequest
from quorum_ideas.migration import migrate_embedded_endorsements
from quorum_ideas.store import IdeaStore
from support.servers import Servers

pytestmark = pytest.mark.integration

TENANT = "tenant-upgrade"
T0 = datetime(2025, 11, 3, 8, 0, tzinfo=UTC)


@pytest.fixture
async def database(infra: Servers, isolation: Isolation) -> AsyncIterator[AsyncDatabase[Any]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongodb_uri, tz_aware=True)
    try:
        yield client[isolation.database("ideas")]
    finally:
        await client.close()


def old_endorsement(org: str, who: str, importance: int, minutes: int, *commitments: int) -> Any:
    return {
        "member": {"organization_id": org, "member_id": who, "job_function": 0},
        "importance": importance,
        "impact": f"{who} needs it",
        "commitments": list(commitments),
        "endorsed_at": T0 + timedelta(minutes=minutes),
    }


def old_idea(idea_id: str, endorsements: list[Any], version: int) -> dict[str, Any]:
    """An idea document exactly as the previous layout stored it."""
    return {
        "_id": idea_id,
        "tenant_id": TENANT,
        "title": "Bulk import of customers",
        "problem": "Onboarding a reseller takes a week of typing.",
        "product_area": "directory",
        "tags": ["import"],
        "source_channel": 1,
        "submitted_by": {"organization_id": "acme", "member_id": "ana", "job_function": 0},
        "created_at": T0,
        "updated_at": T0 + timedelta(minutes=30),
        "status": 1,
        "stage": "IDEATION",
        "merged_into": "",
        "version": version,
        "endorsements": endorsements,
    }


async def test_embedded_endorsements_become_records_once_and_the_idea_lives_on(
    infra: Servers, isolation: Isolation, database: AsyncDatabase[Any]
) -> None:
    idea_id = str(uuid.uuid4())
    endorsements = [
        old_endorsement("acme", "ana", 1, 0),
        old_endorsement("acme", "bo", 3, 5, 1),
        old_endorsement("globex", "gil", 2, 9, 3),
    ]
    await database[IDEAS].insert_one(old_idea(idea_id, endorsements, version=3))
    untouched = str(uuid.uuid4())
    await database[IDEAS].insert_one(old_idea(untouched, [old_endorsement("acme", "ana", 2, 0)], 1))
    # A start that died midway left a record of an endorsement since withdrawn.
    await database[ENDORSEMENTS].insert_one(
        {"_id": f"{TENANT}/{idea_id}/initech/ian", "tenant_id": TENANT, "idea_id": idea_id}
    )

    assert await migrate_embedded_endorsements(database) == 2
    # Idempotent: nothing left to do, nothing changed.
    records = sorted([d async for d in database[ENDORSEMENTS].find({})], key=lambda d: d["_id"])
    assert await migrate_embedded_endorsements(database) == 0
    assert sorted([d async for d in database[ENDORSEMENTS].find({})], key=lambda d: d["_id"]) == (
        records
    )

    doc = await database[IDEAS].find_one({"_id": idea_id})
    assert doc is not None
    assert "endorsements" not in doc
    assert (doc["organization_count"], doc["endorsement_count"], doc["version"]) == (2, 3, 3)
    assert {r["_id"] for r in records if r["idea_id"] == idea_id} == {
        f"{TENANT}/{idea_id}/acme/ana",
        f"{TENANT}/{idea_id}/acme/bo",
        f"{TENANT}/{idea_id}/globex/gil",
    }
    organizations = [
        d async for d in database[ORGANIZATION_ENDORSEMENTS].find({"idea_id": idea_id})
    ]
    counted = {d["organization_id"]: d for d in organizations}
    assert (counted["acme"]["importance"], counted["acme"]["member_count"]) == (3, 2)
    assert counted["acme"]["endorsed_at"] == T0 + timedelta(minutes=5)
    assert counted["acme"]["commitments"] == [1]

    # The upgraded idea answers and changes like any other.
    topic = f"{isolation.topic_prefix}quorum.ideas.v1"
    store = IdeaStore(database.client, database, Outbox(database, topic))
    await store.prepare()
    page, after, total = await store.endorsements(EndorsementsRequest(TENANT, idea_id, 50, ""))
    assert ([e.organization_id for e in page], after, total) == (["acme", "globex"], "", 2)
    withdrew = await store.withdraw(
        requests.check_withdraw(
            tenant_id=TENANT,
            idea_id=idea_id,
            member=domain.Member("acme", "bo"),
            expected_version=3,
        )
    )
    assert withdrew.counted is not None
    assert (withdrew.counted.importance, withdrew.counted.member_count) == (1, 1)
    assert (withdrew.idea.version, withdrew.idea.endorsement_count) == (4, 2)

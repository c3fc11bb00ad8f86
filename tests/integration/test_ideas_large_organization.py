"""An organization with many endorsing members: an endorsement reads none of the others.

What an organization counts as (its members' highest importance, every commitment,
the latest time, how many) is kept in totals on its record, so an endorsement reads
its own member's record and that one record, however many colleagues endorsed before.
MongoDB's profiler shows what each group of the ideas service read; the test counts
documents, never times.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from quorum.domain.v1 import domain_pb2
from quorum.ideas.v1 import ideas_pb2
from support.ideas_service import Running, backing, endorse_idea, submit

pytestmark = pytest.mark.integration

COLLEAGUES = 300


async def documents_read(ideas: Running, collection: str) -> list[int]:
    """Documents returned by each query of `collection` since profiling began."""
    entries = ideas.database["system.profile"].find(
        {"ns": f"{ideas.database.name}.{collection}", "op": "query"}
    )
    return [entry.get("nreturned", 0) async for entry in entries]


async def test_an_endorsement_reads_no_other_members_records(ideas: Running, tenant: str) -> None:
    idea = await submit(ideas, tenant, by=("globex", "gina"))
    gate = asyncio.Semaphore(16)

    async def colleague(number: int) -> None:
        async with gate:
            await endorse_idea(ideas, idea, "acme", f"member-{number}")

    await asyncio.gather(*(colleague(n) for n in range(COLLEAGUES)))
    await ideas.database.command("profile", 2)
    try:
        answer = await endorse_idea(
            ideas,
            idea,
            "acme",
            "newcomer",
            importance=domain_pb2.IMPORTANCE_CRITICAL,
            commitments=[domain_pb2.COMMITMENT_PREORDER],
        )
        read = await documents_read(ideas, "endorsements")
    finally:
        await ideas.database.command("profile", 0)
    assert answer.changed
    # At most the newcomer's own record (it has none yet), never its colleagues'.
    assert read, "the profiler saw no query of the endorsements"
    assert max(read) == 0, read
    counted = answer.organization_endorsement
    assert counted.member_count == COLLEAGUES + 1
    assert counted.importance == domain_pb2.IMPORTANCE_CRITICAL
    assert list(counted.commitments) == [domain_pb2.COMMITMENT_PREORDER]
    assert answer.idea.endorsement_count == COLLEAGUES + 2  # and the submitter


async def test_withdrawing_the_latest_reads_them_all_and_counts_as_before(
    ideas: Running, tenant: str
) -> None:
    idea = await submit(ideas, tenant, by=("globex", "gina"))
    for number in range(3):
        await endorse_idea(ideas, idea, "acme", f"member-{number}")
    before: dict[str, Any] = {
        e.organization_id: e for e in await backing(ideas, idea) if e.organization_id == "acme"
    }
    await endorse_idea(ideas, idea, "acme", "late", importance=domain_pb2.IMPORTANCE_CRITICAL)
    await ideas.stub.WithdrawEndorsement(
        ideas_pb2.WithdrawEndorsementRequest(
            tenant_id=idea.tenant_id,
            idea_id=idea.id,
            member=domain_pb2.MemberRef(organization_id="acme", member_id="late"),
        )
    )
    after = {e.organization_id: e for e in await backing(ideas, idea)}
    # Back to what the three colleagues made it: importance, time and count.
    assert after["acme"] == before["acme"]


async def test_a_record_kept_before_totals_is_read_whole_once_and_gets_them(
    ideas: Running, tenant: str
) -> None:
    """Upgrading in place: organization records written by an earlier version have no
    totals; the first change reads that organization's members and writes them."""
    idea = await submit(ideas, tenant, by=("globex", "gina"))
    for number in range(3):
        await endorse_idea(ideas, idea, "acme", f"member-{number}")
    records = ideas.database["organization_endorsements"]
    earlier = await records.update_many({"idea_id": idea.id}, {"$unset": {"totals": ""}})
    assert earlier.modified_count == 2  # globex and acme
    answer = await endorse_idea(
        ideas, idea, "acme", "member-3", importance=domain_pb2.IMPORTANCE_CRITICAL
    )
    assert answer.organization_endorsement.member_count == 4
    assert answer.organization_endorsement.importance == domain_pb2.IMPORTANCE_CRITICAL
    acme = await records.find_one({"idea_id": idea.id, "organization_id": "acme"})
    assert acme is not None
    assert acme["totals"]["importance"] == {"2": 3, "3": 1}

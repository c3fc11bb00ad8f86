"""What the running services put on Kafka is what the AsyncAPI document says.

A scenario through the public API makes the services publish ideas, endorsements, a
withdrawal, a merge, stage entries, a refused advance and a decline; every record on
the three topics must then be a message of its topic's channel, with the headers, key
and payload (in proto3 JSON) the document gives it.
"""

from __future__ import annotations

import asyncio
import contextlib

from quorum.domain.v1 import domain_pb2
from quorum_client import Client, QuorumError
from quorum_common.events import Topics
from quorum_devtools import platform
from support import asyncapi
from support.kafka import Collector

EXPECTED = {
    "IdeaSubmitted",
    "IdeaEndorsed",
    "EndorsementWithdrawn",
    "IdeasMerged",
    "StageAdvanced",
    "StageAdvanceRejected",
    "IdeaDeclined",
}


def _scenario(address: str, key: str) -> None:
    with Client(address, key, timeout=10) as quorum:
        for org, segment in (("megacorp", "manufacturing"), ("bakery", "retail")):
            quorum.upsert_organization(
                domain_pb2.Organization(
                    organization_id=org,
                    name=org.title(),
                    segment=segment,
                    relationship=domain_pb2.RELATIONSHIP_ACTIVE,
                )
            )
        ana = domain_pb2.MemberRef(organization_id="megacorp", member_id="ana")
        bo = domain_pb2.MemberRef(organization_id="bakery", member_id="bo")
        first = quorum.submit_idea(
            "Export gate reports to CSV",
            "Spreadsheets.",
            product_area="reporting",
            submitted_by=ana,
        ).idea
        second = quorum.submit_idea(
            "CSV export of gates",
            "The same, told again.",
            product_area="reporting",
            submitted_by=bo,
        ).idea
        quorum.endorse_idea(first.id, member=bo, importance=domain_pb2.IMPORTANCE_CRITICAL)
        quorum.withdraw_endorsement(first.id, member=bo)
        quorum.merge_ideas(second.id, first.id)
        # Refused (the gate does not hold), which is told as StageAdvanceRejected.
        with contextlib.suppress(QuorumError):
            quorum.advance_stage(first.id, "DISCOVERY")
        quorum.decline_idea(first.id, "Not this year: the roadmap is full.")


async def test_every_record_is_what_the_document_says(
    running: platform.Platform, admin_key: str
) -> None:
    document = asyncapi.load()
    topics = Topics(running.topic_prefix)
    async with Collector(
        running.kafka_bootstrap_servers, topics.ideas, topics.validation, topics.notifications
    ) as seen:
        await asyncio.to_thread(_scenario, running.address("gateway"), admin_key)

        def kinds() -> set[str]:
            return {dict(r.headers).get("quorum-event-type", b"").decode() for r in seen.records}

        await seen.wait_for(lambda: kinds() >= EXPECTED, f"every kind of {sorted(EXPECTED)}")
        problems = [
            problem
            for record in list(seen.records)
            for problem in asyncapi.record_violations(document, running.topic_prefix, record)
        ]
    assert not problems, problems

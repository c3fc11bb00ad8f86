"""Two gateway replicas: a write through one is read through the other, however cached.

Each replica consumes only some partitions of the topics, so the events about an idea
reach one replica's consumer; every replica's idea cache must still forget that idea
(through the event log's change stream), or a client of the other replica reads the
idea as it was for as long as the cache keeps it (here: ten minutes).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from conftest import Isolation

from quorum.domain.v1 import domain_pb2
from quorum.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from support.auth import bootstrap_tenant, channel
from support.newcomer import submission
from support.platforms import own_platform
from support.servers import Servers
from support.waiting import until

pytestmark = pytest.mark.e2e
IDEAS = 8  # spread over the partitions, so some are consumed by each replica


async def test_every_replica_forgets_an_idea_written_through_another(
    infra: Servers, isolation: Isolation, tmp_path: Path
) -> None:
    with own_platform(
        infra,
        isolation.topic_prefix,
        isolation.database_prefix,
        tmp_path,
        {"GATEWAY_IDEA_CACHE_SECONDS": "600"},
        replicas=2,
    ) as (running, _):
        key = await asyncio.to_thread(bootstrap_tenant, running.env(), "acme-software")
        async with (
            channel(running.address("gateway"), key) as first,
            channel(running.address("gateway-2"), key) as second,
        ):
            reader = gateway_pb2_grpc.IdeasServiceStub(first)
            writer = gateway_pb2_grpc.IdeasServiceStub(second)
            ideas = [
                (
                    await writer.SubmitIdea(
                        submission(f"Export gate reports, part {n}", by=("acme", "ana"))
                    )
                ).idea.id
                for n in range(IDEAS)
            ]
            for idea_id in ideas:  # cached by the first replica as they are now
                await reader.GetIdea(gateway_pb2.GetIdeaRequest(idea_id=idea_id))
            for idea_id in ideas:
                await writer.EndorseIdea(
                    gateway_pb2.EndorseIdeaRequest(
                        idea_id=idea_id,
                        member=domain_pb2.MemberRef(organization_id="globex", member_id="gil"),
                        importance=domain_pb2.IMPORTANCE_IMPORTANT,
                    )
                )
            behind = set(ideas)

            async def all_read_anew() -> bool:
                for idea_id in sorted(behind):
                    idea = (await reader.GetIdea(gateway_pb2.GetIdeaRequest(idea_id=idea_id))).idea
                    if idea.organization_count == 2:
                        behind.discard(idea_id)
                return not behind

            await until(all_read_anew, "every idea read anew through the other replica")

"""MergeIdeas as the ideas tests call it: a product manager merging one idea into another."""

from __future__ import annotations

from typing import Any

from quorum.domain.v1 import domain_pb2
from quorum.ideas.v1 import ideas_pb2
from support.ideas_service import Running


async def merge(
    running: Running,
    tenant: str,
    source: str,
    target: str,
    *,
    principal_id: str = "pm-1",
    **fields: Any,
) -> ideas_pb2.MergeIdeasResponse:
    """`source` merged into `target` by `principal_id`; `fields`: the request's others."""
    return await running.stub.MergeIdeas(
        ideas_pb2.MergeIdeasRequest(
            tenant_id=tenant,
            source_idea_id=source,
            target_idea_id=target,
            actor=domain_pb2.Actor(principal_id=principal_id),
            **fields,
        )
    )

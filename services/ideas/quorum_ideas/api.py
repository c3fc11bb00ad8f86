"""The ideas service's internal gRPC API (only the gateway calls it)."""

from __future__ import annotations

import uuid
from typing import Any

import grpc

from quorum.domain.v1 import domain_pb2
from quorum.ideas.v1 import ideas_pb2, ideas_pb2_grpc
from quorum_common.errors import Violations
from quorum_common.events import now
from quorum_ideas import domain
from quorum_ideas.messages import idea_message, idea_submitted, member_from
from quorum_ideas.store import IdeaStore

Context = grpc.aio.ServicerContext[Any, Any]
KNOWN_CHANNELS = {
    int(value)
    for value in domain_pb2.SourceChannel.values()
    if value != domain_pb2.SOURCE_CHANNEL_UNSPECIFIED
}
SIMILAR_LIMIT = 5
SIMILAR_THRESHOLD = 0.3
SIMILAR_SCAN = 500


def _require_ids(tenant_id: str, idea_id: str | None = None) -> None:
    violations = Violations()
    if not tenant_id:
        violations.add("tenant_id", "is required")
    if idea_id is not None:
        if not idea_id:
            violations.add("idea_id", "is required")
        else:
            try:
                uuid.UUID(idea_id)
            except ValueError:
                violations.add("idea_id", "must be a UUID")
    violations.raise_if_any()


class IdeasApi(ideas_pb2_grpc.IdeasServiceServicer):
    def __init__(self, store: IdeaStore) -> None:
        self._store = store

    async def SubmitIdea(
        self, request: ideas_pb2.SubmitIdeaRequest, context: Context
    ) -> ideas_pb2.SubmitIdeaResponse:
        _require_ids(request.tenant_id)
        submission = domain.check_submission(
            title=request.title,
            problem=request.problem,
            product_area=request.product_area,
            tags=list(request.tags),
            source_channel=request.source_channel,
            known_channels=KNOWN_CHANNELS,
            submitted_by=member_from(request.submitted_by),
            importance=request.importance,
            impact=request.impact,
            commitments=list(request.commitments),
        )
        # Mongo keeps milliseconds; trimming here makes the answer equal a later read.
        at = now()
        at = at.replace(microsecond=at.microsecond // 1000 * 1000)
        idea = domain.new_idea(str(uuid.uuid4()), request.tenant_id, submission, at)
        similar = await self._similar(idea)
        stored = await self._store.insert(idea, [idea_submitted(idea)], request.request_id)
        return ideas_pb2.SubmitIdeaResponse(
            idea=idea_message(stored),
            similar_ideas=[s for s in similar if s.idea_id != stored.id],
        )

    async def GetIdea(
        self, request: ideas_pb2.GetIdeaRequest, context: Context
    ) -> ideas_pb2.GetIdeaResponse:
        _require_ids(request.tenant_id, request.idea_id)
        idea = await self._store.get(request.tenant_id, request.idea_id)
        return ideas_pb2.GetIdeaResponse(idea=idea_message(idea))

    async def _similar(self, idea: domain.Idea) -> list[ideas_pb2.SimilarIdea]:
        mine = domain.words(f"{idea.title} {idea.problem}")
        scored = []
        for other_id, title, problem in await self._store.recent_texts(
            idea.tenant_id, SIMILAR_SCAN
        ):
            score = domain.similarity(mine, domain.words(f"{title} {problem}"))
            if score >= SIMILAR_THRESHOLD:
                scored.append(
                    ideas_pb2.SimilarIdea(idea_id=other_id, title=title, score=round(score, 3))
                )
        scored.sort(key=lambda s: (-s.score, s.idea_id))
        return scored[:SIMILAR_LIMIT]

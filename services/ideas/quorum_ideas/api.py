"""The ideas service's internal gRPC API (only the gateway calls it).

Each method checks its request with the pure checks in `requests.py` (every bad field
at once; its tenant and actor were checked as it was decoded, `quorum_common.callers`),
lets the store apply the rules' decision in one transaction with the events it owes,
and translates the result. Domain errors become gRPC statuses in
the shared interceptor.
"""

from __future__ import annotations

import uuid

from quorum.domain.v1 import domain_pb2
from quorum.ideas.v1 import ideas_pb2, ideas_pb2_grpc
from quorum_common.errors import Violations
from quorum_common.grpc_server import Context
from quorum_ideas import domain, listing, requests, similar
from quorum_ideas.domain import OrganizationEndorsement
from quorum_ideas.messages import (
    idea_message,
    member_from,
    member_message,
    organization_endorsement_message,
)
from quorum_ideas.store import IdeaStore, moment

KNOWN_CHANNELS = {
    int(value)
    for value in domain_pb2.SourceChannel.values()
    if value != domain_pb2.SOURCE_CHANNEL_UNSPECIFIED
}
SIMILAR_LIMIT = 5
SIMILAR_MAX = 20
SIMILAR_THRESHOLD = 0.3
SIMILAR_SCAN = 500


def _counted(
    counted: OrganizationEndorsement | None,
) -> domain_pb2.OrganizationEndorsement | None:
    """The organization's counted endorsement after a change; None: it counts no more."""
    return organization_endorsement_message(counted) if counted is not None else None


class IdeasApi(ideas_pb2_grpc.IdeasServiceServicer):
    def __init__(self, store: IdeaStore) -> None:
        self._store = store

    async def SubmitIdea(
        self, request: ideas_pb2.SubmitIdeaRequest, context: Context
    ) -> ideas_pb2.SubmitIdeaResponse:
        submission = requests.check_submission(
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
        idea = domain.new_idea(str(uuid.uuid4()), request.tenant_id, submission, moment())
        alike = await self._similar(idea)
        stored = await self._store.submit(
            idea,
            domain.submitter_endorsement(idea, submission),
            requests.check_request_id(request.request_id),
            domain.submission_fingerprint(submission),
        )
        return ideas_pb2.SubmitIdeaResponse(
            idea=idea_message(stored),
            similar_ideas=[s for s in alike if s.idea_id != stored.id],
        )

    async def GetIdea(
        self, request: ideas_pb2.GetIdeaRequest, context: Context
    ) -> ideas_pb2.GetIdeaResponse:
        violations = Violations()
        idea_id = requests.check_idea_id(violations, "idea_id", request.idea_id)
        violations.raise_if_any()
        idea = await self._store.get(request.tenant_id, idea_id)
        return ideas_pb2.GetIdeaResponse(idea=idea_message(idea))

    async def ListIdeas(
        self, request: ideas_pb2.ListIdeasRequest, context: Context
    ) -> ideas_pb2.ListIdeasResponse:
        chosen = listing.check_list(
            tenant_id=request.tenant_id,
            stage=request.stage,
            status=request.status,
            product_area=request.product_area,
            tag=request.tag,
            page_size=request.page_size,
            page_token=request.page_token,
        )
        ideas, next_position = await self._store.page(chosen)
        token = ""
        if next_position is not None:
            token = listing.encode_page_token(chosen.tenant_id, chosen.filter, next_position)
        return ideas_pb2.ListIdeasResponse(
            ideas=[idea_message(idea) for idea in ideas], next_page_token=token
        )

    async def EndorseIdea(
        self, request: ideas_pb2.EndorseIdeaRequest, context: Context
    ) -> ideas_pb2.EndorseIdeaResponse:
        checked = requests.check_endorse(
            tenant_id=request.tenant_id,
            idea_id=request.idea_id,
            member=member_from(request.member),
            importance=request.importance,
            impact=request.impact,
            commitments=list(request.commitments),
            expected_version=request.expected_version,
        )
        endorsed = await self._store.endorse(checked)
        return ideas_pb2.EndorseIdeaResponse(
            idea=idea_message(endorsed.idea),
            changed=endorsed.changed,
            organization_endorsement=_counted(endorsed.counted),
        )

    async def WithdrawEndorsement(
        self, request: ideas_pb2.WithdrawEndorsementRequest, context: Context
    ) -> ideas_pb2.WithdrawEndorsementResponse:
        checked = requests.check_withdraw(
            tenant_id=request.tenant_id,
            idea_id=request.idea_id,
            member=member_from(request.member),
            expected_version=request.expected_version,
        )
        withdrew = await self._store.withdraw(checked)
        return ideas_pb2.WithdrawEndorsementResponse(
            idea=idea_message(withdrew.idea), organization_endorsement=_counted(withdrew.counted)
        )

    async def MergeIdeas(
        self, request: ideas_pb2.MergeIdeasRequest, context: Context
    ) -> ideas_pb2.MergeIdeasResponse:
        checked = requests.check_merge(
            tenant_id=request.tenant_id,
            source_idea_id=request.source_idea_id,
            target_idea_id=request.target_idea_id,
            actor_id=request.actor.principal_id,
            expected_source_version=request.expected_source_version,
            expected_target_version=request.expected_version,
        )
        merged = await self._store.merge(checked, request.actor)
        return ideas_pb2.MergeIdeasResponse(
            target=idea_message(merged.target),
            source=idea_message(merged.source),
            carried_members=[member_message(m) for m in merged.carried],
        )

    async def ListEndorsements(
        self, request: ideas_pb2.ListEndorsementsRequest, context: Context
    ) -> ideas_pb2.ListEndorsementsResponse:
        checked = listing.check_endorsements_request(
            tenant_id=request.tenant_id,
            idea_id=request.idea_id,
            page_size=request.page_size,
            page_token=request.page_token,
        )
        page, after, organizations = await self._store.endorsements(checked)
        token = ""
        if after:
            token = listing.encode_endorsements_token(checked.tenant_id, checked.idea_id, after)
        return ideas_pb2.ListEndorsementsResponse(
            endorsements=[organization_endorsement_message(e) for e in page],
            next_page_token=token,
            organization_count=organizations,
        )

    async def FindSimilarIdeas(
        self, request: ideas_pb2.FindSimilarIdeasRequest, context: Context
    ) -> ideas_pb2.FindSimilarIdeasResponse:
        violations = Violations()
        if not (request.title.strip() or request.problem.strip()):
            violations.add("title", "title or problem is required")
        if len(request.title) > requests.TITLE_MAX:
            violations.add("title", f"must be at most {requests.TITLE_MAX} characters")
        if len(request.problem) > requests.PROBLEM_MAX:
            violations.add("problem", f"must be at most {requests.PROBLEM_MAX} characters")
        if not 0 <= request.limit <= SIMILAR_MAX:
            violations.add("limit", f"must be between 0 and {SIMILAR_MAX}")
        violations.raise_if_any()
        found = await self._similar_text(
            request.tenant_id, f"{request.title} {request.problem}", request.limit or SIMILAR_LIMIT
        )
        return ideas_pb2.FindSimilarIdeasResponse(similar_ideas=found)

    async def _similar(self, idea: domain.Idea) -> list[ideas_pb2.SimilarIdea]:
        return await self._similar_text(
            idea.tenant_id, f"{idea.title} {idea.problem}", SIMILAR_LIMIT
        )

    async def _similar_text(
        self, tenant_id: str, text: str, limit: int
    ) -> list[ideas_pb2.SimilarIdea]:
        mine = similar.words(text)
        scored = []
        for other_id, title, problem in await self._store.recent_texts(tenant_id, SIMILAR_SCAN):
            score = similar.similarity(mine, similar.words(f"{title} {problem}"))
            if score >= SIMILAR_THRESHOLD:
                scored.append(
                    ideas_pb2.SimilarIdea(idea_id=other_id, title=title, score=round(score, 3))
                )
        scored.sort(key=lambda s: (-s.score, s.idea_id))
        return scored[:limit]

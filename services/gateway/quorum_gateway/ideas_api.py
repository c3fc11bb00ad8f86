"""The public IdeasService: ideas and the endorsements behind them.

An idea's answer carries its counts, never its endorsements, so it stays small however
popular the idea is; `ListEndorsements` pages through the organizations behind it. For
a customer or an integration, the submitter and every listed organization are shown
only when they are the caller's own or opted into peer visibility (visibility.py).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable

import grpc

from quorum.domain.v1 import domain_pb2
from quorum.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from quorum.ideas.v1 import ideas_pb2
from quorum.validation.v1 import validation_pb2
from quorum_common.grpc_server import Context
from quorum_gateway.api import Servicer
from quorum_gateway.auth import current_principal
from quorum_gateway.backends import relay_error
from quorum_gateway.consistency import wanted_versions
from quorum_gateway.idea_cache import canonical_id
from quorum_gateway.principals import acting_member
from quorum_gateway.visibility import visible_idea


def public_idea(
    idea: ideas_pb2.Idea, progress: validation_pb2.GetIdeaProgressResponse | None = None
) -> gateway_pb2.Idea:
    shown = gateway_pb2.Idea(
        id=idea.id,
        title=idea.title,
        problem=idea.problem,
        product_area=idea.product_area,
        tags=list(idea.tags),
        source_channel=idea.source_channel,
        submitted_by=idea.submitted_by,
        created_at=idea.created_at,
        status=idea.status,
        stage=idea.stage,
        merged_into=idea.merged_into,
        organization_count=idea.organization_count,
        endorsement_count=idea.endorsement_count,
        version=idea.version,
    )
    if progress is not None:
        # The stage ledger is the source of truth; the idea's own stage is a projection.
        shown.stage = progress.stage
        shown.status = progress.status
        shown.next_stage = progress.next_stage
        shown.next_gate_holds = progress.next_gate_holds
        shown.stage_version = progress.version
        shown.overridden = progress.overridden
        shown.co_signed_by.extend(progress.co_signed_by)
    return shown


def _similar(found: Iterable[ideas_pb2.SimilarIdea]) -> list[gateway_pb2.SimilarIdea]:
    return [gateway_pb2.SimilarIdea(idea_id=s.idea_id, title=s.title, score=s.score) for s in found]


class IdeasApi(Servicer, gateway_pb2_grpc.IdeasServiceServicer):
    async def _shown(
        self, idea: gateway_pb2.Idea, context: Context, *, written: bool = False
    ) -> gateway_pb2.Idea:
        """The idea as this caller may see it; `written`: the answer to a committed write,
        which must not fail (nor claim the write failed) for want of the directory."""
        principal = current_principal()
        if principal.is_vendor:
            return idea
        submitter = idea.submitted_by.organization_id
        visible = await self._gateway.visible_organizations(
            principal, {submitter}, context, best_effort=written
        )
        return visible_idea(idea, visible)

    async def _endorsement_changed(
        self,
        answer: ideas_pb2.EndorseIdeaResponse | ideas_pb2.WithdrawEndorsementResponse,
        context: Context,
    ) -> tuple[gateway_pb2.Idea, domain_pb2.OrganizationEndorsement | None]:
        """What an endorsement or a withdrawal answers alike: the idea as the caller may
        see it, and the organization's counted endorsement now (None: it counts no more)."""
        idea = await self._shown(public_idea(answer.idea), context, written=True)
        if answer.HasField("organization_endorsement"):
            return idea, answer.organization_endorsement
        return idea, None

    async def SubmitIdea(
        self, request: gateway_pb2.SubmitIdeaRequest, context: Context
    ) -> gateway_pb2.SubmitIdeaResponse:
        principal = current_principal()
        submit = self._backends.ideas.SubmitIdea
        submission = self._backends.request_for(
            submit, request, submitted_by=acting_member(principal, request.submitted_by)
        )
        answer = await self._backends.call(submit, submission, context)
        return gateway_pb2.SubmitIdeaResponse(
            idea=await self._shown(public_idea(answer.idea), context, written=True),
            similar_ideas=_similar(answer.similar_ideas),
        )

    async def GetIdea(
        self, request: gateway_pb2.GetIdeaRequest, context: Context
    ) -> gateway_pb2.GetIdeaResponse:
        principal = current_principal()
        key = (principal.tenant_id, canonical_id(request.idea_id))
        cache = self._gateway.ideas
        remembered = cache.get(key) if key[1] else None
        if remembered is not None:
            return gateway_pb2.GetIdeaResponse(idea=await self._shown(remembered, context))
        began = cache.reading()
        # Both backends at once: the answer takes the slower of the two reads, not their
        # sum. The progress is only used once the idea is known to be the caller's.
        progress_call = asyncio.ensure_future(self._gateway.progress(request.idea_id, context))
        try:
            answer = await self._backends.call(
                self._backends.ideas.GetIdea,
                ideas_pb2.GetIdeaRequest(idea_id=request.idea_id),
                context,
            )
        except BaseException:
            progress_call.cancel()
            with contextlib.suppress(BaseException):
                await progress_call
            raise
        try:
            progress = await progress_call
        except grpc.aio.AioRpcError as error:
            await relay_error(context, error)
            raise
        wanted = wanted_versions([answer.idea])
        if wanted and (progress is None or progress.idea_version < answer.idea.version):
            # The ledger has yet to fold this version (just written): wait for it.
            progress = (await self._gateway.ledger.progress(wanted, context))[answer.idea.id]
        idea = public_idea(answer.idea, progress)
        if progress is not None and key[1]:
            # Only once the ledger knows the idea: until then its stage is on its way.
            cache.store(key, began, idea)
        return gateway_pb2.GetIdeaResponse(idea=await self._shown(idea, context))

    async def ListIdeas(
        self, request: gateway_pb2.ListIdeasRequest, context: Context
    ) -> gateway_pb2.ListIdeasResponse:
        principal = current_principal()
        list_ideas = self._backends.ideas.ListIdeas
        answer = await self._backends.call(
            list_ideas, self._backends.request_for(list_ideas, request), context
        )
        # Stage, status and next gate from the ledger, as of every acknowledged write.
        progress = await self._gateway.ledger.progress(wanted_versions(list(answer.ideas)), context)
        ideas = [public_idea(i, progress.get(i.id)) for i in answer.ideas]
        if not principal.is_vendor:
            submitters = {i.submitted_by.organization_id for i in ideas}
            visible = await self._gateway.visible_organizations(principal, submitters, context)
            ideas = [visible_idea(i, visible) for i in ideas]
        return gateway_pb2.ListIdeasResponse(ideas=ideas, next_page_token=answer.next_page_token)

    async def EndorseIdea(
        self, request: gateway_pb2.EndorseIdeaRequest, context: Context
    ) -> gateway_pb2.EndorseIdeaResponse:
        principal = current_principal()
        # Each field named, not `request_for`: the busiest write, and naming them costs
        # less than finding them (a few microseconds a call).
        async with self._gateway.changing(request.idea_id):
            answer = await self._backends.call(
                self._backends.ideas.EndorseIdea,
                ideas_pb2.EndorseIdeaRequest(
                    idea_id=request.idea_id,
                    member=acting_member(principal, request.member),
                    importance=request.importance,
                    impact=request.impact,
                    commitments=list(request.commitments),
                    expected_version=request.expected_version,
                ),
                context,
            )
        idea, counted = await self._endorsement_changed(answer, context)
        return gateway_pb2.EndorseIdeaResponse(
            idea=idea, changed=answer.changed, organization_endorsement=counted
        )

    async def WithdrawEndorsement(
        self, request: gateway_pb2.WithdrawEndorsementRequest, context: Context
    ) -> gateway_pb2.WithdrawEndorsementResponse:
        principal = current_principal()
        withdraw = self._backends.ideas.WithdrawEndorsement
        withdrawal = self._backends.request_for(
            withdraw, request, member=acting_member(principal, request.member)
        )
        async with self._gateway.changing(request.idea_id):
            answer = await self._backends.call(withdraw, withdrawal, context)
        idea, counted = await self._endorsement_changed(answer, context)
        return gateway_pb2.WithdrawEndorsementResponse(idea=idea, organization_endorsement=counted)

    async def ListEndorsements(
        self, request: gateway_pb2.ListEndorsementsRequest, context: Context
    ) -> gateway_pb2.ListEndorsementsResponse:
        principal = current_principal()
        list_endorsements = self._backends.ideas.ListEndorsements
        answer = await self._backends.call(
            list_endorsements, self._backends.request_for(list_endorsements, request), context
        )
        endorsements = list(answer.endorsements)
        if not principal.is_vendor:
            named = {e.organization_id for e in endorsements}
            visible = await self._gateway.visible_organizations(principal, named, context)
            endorsements = [e for e in endorsements if e.organization_id in visible]
        return gateway_pb2.ListEndorsementsResponse(
            endorsements=endorsements,
            next_page_token=answer.next_page_token,
            organization_count=answer.organization_count,
        )

    async def FindSimilarIdeas(
        self, request: gateway_pb2.FindSimilarIdeasRequest, context: Context
    ) -> gateway_pb2.FindSimilarIdeasResponse:
        find = self._backends.ideas.FindSimilarIdeas
        answer = await self._backends.call(find, self._backends.request_for(find, request), context)
        return gateway_pb2.FindSimilarIdeasResponse(similar_ideas=_similar(answer.similar_ideas))

    async def MergeIdeas(
        self, request: gateway_pb2.MergeIdeasRequest, context: Context
    ) -> gateway_pb2.MergeIdeasResponse:
        merge = self._backends.ideas.MergeIdeas
        async with self._gateway.changing(request.source_idea_id, request.target_idea_id):
            answer = await self._backends.call(
                merge, self._backends.request_for(merge, request), context
            )
        return gateway_pb2.MergeIdeasResponse(
            target=public_idea(answer.target), source=public_idea(answer.source)
        )

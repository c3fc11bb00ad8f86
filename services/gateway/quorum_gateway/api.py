"""The public gRPC API: what vendor PDP tools and customers' integrations call."""

from __future__ import annotations

from typing import Any

import grpc

from quorum.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from quorum.ideas.v1 import ideas_pb2
from quorum.validation.v1 import validation_pb2
from quorum_gateway.backends import Backends, relay_error

Context = grpc.aio.ServicerContext[Any, Any]
TENANT_METADATA = "x-quorum-tenant"


def public_idea(idea: ideas_pb2.Idea, stage: str, status: int) -> gateway_pb2.Idea:
    return gateway_pb2.Idea(
        id=idea.id,
        title=idea.title,
        problem=idea.problem,
        product_area=idea.product_area,
        tags=list(idea.tags),
        source_channel=idea.source_channel,
        submitted_by=idea.submitted_by,
        created_at=idea.created_at,
        status=status or idea.status,  # type: ignore[arg-type]
        stage=stage,
        merged_into=idea.merged_into,
        organization_count=len(idea.endorsements),
        endorsements=list(idea.endorsements),
    )


class GatewayIdeasApi(gateway_pb2_grpc.IdeasServiceServicer):
    def __init__(self, backends: Backends, default_tenant: str) -> None:
        self._backends = backends
        self._default_tenant = default_tenant

    def _tenant(self, context: Context) -> str:
        # Until API keys bind a principal to its tenant, the caller names it.
        for key, value in context.invocation_metadata() or ():
            if key == TENANT_METADATA and isinstance(value, str) and value:
                return value
        return self._default_tenant

    async def SubmitIdea(
        self, request: gateway_pb2.SubmitIdeaRequest, context: Context
    ) -> gateway_pb2.SubmitIdeaResponse:
        inner = ideas_pb2.SubmitIdeaRequest(
            tenant_id=self._tenant(context),
            title=request.title,
            problem=request.problem,
            product_area=request.product_area,
            tags=list(request.tags),
            source_channel=request.source_channel,
            submitted_by=request.submitted_by,
            importance=request.importance,
            impact=request.impact,
            commitments=list(request.commitments),
            request_id=request.request_id,
        )
        try:
            answer = await self._backends.ideas.SubmitIdea(inner, timeout=self._backends.timeout)
        except grpc.aio.AioRpcError as error:
            await relay_error(context, error)
            raise
        return gateway_pb2.SubmitIdeaResponse(
            idea=public_idea(answer.idea, answer.idea.stage, answer.idea.status),
            similar_ideas=[
                gateway_pb2.SimilarIdea(idea_id=s.idea_id, title=s.title, score=s.score)
                for s in answer.similar_ideas
            ],
        )

    async def GetIdea(
        self, request: gateway_pb2.GetIdeaRequest, context: Context
    ) -> gateway_pb2.GetIdeaResponse:
        tenant = self._tenant(context)
        try:
            answer = await self._backends.ideas.GetIdea(
                ideas_pb2.GetIdeaRequest(tenant_id=tenant, idea_id=request.idea_id),
                timeout=self._backends.timeout,
            )
        except grpc.aio.AioRpcError as error:
            await relay_error(context, error)
            raise
        stage, status = "", 0
        try:
            progress = await self._backends.gates.GetIdeaProgress(
                validation_pb2.GetIdeaProgressRequest(tenant_id=tenant, idea_id=request.idea_id),
                timeout=self._backends.timeout,
            )
            stage, status = progress.stage, progress.status
        except grpc.aio.AioRpcError as error:
            # Not in the ledger yet: the idea exists, its stage is still on its way.
            if error.code() != grpc.StatusCode.NOT_FOUND:
                await relay_error(context, error)
                raise
        return gateway_pb2.GetIdeaResponse(idea=public_idea(answer.idea, stage, status))

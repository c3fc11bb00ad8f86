"""GatesService: gate reports and the decisions that move an idea between stages."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from quorum.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from quorum.validation.v1 import validation_pb2
from quorum_common.errors import PermissionDenied
from quorum_gateway.api import Context, Servicer, acting_for
from quorum_gateway.auth import current_principal
from quorum_gateway.principals import Role
from quorum_gateway.visibility import visible_report

Answer = TypeVar("Answer")
# The public requests that decide about one idea.
Decision = (
    gateway_pb2.AdvanceStageRequest
    | gateway_pb2.DeclineIdeaRequest
    | gateway_pb2.CastCouncilVoteRequest
    | gateway_pb2.OverrideStageRequest
    | gateway_pb2.CoSignIdeaRequest
)


class GatesApi(Servicer, gateway_pb2_grpc.GatesServiceServicer):
    async def GetGateReport(
        self, request: gateway_pb2.GetGateReportRequest, context: Context
    ) -> gateway_pb2.GetGateReportResponse:
        principal = current_principal()
        await self._gateway.ledger.caught_up(request.idea_id, context)
        answer = await self._backends.call(
            self._backends.gates.GetGateReport,
            validation_pb2.GetGateReportRequest(idea_id=request.idea_id),
            context,
        )
        shown = gateway_pb2.GetGateReportResponse(
            idea_id=answer.idea_id, stage=answer.stage, next_stage=answer.next_stage
        )
        if answer.HasField("report"):
            report = answer.report
            if not principal.is_vendor:
                named = {w.organization_id for w in report.weights}
                named |= {w.customer_id for w in report.weights}
                visible = await self._gateway.visible_organizations(principal, named, context)
                report = visible_report(report, visible)
            shown.report.CopyFrom(report)
        return shown

    async def _decision(
        self,
        method: Callable[[Any], Awaitable[Answer]],
        request: Decision,
        context: Context,
        **also: Any,
    ) -> Answer:
        """A decision about one idea, the backend's own call field by field (the backends
        name the principal as its actor), taken once the ledger has caught up with the
        caller's writes (read-your-writes), and forgotten by the idea cache once answered."""
        await self._gateway.ledger.caught_up(request.idea_id, context)
        async with self._gateway.changing(request.idea_id):
            inner = self._backends.request_for(method, request, **also)
            return await self._backends.call(method, inner, context)

    async def AdvanceStage(
        self, request: gateway_pb2.AdvanceStageRequest, context: Context
    ) -> gateway_pb2.AdvanceStageResponse:
        answer = await self._decision(self._backends.gates.AdvanceStage, request, context)
        return gateway_pb2.AdvanceStageResponse(**_moved(answer))

    async def DeclineIdea(
        self, request: gateway_pb2.DeclineIdeaRequest, context: Context
    ) -> gateway_pb2.DeclineIdeaResponse:
        answer = await self._decision(self._backends.gates.DeclineIdea, request, context)
        return gateway_pb2.DeclineIdeaResponse(
            idea_id=answer.idea_id, status=answer.status, stage_version=answer.version
        )

    async def CastCouncilVote(
        self, request: gateway_pb2.CastCouncilVoteRequest, context: Context
    ) -> gateway_pb2.CastCouncilVoteResponse:
        vote = self._backends.gates.CastCouncilVote
        answer = await self._decision(
            vote, request, context, **acting_for(current_principal(), request)
        )
        return gateway_pb2.CastCouncilVoteResponse(
            approvals=answer.approvals, rejections=answer.rejections, stage=answer.stage
        )

    async def OverrideStage(
        self, request: gateway_pb2.OverrideStageRequest, context: Context
    ) -> gateway_pb2.OverrideStageResponse:
        answer = await self._decision(self._backends.gates.OverrideStage, request, context)
        return gateway_pb2.OverrideStageResponse(**_moved(answer))

    async def CoSignIdea(
        self, request: gateway_pb2.CoSignIdeaRequest, context: Context
    ) -> gateway_pb2.CoSignIdeaResponse:
        principal = current_principal()
        if principal.role is Role.CUSTOMER:
            councils = await self._backends.call(
                self._backends.directory.ListCouncils, validation_pb2.ListCouncilsRequest(), context
            )
            council = next(
                (c for c in councils.councils if c.council_id == request.council_id), None
            )
            if council is None or principal.organization_id not in council.member_organization_ids:
                raise PermissionDenied("only a member of the council may co-sign for it")
        answer = await self._decision(self._backends.gates.CoSignIdea, request, context)
        return gateway_pb2.CoSignIdeaResponse(co_signed_by=answer.co_signed_by)


def _moved(
    answer: validation_pb2.AdvanceStageResponse | validation_pb2.OverrideStageResponse,
) -> dict[str, Any]:
    """What an advance or an override answers: where the idea went, and the report."""
    return {
        "idea_id": answer.idea_id,
        "from_stage": answer.from_stage,
        "stage": answer.stage,
        "status": answer.status,
        "report": answer.report,
        "stage_version": answer.version,
    }

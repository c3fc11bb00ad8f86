"""GatesService: gate reports and the decisions that move an idea between stages."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from quorum.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from quorum.validation.v1 import validation_pb2
from quorum_common.errors import PermissionDenied
from quorum_gateway.api import Context, Gateway
from quorum_gateway.auth import current_principal
from quorum_gateway.principals import Role, acting_organization
from quorum_gateway.visibility import visible_report

Answer = TypeVar("Answer")


class GatesApi(gateway_pb2_grpc.GatesServiceServicer):
    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway
        self._backends = gateway.backends

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
        request: Any,
        context: Context,
    ) -> Answer:
        """A decision about one idea (the backends name the principal as its actor), taken
        once the ledger has caught up with the caller's writes (read-your-writes), and
        forgotten by the idea cache once answered."""
        await self._gateway.ledger.caught_up(request.idea_id, context)
        async with self._gateway.changing(request.idea_id):
            return await self._backends.call(method, request, context)

    async def AdvanceStage(
        self, request: gateway_pb2.AdvanceStageRequest, context: Context
    ) -> gateway_pb2.AdvanceStageResponse:
        answer = await self._decision(
            self._backends.gates.AdvanceStage,
            validation_pb2.AdvanceStageRequest(
                idea_id=request.idea_id,
                target_stage=request.target_stage,
                expected_version=request.expected_version,
            ),
            context,
        )
        return gateway_pb2.AdvanceStageResponse(**_moved(answer))

    async def DeclineIdea(
        self, request: gateway_pb2.DeclineIdeaRequest, context: Context
    ) -> gateway_pb2.DeclineIdeaResponse:
        answer = await self._decision(
            self._backends.gates.DeclineIdea,
            validation_pb2.DeclineIdeaRequest(
                idea_id=request.idea_id,
                reason=request.reason,
                expected_version=request.expected_version,
            ),
            context,
        )
        return gateway_pb2.DeclineIdeaResponse(
            idea_id=answer.idea_id, status=answer.status, stage_version=answer.version
        )

    async def CastCouncilVote(
        self, request: gateway_pb2.CastCouncilVoteRequest, context: Context
    ) -> gateway_pb2.CastCouncilVoteResponse:
        vote = validation_pb2.CastCouncilVoteRequest(
            idea_id=request.idea_id,
            council_id=request.council_id,
            organization_id=acting_organization(current_principal(), request.organization_id),
            approve=request.approve,
            comment=request.comment,
        )
        answer = await self._decision(self._backends.gates.CastCouncilVote, vote, context)
        return gateway_pb2.CastCouncilVoteResponse(
            approvals=answer.approvals, rejections=answer.rejections, stage=answer.stage
        )

    async def OverrideStage(
        self, request: gateway_pb2.OverrideStageRequest, context: Context
    ) -> gateway_pb2.OverrideStageResponse:
        override = validation_pb2.OverrideStageRequest(
            idea_id=request.idea_id,
            target_stage=request.target_stage,
            justification=request.justification,
            expected_version=request.expected_version,
        )
        answer = await self._decision(self._backends.gates.OverrideStage, override, context)
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
        co_sign = validation_pb2.CoSignIdeaRequest(
            idea_id=request.idea_id, council_id=request.council_id
        )
        answer = await self._decision(self._backends.gates.CoSignIdea, co_sign, context)
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

"""GatesService: gate reports and the decisions that move an idea between stages."""

from __future__ import annotations

from typing import Any

from quorum.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from quorum.validation.v1 import validation_pb2
from quorum_common.errors import (
    PermissionDenied,
)
from quorum_gateway.api import Context, Gateway
from quorum_gateway.auth import current_principal
from quorum_gateway.principals import (
    Role,
    acting_organization,
)
from quorum_gateway.visibility import visible_report


class GatesApi(gateway_pb2_grpc.GatesServiceServicer):
    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway
        self._backends = gateway.backends

    async def GetGateReport(
        self, request: gateway_pb2.GetGateReportRequest, context: Context
    ) -> gateway_pb2.GetGateReportResponse:
        principal = current_principal()
        await self._gateway.ledger.caught_up(principal, request.idea_id, context)
        answer = await self._backends.call(
            self._backends.gates.GetGateReport,
            validation_pb2.GetGateReportRequest(
                tenant_id=principal.tenant_id, idea_id=request.idea_id
            ),
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

    async def _decision(self, idea_id: str, method: Any, request: Any, context: Context) -> Any:
        """A decision about one idea, taken once the ledger has caught up with the caller's
        writes (read-your-writes), and forgotten by the idea cache once answered."""
        principal = current_principal()
        await self._gateway.ledger.caught_up(principal, idea_id, context)
        async with self._gateway.changing(principal, idea_id):
            return await self._backends.call(method, request, context)

    async def AdvanceStage(
        self, request: gateway_pb2.AdvanceStageRequest, context: Context
    ) -> gateway_pb2.AdvanceStageResponse:
        principal = current_principal()
        answer = await self._decision(
            request.idea_id,
            self._backends.gates.AdvanceStage,
            validation_pb2.AdvanceStageRequest(
                tenant_id=principal.tenant_id,
                idea_id=request.idea_id,
                target_stage=request.target_stage,
                actor=principal.actor(),
                expected_version=request.expected_version,
            ),
            context,
        )
        return gateway_pb2.AdvanceStageResponse(**_moved(answer))

    async def DeclineIdea(
        self, request: gateway_pb2.DeclineIdeaRequest, context: Context
    ) -> gateway_pb2.DeclineIdeaResponse:
        principal = current_principal()
        answer = await self._decision(
            request.idea_id,
            self._backends.gates.DeclineIdea,
            validation_pb2.DeclineIdeaRequest(
                tenant_id=principal.tenant_id,
                idea_id=request.idea_id,
                reason=request.reason,
                actor=principal.actor(),
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
        principal = current_principal()
        answer = await self._decision(
            request.idea_id,
            self._backends.gates.CastCouncilVote,
            validation_pb2.CastCouncilVoteRequest(
                tenant_id=principal.tenant_id,
                idea_id=request.idea_id,
                council_id=request.council_id,
                organization_id=acting_organization(principal, request.organization_id),
                approve=request.approve,
                comment=request.comment,
            ),
            context,
        )
        return gateway_pb2.CastCouncilVoteResponse(
            approvals=answer.approvals, rejections=answer.rejections, stage=answer.stage
        )

    async def OverrideStage(
        self, request: gateway_pb2.OverrideStageRequest, context: Context
    ) -> gateway_pb2.OverrideStageResponse:
        principal = current_principal()
        answer = await self._decision(
            request.idea_id,
            self._backends.gates.OverrideStage,
            validation_pb2.OverrideStageRequest(
                tenant_id=principal.tenant_id,
                idea_id=request.idea_id,
                target_stage=request.target_stage,
                justification=request.justification,
                actor=principal.actor(),
                expected_version=request.expected_version,
            ),
            context,
        )
        return gateway_pb2.OverrideStageResponse(**_moved(answer))

    async def CoSignIdea(
        self, request: gateway_pb2.CoSignIdeaRequest, context: Context
    ) -> gateway_pb2.CoSignIdeaResponse:
        principal = current_principal()
        if principal.role is Role.CUSTOMER:
            councils = await self._backends.call(
                self._backends.directory.ListCouncils,
                validation_pb2.ListCouncilsRequest(tenant_id=principal.tenant_id),
                context,
            )
            council = next(
                (c for c in councils.councils if c.council_id == request.council_id), None
            )
            if council is None or principal.organization_id not in council.member_organization_ids:
                raise PermissionDenied("only a member of the council may co-sign for it")
        answer = await self._decision(
            request.idea_id,
            self._backends.gates.CoSignIdea,
            validation_pb2.CoSignIdeaRequest(
                tenant_id=principal.tenant_id,
                idea_id=request.idea_id,
                council_id=request.council_id,
                actor=principal.actor(),
            ),
            context,
        )
        return gateway_pb2.CoSignIdeaResponse(co_signed_by=answer.co_signed_by)


def _moved(answer: Any) -> dict[str, Any]:
    """What an advance or an override answers: where the idea went, and the report."""
    return {
        "idea_id": answer.idea_id,
        "from_stage": answer.from_stage,
        "stage": answer.stage,
        "status": answer.status,
        "report": answer.report,
        "stage_version": answer.version,
    }

"""InsightsService: scorecards and what-if questions about a tenant's gates."""

from __future__ import annotations

from quorum.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from quorum.validation.v1 import validation_pb2
from quorum_gateway.api import Context, Gateway
from quorum_gateway.auth import current_principal
from quorum_gateway.principals import (
    Role,
    acting_organization,
)


class InsightsApi(gateway_pb2_grpc.InsightsServiceServicer):
    def __init__(self, gateway: Gateway) -> None:
        self._backends = gateway.backends

    async def GetOrganizationScorecard(
        self, request: gateway_pb2.GetOrganizationScorecardRequest, context: Context
    ) -> gateway_pb2.GetOrganizationScorecardResponse:
        principal = current_principal()
        organization_id = request.organization_id
        if not principal.is_vendor:
            if principal.role is Role.CUSTOMER and not organization_id:
                organization_id = principal.organization_id
            organization_id = acting_organization(principal, organization_id)
        answer = await self._backends.call(
            self._backends.insights.GetOrganizationScorecard,
            validation_pb2.GetOrganizationScorecardRequest(
                tenant_id=principal.tenant_id, organization_id=organization_id
            ),
            context,
        )
        return gateway_pb2.GetOrganizationScorecardResponse(scorecard=answer.scorecard)

    async def GetTenantScorecard(
        self, request: gateway_pb2.GetTenantScorecardRequest, context: Context
    ) -> gateway_pb2.GetTenantScorecardResponse:
        principal = current_principal()
        answer = await self._backends.call(
            self._backends.insights.GetTenantScorecard,
            validation_pb2.GetTenantScorecardRequest(tenant_id=principal.tenant_id),
            context,
        )
        return gateway_pb2.GetTenantScorecardResponse(scorecard=answer.scorecard)

    async def WhatIf(
        self, request: gateway_pb2.WhatIfRequest, context: Context
    ) -> gateway_pb2.WhatIfResponse:
        principal = current_principal()
        answer = await self._backends.call(
            self._backends.insights.WhatIf,
            validation_pb2.WhatIfRequest(tenant_id=principal.tenant_id, draft=request.draft),
            context,
        )
        return gateway_pb2.WhatIfResponse(
            stage=answer.stage,
            would_open=answer.would_open,
            would_close=answer.would_close,
            unchanged=answer.unchanged,
            past_advances_refused=answer.past_advances_refused,
            past_advances_checked=answer.past_advances_checked,
        )

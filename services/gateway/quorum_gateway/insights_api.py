"""InsightsService: scorecards and what-if questions about a tenant's gates.

Each call is the validation service's own, field by field (`Backends.forward`).
"""

from __future__ import annotations

from quorum.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from quorum_gateway.api import Context, Gateway
from quorum_gateway.auth import current_principal
from quorum_gateway.principals import acting_organization


class InsightsApi(gateway_pb2_grpc.InsightsServiceServicer):
    def __init__(self, gateway: Gateway) -> None:
        self._backends = gateway.backends

    async def GetOrganizationScorecard(
        self, request: gateway_pb2.GetOrganizationScorecardRequest, context: Context
    ) -> gateway_pb2.GetOrganizationScorecardResponse:
        # A customer's own organization when it names none; an integration's, one of its.
        return await self._backends.forward(
            self._backends.insights.GetOrganizationScorecard,
            request,
            gateway_pb2.GetOrganizationScorecardResponse,
            context,
            organization_id=acting_organization(current_principal(), request.organization_id),
        )

    async def GetTenantScorecard(
        self, request: gateway_pb2.GetTenantScorecardRequest, context: Context
    ) -> gateway_pb2.GetTenantScorecardResponse:
        return await self._backends.forward(
            self._backends.insights.GetTenantScorecard,
            request,
            gateway_pb2.GetTenantScorecardResponse,
            context,
        )

    async def WhatIf(
        self, request: gateway_pb2.WhatIfRequest, context: Context
    ) -> gateway_pb2.WhatIfResponse:
        return await self._backends.forward(
            self._backends.insights.WhatIf, request, gateway_pb2.WhatIfResponse, context
        )

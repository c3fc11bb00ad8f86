"""InsightsService: scorecards and what-if questions about a tenant's gates.

Each call is the validation service's own, field by field (`forwarding.py`).
"""

from __future__ import annotations

from quorum.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from quorum_gateway.api import Servicer, acting_for
from quorum_gateway.forwarding import forwarded


class InsightsApi(Servicer, gateway_pb2_grpc.InsightsServiceServicer):
    GetOrganizationScorecard = forwarded(
        "insights", gateway_pb2.GetOrganizationScorecardResponse, also=acting_for
    )
    GetTenantScorecard = forwarded("insights", gateway_pb2.GetTenantScorecardResponse)
    WhatIf = forwarded("insights", gateway_pb2.WhatIfResponse)

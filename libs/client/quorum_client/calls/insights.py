"""The calls of `quorum.gateway.v1.InsightsService`.

Scorecards and what-if: how well the vendor meets customer needs.
"""

# mypy: disable-error-code="empty-body"
# (each call is declared by its signature; quorum_client.channel.unary makes the call)

from __future__ import annotations

from quorum.domain.v1 import domain_pb2
from quorum.gateway.v1 import gateway_pb2
from quorum_client.channel import Connection, unary


class InsightsCalls(Connection):
    @unary(
        gateway_pb2.GetOrganizationScorecardRequest,
        gateway_pb2.GetOrganizationScorecardResponse,
        lambda answer: answer.scorecard,
    )
    def get_organization_scorecard(
        self, organization_id: str = ""
    ) -> domain_pb2.OrganizationScorecard:
        """An organization's record; empty id with a CUSTOMER key: its own."""

    @unary(
        gateway_pb2.GetTenantScorecardRequest,
        gateway_pb2.GetTenantScorecardResponse,
        lambda answer: answer.scorecard,
    )
    def get_tenant_scorecard(self) -> domain_pb2.TenantScorecard: ...

    @unary(gateway_pb2.WhatIfRequest, gateway_pb2.WhatIfResponse)
    def what_if(self, draft: domain_pb2.GatePolicy) -> gateway_pb2.WhatIfResponse:
        """Judge a draft policy against current ideas and past advances; changes nothing."""

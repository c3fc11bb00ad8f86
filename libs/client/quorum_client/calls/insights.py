"""The calls of `quorum.gateway.v1.InsightsService`.

Scorecards and what-if: how well the vendor meets customer needs.
"""

from __future__ import annotations

from functools import cached_property

from quorum.domain.v1 import domain_pb2
from quorum.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from quorum_client.channel import Connection


class InsightsCalls(Connection):
    @cached_property
    def _insights(self) -> gateway_pb2_grpc.InsightsServiceStub:
        return gateway_pb2_grpc.InsightsServiceStub(self._channel)

    def get_organization_scorecard(
        self, organization_id: str = ""
    ) -> domain_pb2.OrganizationScorecard:
        """An organization's record; empty id with a CUSTOMER key: its own."""
        return self._call(
            self._insights.GetOrganizationScorecard,
            gateway_pb2.GetOrganizationScorecardRequest(organization_id=organization_id),
        ).scorecard

    def get_tenant_scorecard(self) -> domain_pb2.TenantScorecard:
        return self._call(
            self._insights.GetTenantScorecard, gateway_pb2.GetTenantScorecardRequest()
        ).scorecard

    def what_if(self, draft: domain_pb2.GatePolicy) -> gateway_pb2.WhatIfResponse:
        """Judge a draft policy against current ideas and past advances; changes nothing."""
        return self._call(self._insights.WhatIf, gateway_pb2.WhatIfRequest(draft=draft))

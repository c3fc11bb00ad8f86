"""DirectoryService and PolicyService: the organizations and councils, and the gate policies.

Most of these calls are the validation service's own, field by field (`forwarding.py`).
"""

from __future__ import annotations

from quorum.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from quorum.validation.v1 import validation_pb2
from quorum_gateway.api import Context, Servicer
from quorum_gateway.auth import current_principal
from quorum_gateway.forwarding import forwarded
from quorum_gateway.visibility import visible_council


class DirectoryApi(Servicer, gateway_pb2_grpc.DirectoryServiceServicer):
    GetOrganization = forwarded("directory", gateway_pb2.GetOrganizationResponse)
    ListOrganizations = forwarded("directory", gateway_pb2.ListOrganizationsResponse)
    UpsertCouncil = forwarded("directory", gateway_pb2.UpsertCouncilResponse)

    async def UpsertOrganization(
        self, request: gateway_pb2.UpsertOrganizationRequest, context: Context
    ) -> gateway_pb2.UpsertOrganizationResponse:
        try:
            return await self._backends.forward(
                self._backends.directory.UpsertOrganization,
                request,
                gateway_pb2.UpsertOrganizationResponse,
                context,
            )
        finally:
            # Also when it failed: a call that timed out may still have committed.
            self._gateway.peers.forget(
                current_principal().tenant_id, request.organization.organization_id
            )

    async def ListCouncils(
        self, request: gateway_pb2.ListCouncilsRequest, context: Context
    ) -> gateway_pb2.ListCouncilsResponse:
        principal = current_principal()
        answer = await self._backends.call(
            self._backends.directory.ListCouncils, validation_pb2.ListCouncilsRequest(), context
        )
        councils = list(answer.councils)
        if not principal.is_vendor:
            members = {o for c in councils for o in c.member_organization_ids}
            visible = await self._gateway.visible_organizations(principal, members, context)
            councils = [visible_council(c, visible) for c in councils]
        return gateway_pb2.ListCouncilsResponse(councils=councils)


class PolicyApi(Servicer, gateway_pb2_grpc.PolicyServiceServicer):
    GetPipeline = forwarded("policies", gateway_pb2.GetPipelineResponse)
    UpdateGatePolicy = forwarded("policies", gateway_pb2.UpdateGatePolicyResponse)

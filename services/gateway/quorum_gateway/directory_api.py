"""DirectoryService and PolicyService: the organizations and councils, and the gate policies.

Most of these calls are the validation service's own, field for field (`forward`);
the caller's tenant is named by the backends, never here.
"""

from __future__ import annotations

from quorum.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from quorum.validation.v1 import validation_pb2
from quorum_gateway.api import Context, Gateway
from quorum_gateway.auth import current_principal
from quorum_gateway.visibility import visible_council


class DirectoryApi(gateway_pb2_grpc.DirectoryServiceServicer):
    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway
        self._backends = gateway.backends

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

    async def GetOrganization(
        self, request: gateway_pb2.GetOrganizationRequest, context: Context
    ) -> gateway_pb2.GetOrganizationResponse:
        return await self._backends.forward(
            self._backends.directory.GetOrganization,
            request,
            gateway_pb2.GetOrganizationResponse,
            context,
        )

    async def ListOrganizations(
        self, request: gateway_pb2.ListOrganizationsRequest, context: Context
    ) -> gateway_pb2.ListOrganizationsResponse:
        return await self._backends.forward(
            self._backends.directory.ListOrganizations,
            request,
            gateway_pb2.ListOrganizationsResponse,
            context,
        )

    async def UpsertCouncil(
        self, request: gateway_pb2.UpsertCouncilRequest, context: Context
    ) -> gateway_pb2.UpsertCouncilResponse:
        return await self._backends.forward(
            self._backends.directory.UpsertCouncil,
            request,
            gateway_pb2.UpsertCouncilResponse,
            context,
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


class PolicyApi(gateway_pb2_grpc.PolicyServiceServicer):
    def __init__(self, gateway: Gateway) -> None:
        self._backends = gateway.backends

    async def GetPipeline(
        self, request: gateway_pb2.GetPipelineRequest, context: Context
    ) -> gateway_pb2.GetPipelineResponse:
        return await self._backends.forward(
            self._backends.policies.GetPipeline, request, gateway_pb2.GetPipelineResponse, context
        )

    async def UpdateGatePolicy(
        self, request: gateway_pb2.UpdateGatePolicyRequest, context: Context
    ) -> gateway_pb2.UpdateGatePolicyResponse:
        return await self._backends.forward(
            self._backends.policies.UpdateGatePolicy,
            request,
            gateway_pb2.UpdateGatePolicyResponse,
            context,
        )

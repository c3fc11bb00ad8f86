"""DirectoryService and PolicyService: the organizations and councils, and the gate policies."""

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
        principal = current_principal()
        try:
            answer = await self._backends.call(
                self._backends.directory.UpsertOrganization,
                validation_pb2.UpsertOrganizationRequest(
                    tenant_id=principal.tenant_id, organization=request.organization
                ),
                context,
            )
        finally:
            # Also when it failed: a call that timed out may still have committed.
            self._gateway.peers.forget(principal.tenant_id, request.organization.organization_id)
        return gateway_pb2.UpsertOrganizationResponse(organization=answer.organization)

    async def GetOrganization(
        self, request: gateway_pb2.GetOrganizationRequest, context: Context
    ) -> gateway_pb2.GetOrganizationResponse:
        principal = current_principal()
        answer = await self._backends.call(
            self._backends.directory.GetOrganization,
            validation_pb2.GetOrganizationRequest(
                tenant_id=principal.tenant_id, organization_id=request.organization_id
            ),
            context,
        )
        return gateway_pb2.GetOrganizationResponse(organization=answer.organization)

    async def ListOrganizations(
        self, request: gateway_pb2.ListOrganizationsRequest, context: Context
    ) -> gateway_pb2.ListOrganizationsResponse:
        principal = current_principal()
        answer = await self._backends.call(
            self._backends.directory.ListOrganizations,
            validation_pb2.ListOrganizationsRequest(
                tenant_id=principal.tenant_id,
                page_size=request.page_size,
                page_token=request.page_token,
            ),
            context,
        )
        return gateway_pb2.ListOrganizationsResponse(
            organizations=answer.organizations, next_page_token=answer.next_page_token
        )

    async def UpsertCouncil(
        self, request: gateway_pb2.UpsertCouncilRequest, context: Context
    ) -> gateway_pb2.UpsertCouncilResponse:
        principal = current_principal()
        answer = await self._backends.call(
            self._backends.directory.UpsertCouncil,
            validation_pb2.UpsertCouncilRequest(
                tenant_id=principal.tenant_id, council=request.council
            ),
            context,
        )
        return gateway_pb2.UpsertCouncilResponse(council=answer.council)

    async def ListCouncils(
        self, request: gateway_pb2.ListCouncilsRequest, context: Context
    ) -> gateway_pb2.ListCouncilsResponse:
        principal = current_principal()
        answer = await self._backends.call(
            self._backends.directory.ListCouncils,
            validation_pb2.ListCouncilsRequest(tenant_id=principal.tenant_id),
            context,
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
        principal = current_principal()
        answer = await self._backends.call(
            self._backends.policies.GetPipeline,
            validation_pb2.GetPipelineRequest(tenant_id=principal.tenant_id),
            context,
        )
        return gateway_pb2.GetPipelineResponse(pipeline=answer.pipeline)

    async def UpdateGatePolicy(
        self, request: gateway_pb2.UpdateGatePolicyRequest, context: Context
    ) -> gateway_pb2.UpdateGatePolicyResponse:
        principal = current_principal()
        answer = await self._backends.call(
            self._backends.policies.UpdateGatePolicy,
            validation_pb2.UpdateGatePolicyRequest(
                tenant_id=principal.tenant_id, policy=request.policy
            ),
            context,
        )
        return gateway_pb2.UpdateGatePolicyResponse(policy=answer.policy)

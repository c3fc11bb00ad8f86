"""The public PeersService: opted-in peers and introductions between customers."""

from __future__ import annotations

from quorum.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from quorum.validation.v1 import validation_pb2
from quorum_common.grpc_server import Context
from quorum_gateway.api import Gateway
from quorum_gateway.auth import current_principal
from quorum_gateway.principals import (
    Principal,
    Role,
    acting_organization,
)


class PeersApi(gateway_pb2_grpc.PeersServiceServicer):
    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway
        self._backends = gateway.backends

    @staticmethod
    def _organization(principal: Principal, organization_id: str) -> str:
        if principal.role is Role.CUSTOMER and not organization_id:
            return principal.organization_id
        return acting_organization(principal, organization_id)

    async def ListPeers(
        self, request: gateway_pb2.ListPeersRequest, context: Context
    ) -> gateway_pb2.ListPeersResponse:
        principal = current_principal()
        # Peers are found from the ledger's evidence: as of every acknowledged endorsement.
        await self._gateway.ledger.caught_up(principal, request.idea_id, context)
        answer = await self._backends.call(
            self._backends.peers.ListPeers,
            validation_pb2.ListPeersRequest(
                tenant_id=principal.tenant_id,
                idea_id=request.idea_id,
                organization_id=self._organization(principal, request.organization_id),
            ),
            context,
        )
        return gateway_pb2.ListPeersResponse(peers=answer.peers)

    async def RequestIntroduction(
        self, request: gateway_pb2.RequestIntroductionRequest, context: Context
    ) -> gateway_pb2.RequestIntroductionResponse:
        principal = current_principal()
        # Peers are found from the ledger's evidence: as of every acknowledged endorsement.
        await self._gateway.ledger.caught_up(principal, request.idea_id, context)
        answer = await self._backends.call(
            self._backends.peers.RequestIntroduction,
            validation_pb2.RequestIntroductionRequest(
                tenant_id=principal.tenant_id,
                idea_id=request.idea_id,
                requester_organization_id=principal.organization_id,
                requester_member_id=principal.member_id,
                peer_organization_id=request.peer_organization_id,
                message=request.message,
            ),
            context,
        )
        return gateway_pb2.RequestIntroductionResponse(introduction=answer.introduction)

    async def AnswerIntroduction(
        self, request: gateway_pb2.AnswerIntroductionRequest, context: Context
    ) -> gateway_pb2.AnswerIntroductionResponse:
        principal = current_principal()
        answer = await self._backends.call(
            self._backends.peers.AnswerIntroduction,
            validation_pb2.AnswerIntroductionRequest(
                tenant_id=principal.tenant_id,
                introduction_id=request.introduction_id,
                organization_id=self._organization(principal, request.organization_id),
                accept=request.accept,
            ),
            context,
        )
        return gateway_pb2.AnswerIntroductionResponse(introduction=answer.introduction)

    async def ListIntroductions(
        self, request: gateway_pb2.ListIntroductionsRequest, context: Context
    ) -> gateway_pb2.ListIntroductionsResponse:
        principal = current_principal()
        answer = await self._backends.call(
            self._backends.peers.ListIntroductions,
            validation_pb2.ListIntroductionsRequest(
                tenant_id=principal.tenant_id,
                organization_id=self._organization(principal, request.organization_id),
            ),
            context,
        )
        return gateway_pb2.ListIntroductionsResponse(introductions=answer.introductions)

"""The public PeersService: opted-in peers and introductions between customers.

Each call is the validation service's own, field by field (`Backends.forward`), but for
whom it acts: a customer for its own organization (the one it names, or none), an
integration for one of its organizations (`principals.acting_organization`).
"""

from __future__ import annotations

from quorum.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from quorum_gateway.api import Context, Gateway
from quorum_gateway.auth import current_principal
from quorum_gateway.principals import acting_organization


class PeersApi(gateway_pb2_grpc.PeersServiceServicer):
    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway
        self._backends = gateway.backends

    async def ListPeers(
        self, request: gateway_pb2.ListPeersRequest, context: Context
    ) -> gateway_pb2.ListPeersResponse:
        # Peers are found from the ledger's evidence: as of every acknowledged endorsement.
        await self._gateway.ledger.caught_up(request.idea_id, context)
        return await self._backends.forward(
            self._backends.peers.ListPeers,
            request,
            gateway_pb2.ListPeersResponse,
            context,
            organization_id=acting_organization(current_principal(), request.organization_id),
        )

    async def RequestIntroduction(
        self, request: gateway_pb2.RequestIntroductionRequest, context: Context
    ) -> gateway_pb2.RequestIntroductionResponse:
        principal = current_principal()
        # As for ListPeers: the ledger's evidence as of every acknowledged endorsement.
        await self._gateway.ledger.caught_up(request.idea_id, context)
        return await self._backends.forward(
            self._backends.peers.RequestIntroduction,
            request,
            gateway_pb2.RequestIntroductionResponse,
            context,
            requester_organization_id=principal.organization_id,
            requester_member_id=principal.member_id,
        )

    async def AnswerIntroduction(
        self, request: gateway_pb2.AnswerIntroductionRequest, context: Context
    ) -> gateway_pb2.AnswerIntroductionResponse:
        return await self._backends.forward(
            self._backends.peers.AnswerIntroduction,
            request,
            gateway_pb2.AnswerIntroductionResponse,
            context,
            organization_id=acting_organization(current_principal(), request.organization_id),
        )

    async def ListIntroductions(
        self, request: gateway_pb2.ListIntroductionsRequest, context: Context
    ) -> gateway_pb2.ListIntroductionsResponse:
        return await self._backends.forward(
            self._backends.peers.ListIntroductions,
            request,
            gateway_pb2.ListIntroductionsResponse,
            context,
            organization_id=acting_organization(current_principal(), request.organization_id),
        )

"""The public PeersService: opted-in peers and introductions between customers.

Each call is the validation service's own, field by field (`forwarding.py`), but for
whom it acts (`api.acting_for`), and the two about an idea's peers wait for
the ledger to have every acknowledged endorsement, as peers are found from its evidence.
"""

from __future__ import annotations

from quorum.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from quorum_gateway.api import Context, Servicer, acting_for
from quorum_gateway.auth import current_principal
from quorum_gateway.forwarding import forwarded


class PeersApi(Servicer, gateway_pb2_grpc.PeersServiceServicer):
    AnswerIntroduction = forwarded("peers", gateway_pb2.AnswerIntroductionResponse, also=acting_for)
    ListIntroductions = forwarded("peers", gateway_pb2.ListIntroductionsResponse, also=acting_for)

    async def ListPeers(
        self, request: gateway_pb2.ListPeersRequest, context: Context
    ) -> gateway_pb2.ListPeersResponse:
        await self._gateway.ledger.caught_up(request.idea_id, context)
        return await self._backends.forward(
            self._backends.peers.ListPeers,
            request,
            gateway_pb2.ListPeersResponse,
            context,
            **acting_for(current_principal(), request),
        )

    async def RequestIntroduction(
        self, request: gateway_pb2.RequestIntroductionRequest, context: Context
    ) -> gateway_pb2.RequestIntroductionResponse:
        principal = current_principal()
        await self._gateway.ledger.caught_up(request.idea_id, context)
        return await self._backends.forward(
            self._backends.peers.RequestIntroduction,
            request,
            gateway_pb2.RequestIntroductionResponse,
            context,
            requester_organization_id=principal.organization_id,
            requester_member_id=principal.member_id,
        )

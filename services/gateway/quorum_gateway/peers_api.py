"""The public PeersService: opted-in peers and introductions between customers.

Each call is the validation service's own, field by field (`forwarding.py`), but for
whom it acts (`api.acting_for`, and a request's requester is the caller itself); the
two about an idea's peers wait for the ledger to have every acknowledged endorsement,
as peers are found from its evidence.
"""

from __future__ import annotations

from typing import Any

from quorum.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from quorum_gateway.api import Servicer, acting_for
from quorum_gateway.forwarding import forwarded
from quorum_gateway.principals import Principal


def _requester(principal: Principal, request: Any) -> dict[str, Any]:
    return {
        "requester_organization_id": principal.organization_id,
        "requester_member_id": principal.member_id,
    }


class PeersApi(Servicer, gateway_pb2_grpc.PeersServiceServicer):
    ListPeers = forwarded(
        "peers", gateway_pb2.ListPeersResponse, also=acting_for, after_ledger=True
    )
    RequestIntroduction = forwarded(
        "peers", gateway_pb2.RequestIntroductionResponse, also=_requester, after_ledger=True
    )
    AnswerIntroduction = forwarded("peers", gateway_pb2.AnswerIntroductionResponse, also=acting_for)
    ListIntroductions = forwarded("peers", gateway_pb2.ListIntroductionsResponse, also=acting_for)

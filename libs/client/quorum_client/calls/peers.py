"""The calls of `quorum.gateway.v1.PeersService`.

Customers meeting opted-in peers who back the same idea.
"""

from __future__ import annotations

from functools import cached_property

from quorum.domain.v1 import domain_pb2
from quorum.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from quorum_client.channel import Connection


class PeersCalls(Connection):
    @cached_property
    def _peers(self) -> gateway_pb2_grpc.PeersServiceStub:
        return gateway_pb2_grpc.PeersServiceStub(self._channel)

    def list_peers(self, idea_id: str, organization_id: str = "") -> list[domain_pb2.Peer]:
        """Opted-in organizations that back the same idea (an INTEGRATION key names
        which of its organizations asks)."""
        answer = self._call(
            self._peers.ListPeers,
            gateway_pb2.ListPeersRequest(idea_id=idea_id, organization_id=organization_id),
        )
        return list(answer.peers)

    def request_introduction(
        self, idea_id: str, peer_organization_id: str, message: str = ""
    ) -> domain_pb2.Introduction:
        return self._call(
            self._peers.RequestIntroduction,
            gateway_pb2.RequestIntroductionRequest(
                idea_id=idea_id, peer_organization_id=peer_organization_id, message=message
            ),
        ).introduction

    def answer_introduction(
        self, introduction_id: str, *, accept: bool, organization_id: str = ""
    ) -> domain_pb2.Introduction:
        return self._call(
            self._peers.AnswerIntroduction,
            gateway_pb2.AnswerIntroductionRequest(
                introduction_id=introduction_id, accept=accept, organization_id=organization_id
            ),
        ).introduction

    def list_introductions(self, organization_id: str = "") -> list[domain_pb2.Introduction]:
        answer = self._call(
            self._peers.ListIntroductions,
            gateway_pb2.ListIntroductionsRequest(organization_id=organization_id),
        )
        return list(answer.introductions)

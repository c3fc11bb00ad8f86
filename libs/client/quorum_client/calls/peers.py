"""The calls of `quorum.gateway.v1.PeersService`.

Customers meeting opted-in peers who back the same idea.
"""

# mypy: disable-error-code="empty-body"
# (each call is declared by its signature; quorum_client.channel.unary makes the call)

from __future__ import annotations

from quorum.domain.v1 import domain_pb2
from quorum.gateway.v1 import gateway_pb2
from quorum_client.channel import Connection, unary


class PeersCalls(Connection):
    @unary(
        gateway_pb2.ListPeersRequest,
        gateway_pb2.ListPeersResponse,
        lambda answer: list(answer.peers),
    )
    def list_peers(self, idea_id: str, organization_id: str = "") -> list[domain_pb2.Peer]:
        """Opted-in organizations that back the same idea (an INTEGRATION key names
        which of its organizations asks)."""

    @unary(
        gateway_pb2.RequestIntroductionRequest,
        gateway_pb2.RequestIntroductionResponse,
        lambda answer: answer.introduction,
    )
    def request_introduction(
        self, idea_id: str, peer_organization_id: str, message: str = ""
    ) -> domain_pb2.Introduction: ...

    @unary(
        gateway_pb2.AnswerIntroductionRequest,
        gateway_pb2.AnswerIntroductionResponse,
        lambda answer: answer.introduction,
    )
    def answer_introduction(
        self, introduction_id: str, *, accept: bool, organization_id: str = ""
    ) -> domain_pb2.Introduction: ...

    @unary(
        gateway_pb2.ListIntroductionsRequest,
        gateway_pb2.ListIntroductionsResponse,
        lambda answer: list(answer.introductions),
    )
    def list_introductions(self, organization_id: str = "") -> list[domain_pb2.Introduction]: ...

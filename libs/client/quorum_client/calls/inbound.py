"""The calls of `quorum.gateway.v1.InboundService`: endpoints for webhook-only systems."""

# mypy: disable-error-code="empty-body"
# (each call is declared by its signature; quorum_client.channel.unary makes the call)

from __future__ import annotations

from quorum.gateway.v1 import gateway_pb2
from quorum_client.channel import Connection, unary


class InboundCalls(Connection):
    @unary(
        gateway_pb2.CreateInboundEndpointRequest,
        gateway_pb2.CreateInboundEndpointResponse,
        lambda answer: answer.endpoint,
    )
    def create_inbound_endpoint(
        self, endpoint: gateway_pb2.InboundEndpoint
    ) -> gateway_pb2.InboundEndpoint:
        """The endpoint with its signing secret (shown only now)."""

    @unary(
        gateway_pb2.ListInboundEndpointsRequest,
        gateway_pb2.ListInboundEndpointsResponse,
        lambda answer: list(answer.endpoints),
    )
    def list_inbound_endpoints(self) -> list[gateway_pb2.InboundEndpoint]: ...

    @unary(
        gateway_pb2.DeleteInboundEndpointRequest,
        gateway_pb2.DeleteInboundEndpointResponse,
        lambda answer: None,
    )
    def delete_inbound_endpoint(self, endpoint_id: str) -> None: ...

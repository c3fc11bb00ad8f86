"""The calls of `quorum.gateway.v1.InboundService`: endpoints for webhook-only systems."""

from __future__ import annotations

from functools import cached_property

from quorum.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from quorum_client.channel import Connection


class InboundCalls(Connection):
    @cached_property
    def _inbound(self) -> gateway_pb2_grpc.InboundServiceStub:
        return gateway_pb2_grpc.InboundServiceStub(self._channel)

    def create_inbound_endpoint(
        self, endpoint: gateway_pb2.InboundEndpoint
    ) -> gateway_pb2.InboundEndpoint:
        """The endpoint with its signing secret (shown only now)."""
        return self._call(
            self._inbound.CreateInboundEndpoint,
            gateway_pb2.CreateInboundEndpointRequest(endpoint=endpoint),
        ).endpoint

    def list_inbound_endpoints(self) -> list[gateway_pb2.InboundEndpoint]:
        return list(
            self._call(
                self._inbound.ListInboundEndpoints, gateway_pb2.ListInboundEndpointsRequest()
            ).endpoints
        )

    def delete_inbound_endpoint(self, endpoint_id: str) -> None:
        self._call(
            self._inbound.DeleteInboundEndpoint,
            gateway_pb2.DeleteInboundEndpointRequest(endpoint_id=endpoint_id),
        )

"""The calls of `quorum.gateway.v1.PolicyService`: the pipeline and its versioned gate policies."""

from __future__ import annotations

from functools import cached_property

from quorum.domain.v1 import domain_pb2
from quorum.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from quorum_client.channel import Connection


class PolicyCalls(Connection):
    @cached_property
    def _policies(self) -> gateway_pb2_grpc.PolicyServiceStub:
        return gateway_pb2_grpc.PolicyServiceStub(self._channel)

    def get_pipeline(self) -> domain_pb2.Pipeline:
        return self._call(self._policies.GetPipeline, gateway_pb2.GetPipelineRequest()).pipeline

    def update_gate_policy(self, policy: domain_pb2.GatePolicy) -> domain_pb2.GatePolicy:
        """Store a new version of the gate into `policy.stage` (the version is assigned)."""
        return self._call(
            self._policies.UpdateGatePolicy, gateway_pb2.UpdateGatePolicyRequest(policy=policy)
        ).policy

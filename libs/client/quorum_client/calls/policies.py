"""The calls of `quorum.gateway.v1.PolicyService`: the pipeline and its versioned gate policies."""

# mypy: disable-error-code="empty-body"
# (each call is declared by its signature; quorum_client.channel.unary makes the call)

from __future__ import annotations

from quorum.domain.v1 import domain_pb2
from quorum.gateway.v1 import gateway_pb2
from quorum_client.channel import Connection, unary


class PolicyCalls(Connection):
    @unary(
        gateway_pb2.GetPipelineRequest,
        gateway_pb2.GetPipelineResponse,
        lambda answer: answer.pipeline,
    )
    def get_pipeline(self) -> domain_pb2.Pipeline: ...

    @unary(
        gateway_pb2.UpdateGatePolicyRequest,
        gateway_pb2.UpdateGatePolicyResponse,
        lambda answer: answer.policy,
    )
    def update_gate_policy(self, policy: domain_pb2.GatePolicy) -> domain_pb2.GatePolicy:
        """Store a new version of the gate into `policy.stage` (the version is assigned)."""

"""The calls of `quorum.gateway.v1.GatesService`.

Gate reports and stage decisions: advance, decline, council votes, override, co-sign.
"""

# mypy: disable-error-code="empty-body"
# (each call is declared by its signature; quorum_client.channel.unary makes the call)

from __future__ import annotations

from quorum.gateway.v1 import gateway_pb2
from quorum_client.channel import Connection, unary


class GatesCalls(Connection):
    @unary(gateway_pb2.GetGateReportRequest, gateway_pb2.GetGateReportResponse)
    def get_gate_report(self, idea_id: str) -> gateway_pb2.GetGateReportResponse: ...

    @unary(gateway_pb2.AdvanceStageRequest, gateway_pb2.AdvanceStageResponse)
    def advance_stage(
        self, idea_id: str, target_stage: str, *, expected_version: int = 0
    ) -> gateway_pb2.AdvanceStageResponse:
        """Move to the next stage; a gate that does not hold raises FAILED_PRECONDITION
        with the unmet criteria (and the report) on the QuorumError."""

    @unary(gateway_pb2.DeclineIdeaRequest, gateway_pb2.DeclineIdeaResponse)
    def decline_idea(
        self, idea_id: str, reason: str, *, expected_version: int = 0
    ) -> gateway_pb2.DeclineIdeaResponse: ...

    @unary(gateway_pb2.CastCouncilVoteRequest, gateway_pb2.CastCouncilVoteResponse)
    def cast_council_vote(
        self,
        idea_id: str,
        council_id: str,
        organization_id: str = "",
        *,
        approve: bool,
        comment: str = "",
    ) -> gateway_pb2.CastCouncilVoteResponse:
        """A council member organization's vote on the idea's next gate (changeable
        until the idea advances); `organization_id` is implied by a CUSTOMER key."""

    @unary(gateway_pb2.OverrideStageRequest, gateway_pb2.OverrideStageResponse)
    def override_stage(
        self, idea_id: str, target_stage: str, justification: str, *, expected_version: int = 0
    ) -> gateway_pb2.OverrideStageResponse:
        """VENDOR_ADMIN: move past a gate that does not hold (justification ≥ 20
        characters); recorded for good, counted on the scorecard, announced."""

    @unary(
        gateway_pb2.CoSignIdeaRequest,
        gateway_pb2.CoSignIdeaResponse,
        lambda answer: list(answer.co_signed_by),
    )
    def co_sign_idea(self, idea_id: str, council_id: str) -> list[str]:
        """A council backs an idea; the answer is every council now backing it."""

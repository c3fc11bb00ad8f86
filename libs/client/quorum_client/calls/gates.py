"""The calls of `quorum.gateway.v1.GatesService`.

Gate reports and stage decisions: advance, decline, council votes, override, co-sign.
"""

from __future__ import annotations

from functools import cached_property

from quorum.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from quorum_client.channel import Connection


class GatesCalls(Connection):
    @cached_property
    def _gates(self) -> gateway_pb2_grpc.GatesServiceStub:
        return gateway_pb2_grpc.GatesServiceStub(self._channel)

    def get_gate_report(self, idea_id: str) -> gateway_pb2.GetGateReportResponse:
        return self._call(
            self._gates.GetGateReport, gateway_pb2.GetGateReportRequest(idea_id=idea_id)
        )

    def advance_stage(
        self, idea_id: str, target_stage: str, *, expected_version: int = 0
    ) -> gateway_pb2.AdvanceStageResponse:
        """Move to the next stage; a gate that does not hold raises FAILED_PRECONDITION
        with the unmet criteria (and the report) on the QuorumError."""
        return self._call(
            self._gates.AdvanceStage,
            gateway_pb2.AdvanceStageRequest(
                idea_id=idea_id, target_stage=target_stage, expected_version=expected_version
            ),
        )

    def decline_idea(
        self, idea_id: str, reason: str, *, expected_version: int = 0
    ) -> gateway_pb2.DeclineIdeaResponse:
        return self._call(
            self._gates.DeclineIdea,
            gateway_pb2.DeclineIdeaRequest(
                idea_id=idea_id, reason=reason, expected_version=expected_version
            ),
        )

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
        return self._call(
            self._gates.CastCouncilVote,
            gateway_pb2.CastCouncilVoteRequest(
                idea_id=idea_id,
                council_id=council_id,
                organization_id=organization_id,
                approve=approve,
                comment=comment,
            ),
        )

    def override_stage(
        self, idea_id: str, target_stage: str, justification: str, *, expected_version: int = 0
    ) -> gateway_pb2.OverrideStageResponse:
        """VENDOR_ADMIN: move past a gate that does not hold (justification ≥ 20
        characters); recorded for good, counted on the scorecard, announced."""
        return self._call(
            self._gates.OverrideStage,
            gateway_pb2.OverrideStageRequest(
                idea_id=idea_id,
                target_stage=target_stage,
                justification=justification,
                expected_version=expected_version,
            ),
        )

    def co_sign_idea(self, idea_id: str, council_id: str) -> list[str]:
        """A council backs an idea; the answer is every council now backing it."""
        answer = self._call(
            self._gates.CoSignIdea,
            gateway_pb2.CoSignIdeaRequest(idea_id=idea_id, council_id=council_id),
        )
        return list(answer.co_signed_by)

"""The validation service's internal gRPC API (only the gateway calls it)."""

from __future__ import annotations

import uuid
from typing import Any

import grpc

from quorum.validation.v1 import validation_pb2, validation_pb2_grpc
from quorum_common.errors import Violations
from quorum_validation.ledger import Ledger

Context = grpc.aio.ServicerContext[Any, Any]


def _require_idea(tenant_id: str, idea_id: str) -> None:
    violations = Violations()
    if not tenant_id:
        violations.add("tenant_id", "is required")
    try:
        uuid.UUID(idea_id)
    except ValueError:
        violations.add("idea_id", "must be a UUID")
    violations.raise_if_any()


class GateApi(validation_pb2_grpc.GateServiceServicer):
    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger

    async def GetIdeaProgress(
        self, request: validation_pb2.GetIdeaProgressRequest, context: Context
    ) -> validation_pb2.GetIdeaProgressResponse:
        _require_idea(request.tenant_id, request.idea_id)
        progress = await self._ledger.progress(request.tenant_id, request.idea_id)
        return validation_pb2.GetIdeaProgressResponse(
            idea_id=request.idea_id,
            stage=progress["stage"],
            status=progress["status"],
            next_stage=progress["next_stage"],
        )

"""What the stage ledger has counted, as a caller of the public API sees it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import grpc

from quorum.gateway.v1 import gateway_pb2

if TYPE_CHECKING:
    from quorum.gateway.v1.gateway_pb2_grpc import GatesServiceAsyncStub


async def customers_counted(gates: GatesServiceAsyncStub, idea_id: str) -> float | None:
    """The gate report's count of customers (None: the ledger has not recorded the idea).

    Endorsements reach the ledger through Kafka; tests that assert on what the ledger
    judges wait for this count first.
    """
    try:
        report = await gates.GetGateReport(gateway_pb2.GetGateReportRequest(idea_id=idea_id))
    except grpc.aio.AioRpcError as error:
        if error.code() != grpc.StatusCode.NOT_FOUND:
            raise
        return None
    found = [c.actual for c in report.report.criteria if c.name == "min_customers"]
    return found[0] if found else None

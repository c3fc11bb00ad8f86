"""Failures of the public API in readable form: `QuorumError` and what it carries.

The gateway sends a rich status (google.rpc.BadRequest, PreconditionFailure, RetryInfo,
the gate report); this unpacks it once, so no caller parses `grpc-status-details-bin`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from quorum.domain.v1 import domain_pb2


@dataclass(frozen=True)
class FieldViolation:
    """One bad field of a request (from google.rpc.BadRequest)."""

    field: str
    description: str


@dataclass(frozen=True)
class PreconditionViolation:
    """One unmet condition (from google.rpc.PreconditionFailure), e.g. a gate criterion."""

    type: str
    subject: str
    description: str


class QuorumError(Exception):
    """A call the gateway refused or could not answer, in readable form.

    `code` is the gRPC status code; `message` the gateway's sentence. For bad input,
    `field_violations` names every offending field; for a refused advance,
    `precondition_violations` lists the unmet criteria and `gate_report` carries the
    whole report (when the gateway sent it).
    """

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        *,
        field_violations: Iterable[FieldViolation] = (),
        precondition_violations: Iterable[PreconditionViolation] = (),
        gate_report: domain_pb2.GateReport | None = None,
        retry_delay: float | None = None,
    ) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message
        self.field_violations = tuple(field_violations)
        self.precondition_violations = tuple(precondition_violations)
        self.gate_report = gate_report
        # Seconds the gateway asks the caller to wait (google.rpc.RetryInfo), e.g.
        # when a key's rate limit answered RESOURCE_EXHAUSTED.
        self.retry_delay = retry_delay

    @classmethod
    def from_rpc_error(
        cls, error: grpc.RpcError, *, address: str = "", timeout: float | None = None
    ) -> QuorumError:
        """Translate a grpc error, reading the google.rpc.Status details it carries."""
        code = error.code() or grpc.StatusCode.UNKNOWN
        message = error.details() or code.name.lower().replace("_", " ")
        status = None
        if isinstance(error, grpc.Call):
            try:
                status = rpc_status.from_call(error)
            except ValueError:
                # The details disagree with the code or message: a proxy rewrote the
                # status. The plain code and message are still the truth; keep those.
                status = None
        fields: list[FieldViolation] = []
        preconditions: list[PreconditionViolation] = []
        report: domain_pb2.GateReport | None = None
        retry_delay: float | None = None
        details: list[any_pb2.Any] = list(status.details) if status is not None else []
        for detail in details:
            if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad_request = error_details_pb2.BadRequest()
                detail.Unpack(bad_request)
                fields.extend(
                    FieldViolation(v.field, v.description) for v in bad_request.field_violations
                )
            elif detail.Is(error_details_pb2.PreconditionFailure.DESCRIPTOR):
                failure = error_details_pb2.PreconditionFailure()
                detail.Unpack(failure)
                preconditions.extend(
                    PreconditionViolation(v.type, v.subject, v.description)
                    for v in failure.violations
                )
            elif detail.Is(domain_pb2.GateReport.DESCRIPTOR):
                report = domain_pb2.GateReport()
                detail.Unpack(report)
            elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                retry = error_details_pb2.RetryInfo()
                detail.Unpack(retry)
                retry_delay = retry.retry_delay.ToTimedelta().total_seconds()
        if status is None and address:
            message = _transport_message(code, message, address, timeout)
        return cls(
            code,
            message,
            field_violations=fields,
            precondition_violations=preconditions,
            gate_report=report,
            retry_delay=retry_delay,
        )


def _transport_message(
    code: grpc.StatusCode, message: str, address: str, timeout: float | None
) -> str:
    """grpc's own wording for transport failures is long and cryptic; say what happened."""
    if code is grpc.StatusCode.UNAVAILABLE and "connect" in message.lower():
        # "failed to connect to all addresses; last error: ...: Connection refused (111)"
        reason = message.rsplit(": ", 1)[-1]
        return f"cannot reach the Quorum gateway at {address} ({reason})"
    if code is grpc.StatusCode.DEADLINE_EXCEEDED and timeout is not None:
        return f"no answer from the Quorum gateway at {address} within {timeout:g}s"
    return message

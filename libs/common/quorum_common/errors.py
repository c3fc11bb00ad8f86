"""Errors every service raises, and how they map onto gRPC status codes.

Domain code raises these; the gRPC interceptor in `quorum_common.grpc` turns them
into statuses, so no handler ever leaks UNKNOWN or a stack trace to a caller.
"""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf.message import Message


class StartupError(Exception):
    """A service cannot start; the message names the setting to fix."""


@dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str


class QuorumError(Exception):
    """Base of the errors a caller is allowed to see."""


class InvalidArgument(QuorumError):
    def __init__(self, violations: list[FieldViolation], message: str | None = None) -> None:
        self.violations = violations
        fields = ", ".join(f"{v.field}: {v.description}" for v in violations)
        super().__init__(message or f"invalid argument: {fields}")


class NotFound(QuorumError):
    pass


class AlreadyExists(QuorumError):
    pass


class Conflict(QuorumError):
    """A concurrent update won; the caller should re-read and retry (ABORTED)."""


@dataclass(frozen=True)
class PreconditionViolation:
    """One unmet condition, e.g. a gate criterion (type), its name (subject)."""

    type: str
    subject: str
    description: str


class FailedPrecondition(QuorumError):
    """The request is valid but the state does not allow it (yet).

    `violations` become a google.rpc.PreconditionFailure; `details` are extra
    protobuf messages (e.g. a GateReport) packed into the status.
    """

    def __init__(
        self,
        message: str,
        violations: list[PreconditionViolation] | None = None,
        details: list[Message] | None = None,
    ) -> None:
        super().__init__(message)
        self.violations = violations or []
        self.details = details or []


class PermissionDenied(QuorumError):
    pass


class Unauthenticated(QuorumError):
    pass


class ResourceExhausted(QuorumError):
    """A limit (rate, size) was reached; retrying later may succeed.

    `retry_after` (seconds), when known, travels as a google.rpc.RetryInfo.
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(QuorumError):
    """A dependency (another service, MongoDB) cannot be reached right now."""


class Violations:
    """Collects every problem with a request so the caller sees them all at once."""

    def __init__(self) -> None:
        self._items: list[FieldViolation] = []

    def add(self, field: str, description: str) -> None:
        self._items.append(FieldViolation(field, description))

    def raise_if_any(self) -> None:
        if self._items:
            raise InvalidArgument(list(self._items))

    def __bool__(self) -> bool:
        return bool(self._items)

"""Python client and CLI for Quorum's public gRPC API."""

from __future__ import annotations

from quorum_client.client import (
    ADDRESS_ENV,
    API_KEY_ENV,
    CA_FILE_ENV,
    DEFAULT_ADDRESS,
    DEFAULT_TIMEOUT,
    Client,
    EventStream,
    FieldViolation,
    PreconditionViolation,
    QuorumError,
)

__all__ = [
    "ADDRESS_ENV",
    "API_KEY_ENV",
    "CA_FILE_ENV",
    "DEFAULT_ADDRESS",
    "DEFAULT_TIMEOUT",
    "Client",
    "EventStream",
    "FieldViolation",
    "PreconditionViolation",
    "QuorumError",
]

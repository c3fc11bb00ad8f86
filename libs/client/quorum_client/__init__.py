"""Python client and CLI for Quorum's public gRPC API.

`Client` (client.py) is every call of the public API (calls/, one module per public
service) over one channel (channel.py); failures are `QuorumError` (errors.py). The
`quorum` CLI is the cli/ package, one module per command group; render/ is how
answers look to a person.
"""

from __future__ import annotations

from quorum_client.calls.events import EventStream
from quorum_client.channel import (
    ADDRESS_ENV,
    API_KEY_ENV,
    CA_FILE_ENV,
    DEFAULT_ADDRESS,
    DEFAULT_TIMEOUT,
)
from quorum_client.client import Client
from quorum_client.errors import FieldViolation, PreconditionViolation, QuorumError

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

"""The domain's words more than one service speaks, declared once.

Each takes its numbers from the contract (`quorum.domain.v1`), so a message's value
converts with `Importance(message.importance)` and a stored document keeps the same
number in every service. The CLI's choices (quorum_client.cli.choices) spell the same
names as people type them; a unit test keeps the two equal.
"""

from __future__ import annotations

from enum import IntEnum

from quorum.domain.v1 import domain_pb2


class Importance(IntEnum):
    """How much an idea matters to the member who endorses it."""

    NICE_TO_HAVE = domain_pb2.IMPORTANCE_NICE_TO_HAVE
    IMPORTANT = domain_pb2.IMPORTANCE_IMPORTANT
    CRITICAL = domain_pb2.IMPORTANCE_CRITICAL

"""A small typed client for Quorum's public gRPC API (`quorum.gateway.v1`).

One `Client` talks to one gateway with one API key; every method is one RPC of the
contract and answers with the contract's own protobuf messages, so nothing here has
to change when a field is added. Failures come out as `QuorumError`, which unpacks
the rich status the gateway sends (google.rpc.BadRequest, PreconditionFailure, the
gate report) so callers never have to parse `grpc-status-details-bin` themselves.
"""

from __future__ import annotations

import os

from quorum_client.calls.access import AccessCalls
from quorum_client.calls.directory import DirectoryCalls
from quorum_client.calls.events import EventsCalls
from quorum_client.calls.gates import GatesCalls
from quorum_client.calls.ideas import IdeasCalls
from quorum_client.calls.inbound import InboundCalls
from quorum_client.calls.insights import InsightsCalls
from quorum_client.calls.notifications import NotificationsCalls
from quorum_client.calls.peers import PeersCalls
from quorum_client.calls.policies import PolicyCalls
from quorum_client.channel import ADDRESS_ENV, API_KEY_ENV, DEFAULT_ADDRESS, DEFAULT_TIMEOUT

__all__ = ["Client"]


class Client(
    IdeasCalls,
    GatesCalls,
    InsightsCalls,
    PeersCalls,
    DirectoryCalls,
    PolicyCalls,
    AccessCalls,
    NotificationsCalls,
    InboundCalls,
    EventsCalls,
):
    """Quorum's public API over one channel, authenticated by one API key.

    `timeout` (seconds) bounds every unary call; the gateway propagates it to the
    services behind it. Use as a context manager, or call `close()`. Where each call
    lives: quorum_client.calls, one module per public service; the channel and the
    key: quorum_client.channel.
    """

    @classmethod
    def from_env(cls, timeout: float = DEFAULT_TIMEOUT) -> Client:
        """QUORUM_ADDRESS (default 127.0.0.1:50051) and QUORUM_API_KEY."""
        return cls(
            os.environ.get(ADDRESS_ENV) or DEFAULT_ADDRESS,
            os.environ.get(API_KEY_ENV) or None,
            timeout,
        )

    def with_key(self, api_key: str) -> Client:
        """Another client for the same gateway acting with another key (own channel)."""
        return Client(self.address, api_key, self.timeout, tls=self.tls, ca_file=self.ca_file)

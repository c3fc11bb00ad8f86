"""The calls of `quorum.gateway.v1.AccessService`: API keys and the principals behind them."""

# mypy: disable-error-code="empty-body"
# (each call is declared by its signature; quorum_client.channel.unary makes the call)

from __future__ import annotations

from collections.abc import Iterable

from quorum.gateway.v1 import gateway_pb2
from quorum_client.channel import Connection, unary


class AccessCalls(Connection):
    @unary(gateway_pb2.CreateApiKeyRequest, gateway_pb2.CreateApiKeyResponse)
    def create_api_key(
        self,
        *,
        principal_id: str,
        display_name: str,
        role: gateway_pb2.Role.ValueType,
        organization_id: str = "",
        member_id: str = "",
        organization_ids: Iterable[str] = (),
    ) -> gateway_pb2.CreateApiKeyResponse:
        """Create a key; `secret` in the answer is shown this once and never again."""

    @unary(
        gateway_pb2.ListApiKeysRequest,
        gateway_pb2.ListApiKeysResponse,
        lambda answer: list(answer.keys),
    )
    def list_api_keys(self, *, include_revoked: bool = False) -> list[gateway_pb2.ApiKey]: ...

    @unary(
        gateway_pb2.RevokeApiKeyRequest, gateway_pb2.RevokeApiKeyResponse, lambda answer: answer.key
    )
    def revoke_api_key(self, key_id: str) -> gateway_pb2.ApiKey: ...

    @unary(gateway_pb2.WhoAmIRequest, gateway_pb2.WhoAmIResponse)
    def who_am_i(self) -> gateway_pb2.WhoAmIResponse: ...

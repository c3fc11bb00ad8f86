"""The calls of `quorum.gateway.v1.AccessService`: API keys and the principals behind them."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cached_property

from quorum.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from quorum_client.channel import Connection


class AccessCalls(Connection):
    @cached_property
    def _access(self) -> gateway_pb2_grpc.AccessServiceStub:
        return gateway_pb2_grpc.AccessServiceStub(self._channel)

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
        return self._call(
            self._access.CreateApiKey,
            gateway_pb2.CreateApiKeyRequest(
                principal_id=principal_id,
                display_name=display_name,
                role=role,
                organization_id=organization_id,
                member_id=member_id,
                organization_ids=list(organization_ids),
            ),
        )

    def list_api_keys(self, *, include_revoked: bool = False) -> list[gateway_pb2.ApiKey]:
        request = gateway_pb2.ListApiKeysRequest(include_revoked=include_revoked)
        answer = self._call(self._access.ListApiKeys, request)
        return list(answer.keys)

    def revoke_api_key(self, key_id: str) -> gateway_pb2.ApiKey:
        return self._call(
            self._access.RevokeApiKey, gateway_pb2.RevokeApiKeyRequest(key_id=key_id)
        ).key

    def who_am_i(self) -> gateway_pb2.WhoAmIResponse:
        return self._call(self._access.WhoAmI, gateway_pb2.WhoAmIRequest())

"""AccessService: API keys and who the caller is."""

from __future__ import annotations

import re

from quorum.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from quorum_common.errors import (
    FieldViolation,
    InvalidArgument,
    NotFound,
    Violations,
)
from quorum_gateway.api import Context
from quorum_gateway.auth import current_principal
from quorum_gateway.keys import KeyStore, key_message
from quorum_gateway.principals import (
    Role,
)

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")


class AccessApi(gateway_pb2_grpc.AccessServiceServicer):
    def __init__(self, keys: KeyStore) -> None:
        self._keys = keys

    async def CreateApiKey(
        self, request: gateway_pb2.CreateApiKeyRequest, context: Context
    ) -> gateway_pb2.CreateApiKeyResponse:
        principal = current_principal()
        violations = Violations()
        if not _ID.match(request.principal_id):
            violations.add("principal_id", "must be 1-128 letters, digits or ._:@-")
        if not request.display_name.strip() or len(request.display_name) > 200:
            violations.add("display_name", "is required, at most 200 characters")
        if request.role not in {r.value for r in Role}:
            violations.add("role", "must be VENDOR_ADMIN, PRODUCT_MANAGER, CUSTOMER or INTEGRATION")
        role = Role(request.role) if request.role in {r.value for r in Role} else None
        if role is Role.CUSTOMER:
            if not _ID.match(request.organization_id):
                violations.add("organization_id", "is required for a CUSTOMER key")
            if not _ID.match(request.member_id):
                violations.add("member_id", "is required for a CUSTOMER key")
        if role is Role.INTEGRATION:
            if not request.organization_ids:
                violations.add("organization_ids", "an INTEGRATION key needs its organizations")
            for index, org in enumerate(request.organization_ids):
                if not _ID.match(org):
                    violations.add(f"organization_ids[{index}]", "is not an organization id")
        violations.raise_if_any()
        assert role is not None
        doc, secret = await self._keys.create(
            principal.tenant_id,
            principal_id=request.principal_id,
            display_name=request.display_name.strip(),
            role=role,
            organization_id=request.organization_id if role is Role.CUSTOMER else "",
            member_id=request.member_id if role is Role.CUSTOMER else "",
            organization_ids=list(request.organization_ids) if role is Role.INTEGRATION else [],
            created_by=principal.principal_id,
        )
        return gateway_pb2.CreateApiKeyResponse(key=key_message(doc), secret=secret)

    async def ListApiKeys(
        self, request: gateway_pb2.ListApiKeysRequest, context: Context
    ) -> gateway_pb2.ListApiKeysResponse:
        principal = current_principal()
        keys = await self._keys.list(principal.tenant_id, request.include_revoked)
        return gateway_pb2.ListApiKeysResponse(keys=keys)

    async def RevokeApiKey(
        self, request: gateway_pb2.RevokeApiKeyRequest, context: Context
    ) -> gateway_pb2.RevokeApiKeyResponse:
        principal = current_principal()
        if not request.key_id:
            raise InvalidArgument([FieldViolation("key_id", "is required")])
        doc = await self._keys.revoke(principal.tenant_id, request.key_id)
        return gateway_pb2.RevokeApiKeyResponse(key=key_message(doc))

    async def WhoAmI(
        self, request: gateway_pb2.WhoAmIRequest, context: Context
    ) -> gateway_pb2.WhoAmIResponse:
        principal = current_principal()
        keys = await self._keys.list(principal.tenant_id, include_revoked=False)
        mine = next((k for k in keys if k.key_id == principal.key_id), None)
        if mine is None:
            raise NotFound("this key is gone")
        return gateway_pb2.WhoAmIResponse(tenant_id=principal.tenant_id, key=mine)

"""The public InboundService: vendor admins give integration keys inbound endpoints."""

from __future__ import annotations

import secrets

from quorum.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from quorum_common.errors import NotFound, Violations
from quorum_common.events import now
from quorum_common.grpc_server import Context
from quorum_common.mongo import Document
from quorum_common.secretbox import SecretBox
from quorum_gateway.auth import current_principal
from quorum_gateway.inbound_mapping import FieldMap, check_mapping, check_source
from quorum_gateway.inbound_store import (
    ACTIONS,
    ENDPOINTS_MAX,
    InboundStore,
    endpoint_message,
    source_document,
    source_of,
)
from quorum_gateway.keys import KeyStore
from quorum_gateway.principals import Role

DISPLAY_NAME_MAX = 200
SECRET_MIN, SECRET_MAX = 16, 256
ENDPOINT_ID_MAX = 64


class InboundApi(gateway_pb2_grpc.InboundServiceServicer):
    def __init__(self, store: InboundStore, keys: KeyStore, box: SecretBox) -> None:
        self._store = store
        self._keys = keys
        self._box = box

    async def CreateInboundEndpoint(
        self, request: gateway_pb2.CreateInboundEndpointRequest, context: Context
    ) -> gateway_pb2.CreateInboundEndpointResponse:
        principal = current_principal()
        wanted = request.endpoint
        violations = Violations()
        if not request.HasField("endpoint"):
            violations.add("endpoint", "is required")
        action = ACTIONS.get(wanted.action)
        if action is None:
            violations.add(
                "endpoint.action",
                "must be INBOUND_ACTION_SUBMIT_IDEA or INBOUND_ACTION_ENDORSE_IDEA",
            )
        if len(wanted.display_name) > DISPLAY_NAME_MAX:
            violations.add(
                "endpoint.display_name", f"must be at most {DISPLAY_NAME_MAX} characters"
            )
        secret = wanted.secret
        if secret and not (SECRET_MIN <= len(secret) <= SECRET_MAX and secret.isprintable()):
            violations.add(
                "endpoint.secret",
                f"must be {SECRET_MIN}-{SECRET_MAX} printable characters (or empty: one is "
                "generated)",
            )
        fields = [FieldMap(f.field, source_of(f.value), f.optional) for f in wanted.fields]
        if action is not None:
            for problem in check_mapping(action, fields):
                violations.add(f"endpoint.{problem.field}", problem.description)
        delivery = source_of(wanted.delivery_id)
        if wanted.HasField("delivery_id"):
            wrong = check_source(delivery, constant_allowed=False)
            if wrong is not None:
                violations.add("endpoint.delivery_id", wrong)
        await self._check_key(violations, principal.tenant_id, wanted.key_id)
        violations.raise_if_any()
        if await self._store.count(principal.tenant_id) >= ENDPOINTS_MAX:
            violations.add("endpoint", f"a tenant has at most {ENDPOINTS_MAX} inbound endpoints")
            violations.raise_if_any()

        assert action is not None
        secret = secret or f"whsec_{secrets.token_urlsafe(32)}"
        doc: Document = {
            # The URL's last segment, unguessable: for an endpoint that accepts unsigned
            # requests it is the only credential.
            "_id": f"in_{secrets.token_urlsafe(24)}",
            "tenant_id": principal.tenant_id,
            "key_id": wanted.key_id,
            "display_name": wanted.display_name.strip(),
            "action": action.value,
            "fields": [
                {"field": f.field, "source": source_document(f.source), "optional": f.optional}
                for f in fields
            ],
            "secret": self._box.seal(secret),
            "accept_unsigned": wanted.accept_unsigned,
            "created_at": now(),
            "created_by": principal.principal_id,
        }
        if wanted.HasField("delivery_id"):
            doc["delivery_id"] = source_document(delivery)
        await self._store.add_endpoint(doc)
        return gateway_pb2.CreateInboundEndpointResponse(endpoint=endpoint_message(doc, secret))

    async def _check_key(self, violations: Violations, tenant_id: str, key_id: str) -> None:
        if not key_id:
            violations.add("endpoint.key_id", "is required: the INTEGRATION key it acts as")
            return
        if len(key_id) > ENDPOINT_ID_MAX or not key_id.isalnum():
            violations.add("endpoint.key_id", "must be an API key id (ListApiKeys)")
            return
        key = await self._keys.find(tenant_id, key_id)
        if key is None or key.get("revoked_at"):
            violations.add("endpoint.key_id", "must be an unrevoked API key of this tenant")
        elif key["role"] != Role.INTEGRATION:
            violations.add("endpoint.key_id", "must be an INTEGRATION key")

    async def ListInboundEndpoints(
        self, request: gateway_pb2.ListInboundEndpointsRequest, context: Context
    ) -> gateway_pb2.ListInboundEndpointsResponse:
        principal = current_principal()
        docs = await self._store.endpoints(principal.tenant_id)
        return gateway_pb2.ListInboundEndpointsResponse(
            endpoints=[endpoint_message(d) for d in docs]
        )

    async def DeleteInboundEndpoint(
        self, request: gateway_pb2.DeleteInboundEndpointRequest, context: Context
    ) -> gateway_pb2.DeleteInboundEndpointResponse:
        principal = current_principal()
        violations = Violations()
        if not request.endpoint_id:
            violations.add("endpoint_id", "is required")
        elif len(request.endpoint_id) > ENDPOINT_ID_MAX:
            violations.add("endpoint_id", f"must be at most {ENDPOINT_ID_MAX} characters")
        violations.raise_if_any()
        if not await self._store.remove_endpoint(principal.tenant_id, request.endpoint_id):
            raise NotFound(f"inbound endpoint {request.endpoint_id} not found")
        return gateway_pb2.DeleteInboundEndpointResponse()

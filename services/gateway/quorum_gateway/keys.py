"""API keys in the gateway's own database: stored hashed, shown once, revocable."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from datetime import datetime

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from quorum.gateway.v1 import gateway_pb2
from quorum_common.errors import AlreadyExists, NotFound, Unauthenticated
from quorum_common.events import now, timestamp
from quorum_common.mongo import Document, ensure_indexes
from quorum_gateway.principals import Principal, Role, hash_secret, key_id_of, matches, new_secret

KEYS = "api_keys"
TENANTS = "tenants"
# `qd_<key id>_<proof>`: this process acting as a key it holds no secret of (an inbound
# endpoint acting as its integration key, calling the gateway's own gRPC port).
DELEGATE_PREFIX = "qd"


def principal_of(doc: Document) -> Principal:
    return Principal(
        tenant_id=doc["tenant_id"],
        key_id=doc["_id"],
        principal_id=doc["principal_id"],
        display_name=doc["display_name"],
        role=Role(doc["role"]),
        organization_id=doc.get("organization_id", ""),
        member_id=doc.get("member_id", ""),
        organization_ids=frozenset(doc.get("organization_ids", [])),
    )


def key_message(doc: Document) -> gateway_pb2.ApiKey:
    message = gateway_pb2.ApiKey(
        key_id=doc["_id"],
        principal_id=doc["principal_id"],
        display_name=doc["display_name"],
        role=doc["role"],
        organization_id=doc.get("organization_id", ""),
        member_id=doc.get("member_id", ""),
        organization_ids=doc.get("organization_ids", []),
        created_at=timestamp(doc["created_at"]),
        created_by=doc.get("created_by", ""),
    )
    if doc.get("revoked_at"):
        message.revoked_at.CopyFrom(timestamp(doc["revoked_at"]))
    return message


class KeyStore:
    def __init__(self, database: AsyncDatabase[Document], cache_seconds: float) -> None:
        self._database = database
        self._keys = database[KEYS]
        self._tenants = database[TENANTS]
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, str, Principal | None]] = {}
        # Never leaves the process: a delegate secret is valid in the process that made it.
        self._delegation = secrets.token_bytes(32)

    async def create_indexes(self) -> None:
        await ensure_indexes(
            self._database,
            {
                KEYS: [IndexModel([("tenant_id", ASCENDING), ("created_at", ASCENDING)])],
                TENANTS: [],
            },
        )

    async def create_tenant(self, tenant_id: str, name: str) -> None:
        try:
            await self._tenants.insert_one({"_id": tenant_id, "name": name, "created_at": now()})
        except DuplicateKeyError:
            raise AlreadyExists(f"tenant {tenant_id} exists") from None

    async def tenant_exists(self, tenant_id: str) -> bool:
        return await self._tenants.find_one({"_id": tenant_id}) is not None

    async def create(
        self,
        tenant_id: str,
        *,
        principal_id: str,
        display_name: str,
        role: Role,
        organization_id: str = "",
        member_id: str = "",
        organization_ids: list[str] | None = None,
        created_by: str = "",
    ) -> tuple[Document, str]:
        key_id = uuid.uuid4().hex[:16]
        secret = new_secret(key_id)
        doc: Document = {
            "_id": key_id,
            "tenant_id": tenant_id,
            "hash": hash_secret(secret),
            "principal_id": principal_id,
            "display_name": display_name,
            "role": int(role),
            "organization_id": organization_id,
            "member_id": member_id,
            "organization_ids": sorted(set(organization_ids or [])),
            "created_at": now(),
            "created_by": created_by,
            "revoked_at": None,
        }
        await self._keys.insert_one(doc)
        return doc, secret

    def delegate(self, key_id: str) -> str:
        """A secret this process accepts as the key's own, while the key is valid."""
        return f"{DELEGATE_PREFIX}_{key_id}_{self._proof(key_id)}"

    def _proof(self, key_id: str) -> str:
        return hmac.new(self._delegation, key_id.encode(), hashlib.sha256).hexdigest()

    async def find(self, tenant_id: str, key_id: str) -> Document | None:
        return await self._keys.find_one({"_id": key_id, "tenant_id": tenant_id})

    async def authenticate(self, secret: str) -> Principal:
        """The principal of a valid, unrevoked key; UNAUTHENTICATED otherwise.

        Verified keys are cached for a few seconds, so a revocation takes effect
        within `cache_seconds` on every replica without a read per call.
        """
        if secret.startswith(f"{DELEGATE_PREFIX}_"):
            return await self._delegated(secret)
        key_id = key_id_of(secret)
        known_hash, principal = await self._principal(key_id)
        if principal is None or not matches(secret, known_hash):
            raise Unauthenticated("the API key is not valid (unknown, revoked or mistyped)")
        return principal

    async def _delegated(self, secret: str) -> Principal:
        _, key_id, proof = [*secret.split("_", 2), "", ""][:3]
        if not key_id or not hmac.compare_digest(proof, self._proof(key_id)):
            raise Unauthenticated("the API key is not valid (unknown, revoked or mistyped)")
        _, principal = await self._principal(key_id)
        if principal is None:
            raise Unauthenticated("the API key is not valid (unknown, revoked or mistyped)")
        return principal

    async def _principal(self, key_id: str) -> tuple[str, Principal | None]:
        moment = time.monotonic()
        cached = self._cache.get(key_id)
        if cached is not None and moment - cached[0] < self._cache_seconds:
            _, known_hash, principal = cached
        else:
            doc = await self._keys.find_one({"_id": key_id})
            principal = principal_of(doc) if doc and not doc.get("revoked_at") else None
            known_hash = doc["hash"] if doc else ""
            self._cache[key_id] = (moment, known_hash, principal)
        return known_hash, principal

    async def list(self, tenant_id: str, include_revoked: bool) -> list[gateway_pb2.ApiKey]:
        query: Document = {"tenant_id": tenant_id}
        if not include_revoked:
            query["revoked_at"] = None
        cursor = self._keys.find(query, sort=[("created_at", ASCENDING)])
        return [key_message(doc) async for doc in cursor]

    async def revoke(self, tenant_id: str, key_id: str, at: datetime | None = None) -> Document:
        doc = await self._keys.find_one_and_update(
            {"_id": key_id, "tenant_id": tenant_id},
            {"$set": {"revoked_at": at or now()}},
            return_document=True,
        )
        if doc is None:
            raise NotFound(f"API key {key_id} not found")
        self._cache.pop(key_id, None)
        return doc

"""Inbound endpoints and the deliveries they received, in the gateway's own database.

An endpoint's signing secret is stored encrypted (`quorum_common.secretbox`, the key
from GATEWAY_SECRETS_KEY). Each delivery is recorded under its endpoint and the
sender's delivery id before it is acted on, and its answer kept once it was, so a
sender's retry is answered with the first result (the idea it made) and never makes a
second one; the record of a signed request also holds a mark of its signature, unique,
so the same signed request sent again under another delivery id is refused.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from quorum.gateway.v1 import gateway_pb2
from quorum_common.events import timestamp
from quorum_common.mongo import Document, ensure_indexes
from quorum_gateway.inbound_mapping import DELIVERY_ID_HEADER, Action, FieldMap, Source

ENDPOINTS = "inbound_endpoints"
DELIVERIES = "inbound_deliveries"
# How long a delivery's answer is kept for the sender's retries. Past it a retry still
# makes no second idea (SubmitIdea's request_id is the delivery id's), it is only
# answered afresh.
DELIVERIES_KEPT = timedelta(days=30)
ENDPOINTS_MAX = 500

ACTIONS = {
    gateway_pb2.INBOUND_ACTION_SUBMIT_IDEA: Action.SUBMIT_IDEA,
    gateway_pb2.INBOUND_ACTION_ENDORSE_IDEA: Action.ENDORSE_IDEA,
}
ACTION_NUMBERS = {action: number for number, action in ACTIONS.items()}


def source_of(value: gateway_pb2.InboundValue) -> Source:
    which = value.WhichOneof("source")
    if which == "pointer":
        return Source(pointer=value.pointer)
    if which == "header":
        return Source(header=value.header)
    if which == "constant":
        return Source(constant=value.constant)
    return Source()


def source_document(source: Source) -> Document:
    if source.pointer:
        return {"pointer": source.pointer}
    if source.header:
        return {"header": source.header}
    return {"constant": source.constant}


def source_from(doc: Document) -> Source:
    return Source(
        pointer=doc.get("pointer", ""), header=doc.get("header", ""), constant=doc.get("constant")
    )


def value_message(source: Source) -> gateway_pb2.InboundValue:
    if source.pointer:
        return gateway_pb2.InboundValue(pointer=source.pointer)
    if source.header:
        return gateway_pb2.InboundValue(header=source.header)
    return gateway_pb2.InboundValue(constant=source.constant or "")


def fields_of(doc: Document) -> list[FieldMap]:
    return [
        FieldMap(f["field"], source_from(f["source"]), f.get("optional", False))
        for f in doc["fields"]
    ]


def delivery_source(doc: Document) -> Source:
    return (
        source_from(doc["delivery_id"])
        if doc.get("delivery_id")
        else Source(header=DELIVERY_ID_HEADER)
    )


def endpoint_message(doc: Document, secret: str = "") -> gateway_pb2.InboundEndpoint:
    """The endpoint as the API shows it; `secret` (plain) only in the answer that made it."""
    return gateway_pb2.InboundEndpoint(
        endpoint_id=doc["_id"],
        key_id=doc["key_id"],
        display_name=doc.get("display_name", ""),
        action=ACTION_NUMBERS[Action(doc["action"])],
        fields=[
            gateway_pb2.InboundField(
                field=f.field, value=value_message(f.source), optional=f.optional
            )
            for f in fields_of(doc)
        ],
        delivery_id=value_message(delivery_source(doc)),
        secret=secret,
        accept_unsigned=doc.get("accept_unsigned", False),
        created_at=timestamp(doc["created_at"]),
    )


def delivery_key(endpoint_id: str, delivery_id: str) -> str:
    # Hashed: a sender's id may be long or hold any character.
    return f"{endpoint_id}/{hashlib.sha256(delivery_id.encode()).hexdigest()[:40]}"


class InboundStore:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._database = database
        self._endpoints = database[ENDPOINTS]
        self._deliveries = database[DELIVERIES]

    async def create_indexes(self) -> None:
        await ensure_indexes(
            self._database,
            {
                ENDPOINTS: [IndexModel([("tenant_id", ASCENDING), ("created_at", ASCENDING)])],
                DELIVERIES: [
                    IndexModel(
                        [("signature", ASCENDING)],
                        name="one_delivery_per_signature",
                        unique=True,
                        partialFilterExpression={"signature": {"$type": "string"}},
                    ),
                    IndexModel(
                        [("created_at", ASCENDING)],
                        name="kept_for_retries",
                        expireAfterSeconds=int(DELIVERIES_KEPT.total_seconds()),
                    ),
                ],
            },
        )

    async def add_endpoint(self, doc: Document) -> None:
        await self._endpoints.insert_one(doc)

    async def endpoint(self, endpoint_id: str) -> Document | None:
        return await self._endpoints.find_one({"_id": endpoint_id})

    async def endpoints(self, tenant_id: str) -> list[Document]:
        return await self._endpoints.find(
            {"tenant_id": tenant_id}, sort=[("created_at", ASCENDING)], limit=ENDPOINTS_MAX
        ).to_list()

    async def count(self, tenant_id: str) -> int:
        return await self._endpoints.count_documents({"tenant_id": tenant_id})

    async def remove_endpoint(self, tenant_id: str, endpoint_id: str) -> bool:
        done = await self._endpoints.delete_one({"_id": endpoint_id, "tenant_id": tenant_id})
        return done.deleted_count == 1

    async def answered(self, key: str) -> dict[str, Any] | None:
        """The answer kept for a delivery already acted on."""
        doc = await self._deliveries.find_one({"_id": key, "answer": {"$exists": True}})
        return None if doc is None else dict(doc["answer"])

    async def begin(self, key: str, doc: Document) -> str:
        """Records a delivery about to be acted on: "new", "known" (its id) or "replayed"."""
        try:
            await self._deliveries.insert_one({"_id": key, **doc})
        except DuplicateKeyError as error:
            pattern = (error.details or {}).get("keyPattern", {})
            if "signature" in pattern and await self._deliveries.find_one({"_id": key}) is None:
                return "replayed"
            return "known"
        return "new"

    async def finish(self, key: str, answer: dict[str, Any], at: datetime) -> None:
        await self._deliveries.update_one(
            {"_id": key}, {"$set": {"answer": answer, "answered_at": at}}
        )

    async def forget(self, key: str) -> None:
        """A delivery that was refused is not kept: the sender may send it again, corrected."""
        await self._deliveries.delete_one({"_id": key, "answer": {"$exists": False}})

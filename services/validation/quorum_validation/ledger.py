"""The stage ledger: where each idea stands, the source of truth for stages."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, AsyncMongoClient, IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from quorum.domain.v1 import domain_pb2
from quorum.events.v1 import events_pb2
from quorum_common.consumer import PROCESSED, PROCESSED_INDEXES
from quorum_common.errors import NotFound
from quorum_common.events import from_timestamp
from quorum_common.mongo import Document, ensure_indexes
from quorum_common.outbox import INDEXES as OUTBOX_INDEXES
from quorum_validation.pipeline import DEFAULT_STAGES

LEDGER = "stage_ledger"


def next_stage(stages: tuple[str, ...], stage: str) -> str:
    index = stages.index(stage)
    return stages[index + 1] if index + 1 < len(stages) else ""


class Ledger:
    def __init__(
        self, client: AsyncMongoClient[Document], database: AsyncDatabase[Document]
    ) -> None:
        self._client = client
        self._database = database
        self._ledger = database[LEDGER]

    async def create_indexes(self) -> None:
        await ensure_indexes(
            self._database,
            {
                LEDGER: [IndexModel([("tenant_id", ASCENDING), ("stage", ASCENDING)])],
                PROCESSED: PROCESSED_INDEXES,
                "outbox": OUTBOX_INDEXES,
            },
        )

    async def apply(self, session: AsyncClientSession, event: events_pb2.Event) -> None:
        """Apply one idea event to the ledger (inside the consumer's transaction)."""
        if event.WhichOneof("payload") == "idea_submitted":
            await self._record_submitted(session, event)

    async def _record_submitted(self, session: AsyncClientSession, event: events_pb2.Event) -> None:
        submitted = event.idea_submitted
        stages = DEFAULT_STAGES
        # $setOnInsert: a replayed submission never moves an idea back to the start.
        await self._ledger.update_one(
            {"_id": event.envelope.idea_id},
            {
                "$setOnInsert": {
                    "tenant_id": event.envelope.tenant_id,
                    "stage": stages[0],
                    "stages": list(stages),
                    "status": domain_pb2.IDEA_STATUS_OPEN,
                    "sponsor_organization_id": submitted.submitted_by.organization_id,
                    "entered_stage_at": from_timestamp(event.envelope.occurred_at),
                    "created_at": from_timestamp(submitted.created_at),
                }
            },
            upsert=True,
            session=session,
        )

    async def progress(self, tenant_id: str, idea_id: str) -> dict[str, Any]:
        doc = await self._ledger.find_one({"_id": idea_id, "tenant_id": tenant_id})
        if doc is None:
            raise NotFound(f"idea {idea_id} is not in the stage ledger (yet)")
        stages = tuple(doc["stages"])
        return {
            "stage": doc["stage"],
            "status": doc["status"],
            "next_stage": next_stage(stages, doc["stage"]),
        }

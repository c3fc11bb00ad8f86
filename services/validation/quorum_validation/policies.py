"""Each tenant's pipeline and versioned gate policies (MongoDB).

A tenant without a stored pipeline has the default one. Every change to a policy
writes a new version and keeps the old ones, so a recorded decision can always be
re-evaluated against exactly the policy it used.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from quorum_common.errors import FieldViolation, InvalidArgument
from quorum_common.events import now
from quorum_common.mongo import Document
from quorum_validation.directory import mark_changed
from quorum_validation.gate import GatePolicy
from quorum_validation.messages import policy_document, policy_from
from quorum_validation.pipeline import Pipeline, default_pipeline

PIPELINES = "pipelines"
POLICY_VERSIONS = "policy_versions"
INDEXES = {
    PIPELINES: [],
    POLICY_VERSIONS: [
        IndexModel([("tenant_id", ASCENDING), ("stage", ASCENDING), ("version", ASCENDING)])
    ],
}


def pipeline_from(doc: dict[str, Any]) -> Pipeline:
    return Pipeline(
        stages=tuple(doc["stages"]),
        policies={p["stage"]: policy_from(p) for p in doc["policies"]},
    )


class PolicyStore:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._database = database
        self._pipelines = database[PIPELINES]
        self._versions = database[POLICY_VERSIONS]

    async def pipeline(self, tenant_id: str, session: AsyncClientSession | None = None) -> Pipeline:
        doc = await self._pipelines.find_one({"_id": tenant_id}, session=session)
        return pipeline_from(doc) if doc else default_pipeline()

    async def pipelines(
        self, tenant_ids: Iterable[str], session: AsyncClientSession | None = None
    ) -> dict[str, Pipeline]:
        """The pipelines of several tenants (one command); the default is built once."""
        tenants = sorted(set(tenant_ids))
        found = {t: default_pipeline() for t in tenants}
        if tenants:
            async for doc in self._pipelines.find({"_id": {"$in": tenants}}, session=session):
                found[doc["_id"]] = pipeline_from(doc)
        return found

    async def update_policy(
        self, session: AsyncClientSession, tenant_id: str, draft: GatePolicy
    ) -> GatePolicy:
        """Store `draft` as the next version of its stage's policy."""
        current = await self.pipeline(tenant_id, session)
        if draft.stage not in current.stages[1:]:
            raise InvalidArgument(
                [
                    FieldViolation(
                        "policy.stage",
                        f"must be one of the gated stages {', '.join(current.stages[1:])}",
                    )
                ]
            )
        previous = current.policies[draft.stage]
        policy = replace(draft, version=previous.version + 1)
        policies = {**current.policies, policy.stage: policy}
        at = now()
        await self._pipelines.replace_one(
            {"_id": tenant_id},
            {
                "_id": tenant_id,
                "stages": list(current.stages),
                "policies": [policy_document(policies[s]) for s in current.stages[1:]],
                "updated_at": at,
            },
            upsert=True,
            session=session,
        )
        await self._versions.insert_one(
            {"tenant_id": tenant_id, "at": at, **policy_document(policy)}, session=session
        )
        await mark_changed(self._database, session, tenant_id)
        return policy

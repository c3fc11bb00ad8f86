"""Decision records: every advance, refusal, override and decline, frozen for good.

A decision keeps the policy version and a frozen snapshot of what was judged: every
organization's counted endorsement and weight, the votes and the councils, so that the
verdict can be replayed exactly (what-if, scorecards). The decision document holds the
policy, the report (with the heaviest organizations listed, like every report) and
the votes; the evidence goes into `decision_evidence` in chunks of at most 1,000
organizations, so no document grows with an idea's popularity.

Decisions recorded before chunks embedded the evidence (`evidence`, `report.weights`);
`snapshot` reads both.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.cursor import AsyncCursor
from pymongo.asynchronous.database import AsyncDatabase

from quorum.domain.v1 import domain_pb2
from quorum_common.mongo import Document
from quorum_validation.gate import Council, Evidence, GatePolicy, GateReport
from quorum_validation.lifecycle import Entry
from quorum_validation.messages import (
    endorsement_document,
    policy_document,
    report_document,
    weight_document,
)

DECISIONS = "decisions"
DECISION_EVIDENCE = "decision_evidence"
CHUNK = 1_000
INDEXES = {
    DECISIONS: [IndexModel([("tenant_id", ASCENDING), ("idea_id", ASCENDING)])],
    DECISION_EVIDENCE: [
        IndexModel([("decision_id", ASCENDING), ("chunk", ASCENDING)]),
        IndexModel([("tenant_id", ASCENDING), ("evidence.organization_id", ASCENDING)]),
    ],
}
# The kinds of decision that end an organization's wait (scorecards).
DECIDED = ("ADVANCED", "DECLINED", "OVERRIDDEN")


def _actor(message: domain_pb2.Actor) -> Document:
    return {
        "principal_id": message.principal_id,
        "role": message.role,
        "display_name": message.display_name,
    }


class Decisions:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._decisions = database[DECISIONS]
        self._chunks = database[DECISION_EVIDENCE]

    async def record(
        self,
        session: AsyncClientSession,
        entry: Entry,
        kind: str,
        actor: domain_pb2.Actor,
        at: datetime,
        evidence: Evidence,
        *,
        policy: GatePolicy | None = None,
        report: GateReport | None = None,
        reason: str = "",
    ) -> None:
        """Keep the decision with the policy version and a frozen snapshot of weights."""
        decision_id = str(uuid.uuid4())
        endorsements = sorted(evidence.endorsements, key=lambda e: e.organization_id)
        weights = {w.organization_id: w for w in report.weights} if report else {}
        councils: Sequence[Council] = evidence.councils if policy else ()
        chunks = [endorsements[i : i + CHUNK] for i in range(0, len(endorsements), CHUNK)]
        await self._decisions.insert_one(
            {
                "_id": decision_id,
                "tenant_id": entry.tenant_id,
                "idea_id": entry.idea_id,
                "kind": kind,
                "from_stage": entry.stage,
                "to_stage": policy.stage if policy else "",
                "actor": _actor(actor),
                "reason": reason,
                "at": at,
                "policy": policy_document(policy) if policy else None,
                "report": report_document(report) if report else None,
                "sponsor_organization_id": entry.sponsor_organization_id,
                "organization_count": len(endorsements),
                "evidence_chunks": len(chunks),
                "votes": [
                    {"council_id": c, "organization_id": o, "approve": a}
                    for c, votes in sorted(evidence.council_votes.items())
                    for o, a in sorted(votes.items())
                ],
                "councils": [
                    {
                        "council_id": c.council_id,
                        "name": c.name,
                        "member_organization_ids": sorted(c.member_ids),
                        "quorum": c.quorum,
                    }
                    for c in councils
                ],
            },
            session=session,
        )
        if chunks:
            await self._chunks.insert_many(
                [
                    {
                        "_id": f"{decision_id}/{number:06d}",
                        "decision_id": decision_id,
                        "tenant_id": entry.tenant_id,
                        "idea_id": entry.idea_id,
                        "chunk": number,
                        # The evidence as judged, so the verdict can be replayed exactly.
                        "evidence": [endorsement_document(e) for e in chunk],
                        "weights": [
                            weight_document(weights[e.organization_id])
                            for e in chunk
                            if e.organization_id in weights
                        ],
                    }
                    for number, chunk in enumerate(chunks)
                ],
                session=session,
            )

    async def snapshot(self, decision: Document) -> tuple[list[Document], list[Document]]:
        """A decision's frozen endorsements and weights (every organization's)."""
        if "evidence" in decision:  # recorded before chunks
            report = decision.get("report") or {}
            return list(decision["evidence"]), list(report.get("weights", []))
        endorsements: list[Document] = []
        weights: list[Document] = []
        cursor = self._chunks.find({"decision_id": decision["_id"]}, sort=[("chunk", ASCENDING)])
        async for chunk in cursor:
            endorsements.extend(chunk["evidence"])
            weights.extend(chunk["weights"])
        return endorsements, weights

    async def endorsed_before(
        self, tenant_id: str, organization_id: str
    ) -> list[tuple[datetime, datetime]]:
        """(endorsed at, decided at) of the organization in every decision that ended a wait."""
        found: list[tuple[datetime, datetime]] = []
        old = self._decisions.find(
            {
                "tenant_id": tenant_id,
                "kind": {"$in": list(DECIDED)},
                "evidence.organization_id": organization_id,
            }
        )
        async for decision in old:
            mine = next(e for e in decision["evidence"] if e["organization_id"] == organization_id)
            found.append((mine["endorsed_at"], decision["at"]))
        endorsed: dict[str, datetime] = {}
        chunks = self._chunks.find(
            {"tenant_id": tenant_id, "evidence.organization_id": organization_id},
            projection={"decision_id": 1, "evidence.$": 1},
        )
        async for chunk in chunks:
            endorsed[chunk["decision_id"]] = chunk["evidence"][0]["endorsed_at"]
        if endorsed:
            decided = self._decisions.find(
                {"_id": {"$in": list(endorsed)}, "kind": {"$in": list(DECIDED)}},
                projection={"at": 1},
            )
            async for decision in decided:
                found.append((endorsed[decision["_id"]], decision["at"]))
        return found

    async def count(self, query: Document) -> int:
        return await self._decisions.count_documents(query)

    async def single_customer_ideas_stopped(self, tenant_id: str) -> int:
        stopped = await self._decisions.distinct(
            "idea_id",
            {
                "tenant_id": tenant_id,
                "kind": "REJECTED",
                "$or": [{"evidence": {"$size": 1}}, {"organization_count": 1}],
            },
        )
        return len(stopped)

    def advances_into(self, tenant_id: str, stage: str) -> AsyncCursor[Document]:
        """The advances into `stage`, oldest first (a cursor)."""
        return self._decisions.find(
            {"tenant_id": tenant_id, "kind": "ADVANCED", "to_stage": stage}, sort=[("at", 1)]
        )

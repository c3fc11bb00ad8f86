"""Scorecards and what-if: reading the ledger and the decisions, changing nothing."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, replace
from datetime import datetime

from pymongo.asynchronous.database import AsyncDatabase

from quorum_common.errors import FieldViolation, InvalidArgument
from quorum_common.events import now
from quorum_common.mongo import Document
from quorum_validation.gate import (
    Council,
    Evidence,
    GatePolicy,
    GateReport,
    Organization,
    Relationship,
    evaluate,
)
from quorum_validation.ledger import LEDGER, entry_of
from quorum_validation.lifecycle import Status
from quorum_validation.messages import endorsement_from
from quorum_validation.stores import Stores


@dataclass(frozen=True)
class OrganizationScorecard:
    submitted: int
    endorsed: int
    launched: int
    declined_with_reason: int
    median_days_to_decision: float
    decisions: int


@dataclass(frozen=True)
class TenantScorecard:
    overrides: int
    launched: int
    launched_without_override: int
    single_customer_ideas_stopped: int

    @property
    def share_launched_without_override(self) -> float:
        return self.launched_without_override / self.launched if self.launched else 0.0


@dataclass(frozen=True)
class Verdict:
    idea_id: str
    holds_now: bool
    holds_with_draft: bool
    summary: str


@dataclass(frozen=True)
class Refused:
    idea_id: str
    decided_at: datetime
    summary: str


@dataclass(frozen=True)
class WhatIf:
    stage: str
    would_open: list[Verdict]
    would_close: list[Verdict]
    unchanged: int
    refused: list[Refused]
    checked: int


def days_between(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / 86_400


def snapshot_organizations(weights: list[Document]) -> dict[str, Organization]:
    """The directory as a decision saw it, rebuilt from its frozen weights."""
    organizations = {}
    for weight in weights:
        if weight.get("excluded_reason") == "unknown_organization":
            continue
        customer = weight["customer_id"]
        organizations[weight["organization_id"]] = Organization(
            organization_id=weight["organization_id"],
            name=weight["organization_name"],
            segment=weight["segment"],
            arr=weight["arr"],
            relationship=Relationship(weight["relationship"] or "ACTIVE"),
            poor_fit=weight.get("excluded_reason") == "poor_fit",
            parent_id=customer if customer != weight["organization_id"] else None,
        )
    return organizations


def replay_with(
    policy: GatePolicy, decision: Document, endorsements: list[Document], weights: list[Document]
) -> GateReport:
    """What `policy` would have said at the moment of a recorded decision."""
    votes: dict[str, dict[str, bool]] = {}
    for vote in decision.get("votes", []):
        votes.setdefault(vote["council_id"], {})[vote["organization_id"]] = vote["approve"]
    councils = tuple(
        Council(
            c["council_id"], c["name"], frozenset(c["member_organization_ids"]), c.get("quorum")
        )
        for c in decision.get("councils", [])
    )
    return evaluate(
        policy,
        Evidence(
            endorsements=tuple(endorsement_from(e) for e in endorsements),
            sponsor_organization_id=decision["sponsor_organization_id"],
            organizations=snapshot_organizations(weights),
            councils=councils,
            council_votes=votes,
        ),
        decision["report"]["evaluated_at"],
    )


class Insights:
    def __init__(
        self,
        database: AsyncDatabase[Document],
        stores: Stores,
    ) -> None:
        self._ledger = database[LEDGER]
        self._stores = stores

    async def organization(self, tenant_id: str, organization_id: str) -> OrganizationScorecard:
        submitted = await self._ledger.count_documents(
            {"tenant_id": tenant_id, "sponsor_organization_id": organization_id}
        )
        endorsed_ideas = await self._stores.evidence.ideas_endorsed_by(tenant_id, organization_id)
        endorsed_query = {"tenant_id": tenant_id, "_id": {"$in": endorsed_ideas}}
        launched = await self._ledger.count_documents(
            {**endorsed_query, "status": Status.LAUNCHED.value}
        )
        declined = await self._ledger.count_documents(
            {**endorsed_query, "status": Status.DECLINED.value}
        )
        waits = [
            max(0.0, days_between(endorsed_at, decided_at))
            for endorsed_at, decided_at in await self._stores.decisions.endorsed_before(
                tenant_id, organization_id
            )
        ]
        return OrganizationScorecard(
            submitted=submitted,
            endorsed=len(endorsed_ideas),
            launched=launched,
            declined_with_reason=declined,
            median_days_to_decision=statistics.median(waits) if waits else 0.0,
            decisions=len(waits),
        )

    async def tenant(self, tenant_id: str) -> TenantScorecard:
        overrides = await self._stores.decisions.count(
            {"tenant_id": tenant_id, "kind": "OVERRIDDEN"}
        )
        launched = await self._ledger.count_documents(
            {"tenant_id": tenant_id, "status": Status.LAUNCHED.value}
        )
        clean = await self._ledger.count_documents(
            {"tenant_id": tenant_id, "status": Status.LAUNCHED.value, "overridden": {"$ne": True}}
        )
        stopped = await self._stores.decisions.single_customer_ideas_stopped(tenant_id)
        return TenantScorecard(overrides, launched, clean, stopped)

    async def what_if(self, tenant_id: str, draft: GatePolicy) -> WhatIf:
        pipeline = await self._stores.policies.pipeline(tenant_id)
        if draft.stage not in pipeline.stages[1:]:
            raise InvalidArgument(
                [FieldViolation("draft.stage", f"must be one of {', '.join(pipeline.stages[1:])}")]
            )
        current = pipeline.policy_into(draft.stage)
        draft = replace(draft, version=current.version + 1)
        before = pipeline.stages[pipeline.stages.index(draft.stage) - 1]
        directory = await self._stores.directory.load(tenant_id)
        moment = now()
        opened, closed, unchanged = [], [], 0
        cursor = self._ledger.find(
            {"tenant_id": tenant_id, "status": Status.OPEN.value, "stage": before}
        )
        async for doc in cursor:
            entry = entry_of(doc)
            records = await self._stores.evidence.idea_records(None, tenant_id, entry.idea_id)
            evidence = Evidence(
                endorsements=tuple(r.endorsement for r in records if r.endorsement is not None),
                sponsor_organization_id=entry.sponsor_organization_id,
                organizations=directory.organizations,
                councils=directory.councils,
                council_votes=entry.votes_for(draft.stage),
            )
            now_report = evaluate(current, evidence, moment)
            draft_report = evaluate(draft, evidence, moment)
            verdict = Verdict(
                entry.idea_id, now_report.holds, draft_report.holds, draft_report.summary
            )
            if draft_report.holds and not now_report.holds:
                opened.append(verdict)
            elif now_report.holds and not draft_report.holds:
                closed.append(verdict)
            else:
                unchanged += 1
        refused, checked = [], 0
        async for decision in self._stores.decisions.advances_into(tenant_id, draft.stage):
            checked += 1
            endorsements, weights = await self._stores.decisions.snapshot(decision)
            replayed = replay_with(draft, decision, endorsements, weights)
            if not replayed.holds:
                refused.append(Refused(decision["idea_id"], decision["at"], replayed.summary))
        return WhatIf(draft.stage, opened, closed, unchanged, refused, checked)

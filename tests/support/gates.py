"""Small builders for example-based gate tests: organizations, endorsements, evidence, policies."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from quorum_validation.gate import (
    Commitment,
    Council,
    CriterionResult,
    Endorsement,
    Evidence,
    GatePolicy,
    GateReport,
    Importance,
    Organization,
    Relationship,
    Weighting,
)

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
ACTIVE = Relationship.ACTIVE
PROSPECT = Relationship.PROSPECT
CHURNED = Relationship.CHURNED


def org(
    oid: str,
    segment: str = "retail",
    arr: int = 100_000,
    relationship: Relationship = ACTIVE,
    *,
    poor_fit: bool = False,
    parent_id: str | None = None,
    name: str | None = None,
) -> Organization:
    return Organization(oid, name or oid.upper(), segment, arr, relationship, poor_fit, parent_id)


def endorse(
    oid: str,
    importance: Importance = Importance.IMPORTANT,
    commitments: Iterable[Commitment] = (),
    at: datetime = NOW,
) -> Endorsement:
    return Endorsement(oid, importance, frozenset(commitments), at)


def evidence(
    endorsements: Iterable[Endorsement],
    organizations: Iterable[Organization],
    *,
    sponsor: str | None = None,
    councils: Iterable[Council] = (),
    votes: Mapping[str, Mapping[str, bool]] | None = None,
) -> Evidence:
    return Evidence.of(
        endorsements,
        organizations,
        sponsor_organization_id=sponsor,
        councils=councils,
        council_votes=votes,
    )


def criterion(report: GateReport, name: str, subject: str | None = None) -> CriterionResult:
    matches = [
        c for c in report.criteria if c.name == name and (subject is None or c.subject == subject)
    ]
    assert len(matches) == 1, report.criteria
    return matches[0]


def names(report: GateReport) -> list[str]:
    return [c.name for c in report.criteria]


def policy(**kwargs: Any) -> GatePolicy:
    kwargs.setdefault("stage", "DISCOVERY")
    kwargs.setdefault("weighting", Weighting.EQUAL)
    return GatePolicy(**kwargs)


def weight_of(report: GateReport, oid: str) -> float:
    return next(w.weight for w in report.weights if w.organization_id == oid)

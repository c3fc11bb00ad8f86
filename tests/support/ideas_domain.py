"""Builders for the ideas service's pure-rule tests: members, endorsements, submissions,
and `Backed`, which plays the store's part.

An idea keeps counts; the rules look only at the backing of the one organization a
change is about (`OrganizationBacking`), which is what makes a change cost the same on
an idea with 50,000 endorsements. `Backed` keeps every organization's backing beside
the idea, so the tests can state what the whole idea looks like after a sequence of
changes."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from quorum_common.errors import InvalidArgument
from quorum_ideas.domain import (
    Commitment,
    Idea,
    Importance,
    Member,
    MemberEndorsement,
    OrganizationBacking,
    OrganizationEndorsement,
    Status,
    endorse,
    merge,
    new_idea,
    submitter_endorsement,
    withdraw,
)
from quorum_ideas.requests import (
    check_submission,
)

T0 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
TENANT = "acme-software"
CRITICAL = Importance.CRITICAL
IMPORTANT = Importance.IMPORTANT
NICE = Importance.NICE_TO_HAVE
BETA = Commitment.BETA_TESTER
CO_DEVELOP = Commitment.CO_DEVELOP
PREORDER = Commitment.PREORDER


def member(org: str, who: str) -> Member:
    return Member(org, who)


def endorsement(
    org: str,
    who: str,
    importance: Importance = IMPORTANT,
    commitments: Iterable[Commitment] = (),
    *,
    impact: str = "",
    minutes: int = 0,
) -> MemberEndorsement:
    return MemberEndorsement(
        member=member(org, who),
        importance=importance,
        impact=impact,
        commitments=frozenset(commitments),
        endorsed_at=T0 + timedelta(minutes=minutes),
    )


def submission(**overrides: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "title": "Export gate reports to CSV",
        "problem": "Our portfolio board reviews gate decisions in spreadsheets.",
        "product_area": "reporting",
        "tags": ["Export", "csv", "export"],
        "source_channel": 1,
        "known_channels": {1, 2},
        "submitted_by": member("acme", "ana"),
        "importance": 2,
        "impact": "",
        "commitments": [],
    }
    fields.update(overrides)
    return fields


class Backed:
    """An idea with every organization's backing, changed only through the rules."""

    def __init__(
        self,
        *endorsements: MemberEndorsement,
        status: Status = Status.OPEN,
        version: int = 1,
    ) -> None:
        checked = check_submission(**submission())  # type: ignore[arg-type]
        idea = new_idea(str(uuid.uuid4()), TENANT, checked, T0)
        first = submitter_endorsement(idea, checked)
        self.backings: dict[str, OrganizationBacking] = {}
        for e in endorsements or (first,):
            org = e.member.organization_id
            self.backings[org] = self.backing(org).with_endorsement(e)
        self.idea = replace(
            idea,
            status=status,
            version=version,
            merged_into="" if status is not Status.MERGED else str(uuid.uuid4()),
            organization_count=len(self.backings),
            endorsement_count=sum(len(b.endorsements) for b in self.backings.values()),
        )

    def backing(self, org: str) -> OrganizationBacking:
        return self.backings.get(org) or OrganizationBacking(org)

    def counted(self, org: str) -> OrganizationEndorsement | None:
        return self.backing(org).counted()

    def organizations(self) -> list[str]:
        return sorted(org for org, b in self.backings.items() if b.endorsements)

    def endorse(self, e: MemberEndorsement, expected_version: int = 0) -> bool:
        """Apply an endorsement; False when it changed nothing."""
        done = endorse(self.idea, self.backing(e.member.organization_id), e, expected_version)
        if done is None:
            return False
        self.idea = done.idea
        self.backings[done.backing.organization_id] = done.backing
        return True

    def withdraw(self, who: Member, at: datetime = T0, expected_version: int = 0) -> None:
        done = withdraw(self.idea, self.backing(who.organization_id), who, at, expected_version)
        self.idea = done.idea
        self.backings[done.backing.organization_id] = done.backing


def an_idea(
    *endorsements: MemberEndorsement, status: Status = Status.OPEN, version: int = 1
) -> Idea:
    return Backed(*endorsements, status=status, version=version).idea


def merged_pair(source: Backed, target: Backed, at: datetime = T0, *versions: int) -> Backed:
    """Merge `source` into `target`; the target as it stands afterwards."""
    moving = [e for b in source.backings.values() for e in b.endorsements]
    done = merge(source.idea, target.idea, moving, target.backings, at, *versions)
    source.idea = done.source
    target.idea = done.target
    for backing in done.changed:
        target.backings[backing.organization_id] = backing
    target.carried = done.carried  # type: ignore[attr-defined]
    return target


def fields_of(error: InvalidArgument) -> set[str]:
    return {v.field for v in error.violations}

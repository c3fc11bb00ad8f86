"""An organization's backing of one idea: the rule for what it counts as, kept in totals.

An organization counts once per idea, at its members' highest importance, with every
commitment any of them made, as of its latest member's endorsement. Those follow from
a few totals, kept up to date by every change, so an endorsement never reads the other
members' records. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TypeVar

from quorum_ideas.vocabulary import (
    Commitment,
    Importance,
    Member,
    MemberEndorsement,
    OrganizationEndorsement,
)

# What BackingTotals counts members by.
_Counted = TypeVar("_Counted", Importance, Commitment)


@dataclass(frozen=True)
class BackingTotals:
    """What all of an organization's endorsing members of one idea add up to: how many
    endorse at each importance and with each commitment, and when the latest endorsed.

    Its counted endorsement (highest importance, every commitment, latest time, members)
    follows from these alone, so an endorsement changes them without reading the other
    members' records, however many the organization has.
    """

    members: int = 0
    # Members by importance, and by commitment (a member counts under each of its own).
    importance: Mapping[Importance, int] = field(default_factory=dict)
    commitments: Mapping[Commitment, int] = field(default_factory=dict)
    latest: datetime | None = None

    @classmethod
    def of(cls, endorsements: Iterable[MemberEndorsement]) -> BackingTotals:
        totals = cls()
        for endorsement in endorsements:
            totals = totals.plus(endorsement)
        return totals

    def plus(self, endorsement: MemberEndorsement) -> BackingTotals:
        latest = endorsement.endorsed_at
        return BackingTotals(
            members=self.members + 1,
            importance=_tallied(self.importance, [endorsement.importance], 1),
            commitments=_tallied(self.commitments, endorsement.commitments, 1),
            latest=latest if self.latest is None else max(self.latest, latest),
        )

    def minus(self, endorsement: MemberEndorsement) -> BackingTotals:
        """Without this member's endorsement; `latest` stays, as only a full read can
        tell the next latest (a withdrawal reads every record, see OrganizationBacking)."""
        return replace(
            self,
            members=self.members - 1,
            importance=_tallied(self.importance, [endorsement.importance], -1),
            commitments=_tallied(self.commitments, endorsement.commitments, -1),
        )

    def counted(self, organization_id: str) -> OrganizationEndorsement | None:
        if self.members <= 0 or self.latest is None:
            return None
        return OrganizationEndorsement(
            organization_id=organization_id,
            importance=max(self.importance),
            commitments=frozenset(self.commitments),
            endorsed_at=self.latest,
            member_count=self.members,
        )


def _tallied(
    counts: Mapping[_Counted, int], values: Iterable[_Counted], step: int
) -> dict[_Counted, int]:
    """`counts` with each of `values` counted `step` more; values counted none drop out."""
    changed = dict(counts)
    for value in values:
        changed[value] = changed.get(value, 0) + step
        if changed[value] <= 0:
            del changed[value]
    return changed


@dataclass(frozen=True)
class OrganizationBacking:
    """One organization's endorsements of one idea: the member records a change needs,
    and what all its members add up to.

    `complete` when `endorsements` holds every member's record, as a withdrawal and a
    merge need (the next latest endorsement is found among them); an endorsement reads
    only its own member's record and the totals, so its cost does not grow with the
    organization's members.
    """

    organization_id: str
    endorsements: tuple[MemberEndorsement, ...] = ()
    # None: worked out from `endorsements`, which then must be every member's record.
    totals: BackingTotals | None = None
    complete: bool = True

    def __post_init__(self) -> None:
        if self.totals is None:
            # A frozen dataclass's own derived field, set once while it is being made.
            object.__setattr__(self, "totals", BackingTotals.of(self.endorsements))

    @property
    def summed(self) -> BackingTotals:
        assert self.totals is not None  # set by __post_init__
        return self.totals

    @property
    def endorsing(self) -> bool:
        """Whether any member endorses the idea (the organization counts)."""
        return self.summed.members > 0

    def of(self, member: Member) -> MemberEndorsement | None:
        return next((e for e in self.endorsements if same_member(e.member, member)), None)

    def counted(self) -> OrganizationEndorsement | None:
        """What the organization counts as; None when no member endorses the idea."""
        return self.summed.counted(self.organization_id)

    def without(self, member: Member) -> OrganizationBacking:
        if not self.complete:
            raise ValueError("a withdrawal needs every member's record of the organization")
        kept = tuple(e for e in self.endorsements if not same_member(e.member, member))
        return OrganizationBacking(self.organization_id, kept)

    def with_endorsement(self, endorsement: MemberEndorsement) -> OrganizationBacking:
        previous = self.of(endorsement.member)
        kept = tuple(e for e in self.endorsements if not same_member(e.member, endorsement.member))
        if self.complete:
            return OrganizationBacking(self.organization_id, (*kept, endorsement))
        totals = self.summed if previous is None else self.summed.minus(previous)
        return replace(self, endorsements=(*kept, endorsement), totals=totals.plus(endorsement))


def count_by_organization(
    endorsements: Iterable[MemberEndorsement],
) -> list[OrganizationEndorsement]:
    """One counted endorsement per organization, ordered by organization id."""
    by_org: dict[str, list[MemberEndorsement]] = {}
    for endorsement in endorsements:
        by_org.setdefault(endorsement.member.organization_id, []).append(endorsement)
    return [
        OrganizationEndorsement(
            organization_id=org,
            importance=max(e.importance for e in members),
            commitments=frozenset().union(*(e.commitments for e in members)),
            endorsed_at=max(e.endorsed_at for e in members),
            member_count=len({e.member.member_id for e in members}),
        )
        for org, members in sorted(by_org.items())
    ]


def same_member(left: Member, right: Member) -> bool:
    # A member is who they are within their organization; the job function is a detail.
    return (left.organization_id, left.member_id) == (right.organization_id, right.member_id)


def member_key(member: Member) -> tuple[str, str]:
    return member.organization_id, member.member_id

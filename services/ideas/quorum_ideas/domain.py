"""The ideas service's rules, pure: what a valid idea is, how endorsements count.

No I/O here. The gRPC adapter (`api.py`) turns requests into these calls and the
store (`store.py`) persists what they return.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import IntEnum

from quorum_common.errors import Violations

TITLE_MAX = 200
PROBLEM_MAX = 10_000
PRODUCT_AREA_MAX = 100
IMPACT_MAX = 2_000
TAGS_MAX = 20
TAG_MAX = 50
ID_MAX = 128
_TAG = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


class Importance(IntEnum):
    NICE_TO_HAVE = 1
    IMPORTANT = 2
    CRITICAL = 3


class Commitment(IntEnum):
    BETA_TESTER = 1
    CO_DEVELOP = 2
    PREORDER = 3


class Status(IntEnum):
    OPEN = 1
    MERGED = 2
    DECLINED = 3
    LAUNCHED = 4


@dataclass(frozen=True)
class Member:
    organization_id: str
    member_id: str
    job_function: int = 0


@dataclass(frozen=True)
class MemberEndorsement:
    """One member's endorsement; an organization may have several."""

    member: Member
    importance: Importance
    impact: str
    commitments: frozenset[Commitment]
    endorsed_at: datetime


@dataclass(frozen=True)
class OrganizationEndorsement:
    """What the organization counts as: once, at its members' highest importance."""

    organization_id: str
    importance: Importance
    commitments: frozenset[Commitment]
    endorsed_at: datetime
    member_count: int


@dataclass(frozen=True)
class Submission:
    title: str
    problem: str
    product_area: str
    tags: tuple[str, ...]
    source_channel: int
    submitted_by: Member
    importance: Importance
    impact: str
    commitments: frozenset[Commitment]


@dataclass(frozen=True)
class Idea:
    id: str
    tenant_id: str
    title: str
    problem: str
    product_area: str
    tags: tuple[str, ...]
    source_channel: int
    submitted_by: Member
    created_at: datetime
    updated_at: datetime
    status: Status = Status.OPEN
    stage: str = ""
    merged_into: str = ""
    version: int = 1
    endorsements: tuple[MemberEndorsement, ...] = field(default_factory=tuple)

    def organization_endorsements(self) -> list[OrganizationEndorsement]:
        return count_by_organization(self.endorsements)

    def organization_endorsement(self, organization_id: str) -> OrganizationEndorsement | None:
        members = [e for e in self.endorsements if e.member.organization_id == organization_id]
        counted = count_by_organization(members)
        return counted[0] if counted else None


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


def normalize_tags(tags: Iterable[str]) -> tuple[str, ...]:
    """Lower-cased, trimmed, de-duplicated, in first-seen order."""
    return tuple(dict.fromkeys(tag.strip().lower() for tag in tags))


def check_member(violations: Violations, prefix: str, member: Member) -> None:
    for name, value in (
        ("organization_id", member.organization_id),
        ("member_id", member.member_id),
    ):
        if not value.strip():
            violations.add(f"{prefix}.{name}", "is required")
        elif len(value) > ID_MAX:
            violations.add(f"{prefix}.{name}", f"must be at most {ID_MAX} characters")


def check_endorsement_fields(
    violations: Violations, importance: int, impact: str, commitments: Iterable[int]
) -> None:
    if importance not in {i.value for i in Importance}:
        violations.add("importance", "must be NICE_TO_HAVE, IMPORTANT or CRITICAL")
    if len(impact) > IMPACT_MAX:
        violations.add("impact", f"must be at most {IMPACT_MAX} characters")
    known = {c.value for c in Commitment}
    for index, commitment in enumerate(commitments):
        if commitment not in known:
            violations.add(f"commitments[{index}]", "must be BETA_TESTER, CO_DEVELOP or PREORDER")


def check_submission(
    *,
    title: str,
    problem: str,
    product_area: str,
    tags: list[str],
    source_channel: int,
    known_channels: set[int],
    submitted_by: Member,
    importance: int,
    impact: str,
    commitments: list[int],
) -> Submission:
    """Every problem with a submission at once, or the clean Submission."""
    violations = Violations()
    if not title.strip():
        violations.add("title", "is required")
    elif len(title) > TITLE_MAX:
        violations.add("title", f"must be at most {TITLE_MAX} characters (got {len(title)})")
    if not problem.strip():
        violations.add("problem", "is required")
    elif len(problem) > PROBLEM_MAX:
        violations.add("problem", f"must be at most {PROBLEM_MAX} characters (got {len(problem)})")
    if not product_area.strip():
        violations.add("product_area", "is required")
    elif len(product_area) > PRODUCT_AREA_MAX:
        violations.add("product_area", f"must be at most {PRODUCT_AREA_MAX} characters")
    clean_tags = normalize_tags(tags)
    if len(clean_tags) > TAGS_MAX:
        violations.add("tags", f"at most {TAGS_MAX} tags")
    for index, tag in enumerate(clean_tags):
        if len(tag) > TAG_MAX or not _TAG.match(tag):
            violations.add(
                f"tags[{index}]",
                f"must be 1-{TAG_MAX} of a-z, 0-9, '.', '_', '-' starting with a letter or digit",
            )
    if source_channel not in known_channels:
        violations.add("source_channel", "must be one of the known source channels")
    check_member(violations, "submitted_by", submitted_by)
    check_endorsement_fields(violations, importance, impact, commitments)
    violations.raise_if_any()
    return Submission(
        title=title.strip(),
        problem=problem.strip(),
        product_area=product_area.strip(),
        tags=clean_tags,
        source_channel=source_channel,
        submitted_by=submitted_by,
        importance=Importance(importance),
        impact=impact.strip(),
        commitments=frozenset(Commitment(c) for c in commitments),
    )


def new_idea(idea_id: str, tenant_id: str, submission: Submission, at: datetime) -> Idea:
    """A fresh idea in its first stage, carrying its submitter's endorsement."""
    return Idea(
        id=idea_id,
        tenant_id=tenant_id,
        title=submission.title,
        problem=submission.problem,
        product_area=submission.product_area,
        tags=submission.tags,
        source_channel=submission.source_channel,
        submitted_by=submission.submitted_by,
        created_at=at,
        updated_at=at,
        endorsements=(
            MemberEndorsement(
                member=submission.submitted_by,
                importance=submission.importance,
                impact=submission.impact,
                commitments=submission.commitments,
                endorsed_at=at,
            ),
        ),
    )


def endorse(idea: Idea, endorsement: MemberEndorsement) -> Idea | None:
    """The idea with this member's endorsement; None when nothing changes.

    Endorsing again with the same importance, impact and commitments is a no-op:
    an organization counts once however often its members click.
    """
    current = [
        e
        for e in idea.endorsements
        if e.member.member_id != endorsement.member.member_id
        or e.member.organization_id != endorsement.member.organization_id
    ]
    previous = next((e for e in idea.endorsements if e not in current), None)
    if previous is not None and (
        previous.importance,
        previous.impact,
        previous.commitments,
    ) == (endorsement.importance, endorsement.impact, endorsement.commitments):
        return None
    return replace(
        idea,
        endorsements=(*current, endorsement),
        updated_at=endorsement.endorsed_at,
        version=idea.version + 1,
    )


# --- likely duplicates -------------------------------------------------------

_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "has",
        "have",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "that",
        "the",
        "this",
        "to",
        "was",
        "we",
        "were",
        "will",
        "with",
        "our",
        "us",
        "can",
        "should",
        "would",
        "could",
        "not",
        "no",
    ]
)


def words(text: str) -> frozenset[str]:
    return frozenset(w for w in _WORD.findall(text.lower()) if w not in _STOP and len(w) > 1)


def similarity(left: frozenset[str], right: frozenset[str]) -> float:
    """Jaccard overlap of content words: cheap, explainable, good enough to flag."""
    if not left or not right:
        return 0.0
    return len(left & right) / len(left | right)

"""What a valid request to the ideas service is, pure: every bad field at once.

Each check returns the clean, normalized request or raises InvalidArgument naming
every offending field (`quorum_common.errors.Violations`).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from quorum_common import callers
from quorum_common.errors import Violations
from quorum_ideas.domain import (
    Commitment,
    Importance,
    Member,
    MemberEndorsement,
    Submission,
)

TITLE_MAX = 200
PROBLEM_MAX = 10_000
PRODUCT_AREA_MAX = 100
IMPACT_MAX = 2_000
TAGS_MAX = 20
TAG_MAX = 50
ID_MAX = 128
STAGE_MAX = 100
TAG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


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
        if len(tag) > TAG_MAX or not TAG_PATTERN.match(tag):
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


# --- checks shared by every request ------------------------------------------


def check_tenant(violations: Violations, tenant_id: str) -> str:
    """The platform's one rule for a tenant id (quorum_common.callers): a request to the
    service has passed it as it was decoded; the pure checks hold to it for their own
    callers."""
    callers.check_tenant(violations, tenant_id)
    return tenant_id


def check_idea_id(violations: Violations, name: str, value: str) -> str:
    """The id in canonical form, so that an upper-case copy still finds its idea."""
    if not value:
        violations.add(name, "is required")
        return ""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        violations.add(name, "must be a UUID")
        return ""


@dataclass(frozen=True)
class Endorsement:
    """A checked endorsement request, stamped with its time once it is applied."""

    member: Member
    importance: Importance
    impact: str
    commitments: frozenset[Commitment]

    def at(self, moment: datetime) -> MemberEndorsement:
        return MemberEndorsement(
            member=self.member,
            importance=self.importance,
            impact=self.impact,
            commitments=self.commitments,
            endorsed_at=moment,
        )


@dataclass(frozen=True)
class EndorseRequest:
    tenant_id: str
    idea_id: str
    endorsement: Endorsement
    expected_version: int


@dataclass(frozen=True)
class WithdrawRequest:
    tenant_id: str
    idea_id: str
    member: Member
    expected_version: int


def check_endorse(
    *,
    tenant_id: str,
    idea_id: str,
    member: Member,
    importance: int,
    impact: str,
    commitments: list[int],
    expected_version: int,
) -> EndorseRequest:
    """Every problem with an endorsement at once, or the clean request."""
    violations = Violations()
    tenant = check_tenant(violations, tenant_id)
    idea = check_idea_id(violations, "idea_id", idea_id)
    check_member(violations, "member", member)
    check_endorsement_fields(violations, importance, impact, commitments)
    violations.raise_if_any()
    return EndorseRequest(
        tenant_id=tenant,
        idea_id=idea,
        endorsement=Endorsement(
            member=member,
            importance=Importance(importance),
            impact=impact.strip(),
            commitments=frozenset(Commitment(c) for c in commitments),
        ),
        expected_version=expected_version,
    )


def check_withdraw(
    *, tenant_id: str, idea_id: str, member: Member, expected_version: int
) -> WithdrawRequest:
    violations = Violations()
    tenant = check_tenant(violations, tenant_id)
    idea = check_idea_id(violations, "idea_id", idea_id)
    check_member(violations, "member", member)
    violations.raise_if_any()
    return WithdrawRequest(tenant, idea, member, expected_version)


@dataclass(frozen=True)
class MergeRequest:
    tenant_id: str
    source_idea_id: str
    target_idea_id: str
    actor_id: str
    expected_source_version: int
    expected_target_version: int


def check_merge(
    *,
    tenant_id: str,
    source_idea_id: str,
    target_idea_id: str,
    actor_id: str,
    expected_source_version: int,
    expected_target_version: int,
) -> MergeRequest:
    violations = Violations()
    tenant = check_tenant(violations, tenant_id)
    source = check_idea_id(violations, "source_idea_id", source_idea_id)
    target = check_idea_id(violations, "target_idea_id", target_idea_id)
    if source and source == target:
        violations.add("target_idea_id", "must differ from source_idea_id")
    # A merge rewrites who counts for an idea; the record must say who did it.
    if not actor_id.strip():
        violations.add("actor.principal_id", "is required")
    elif len(actor_id) > ID_MAX:
        violations.add("actor.principal_id", f"must be at most {ID_MAX} characters")
    violations.raise_if_any()
    return MergeRequest(
        tenant_id=tenant,
        source_idea_id=source,
        target_idea_id=target,
        actor_id=actor_id.strip(),
        expected_source_version=expected_source_version,
        expected_target_version=expected_target_version,
    )


def check_request_id(request_id: str) -> str:
    """A SubmitIdea idempotency key: optional, bounded, printable."""
    violations = Violations()
    if len(request_id) > ID_MAX:
        violations.add("request_id", f"must be at most {ID_MAX} characters")
    elif not request_id.isprintable():
        violations.add("request_id", "must not contain control characters")
    violations.raise_if_any()
    return request_id

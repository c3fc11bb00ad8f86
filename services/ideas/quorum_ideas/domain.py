"""The ideas service's rules, pure: what a valid idea is, how endorsements count.

An idea keeps counts, not its endorsements: each member's endorsement is a record of
its own, and an organization's endorsements of one idea (`OrganizationBacking`) are
all a rule ever needs to look at, so a change costs the same whether the idea has ten
endorsements or fifty thousand. No I/O here. The gRPC adapter (`api.py`) turns
requests into these calls and the store (`store.py`, `writes.py`) persists what they
return.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import IntEnum

from quorum_common.errors import Conflict, FailedPrecondition, NotFound, Violations

# Declared once for every service; re-exported, as the rest of this vocabulary is.
from quorum_common.vocabulary import Importance as Importance


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
    # Distinct endorsing organizations, and endorsing members.
    organization_count: int = 0
    endorsement_count: int = 0


@dataclass(frozen=True)
class OrganizationBacking:
    """One organization's endorsements of one idea: a record per endorsing member."""

    organization_id: str
    endorsements: tuple[MemberEndorsement, ...] = ()

    def of(self, member: Member) -> MemberEndorsement | None:
        return next((e for e in self.endorsements if _same_member(e.member, member)), None)

    def counted(self) -> OrganizationEndorsement | None:
        """What the organization counts as; None when no member endorses the idea."""
        counted = count_by_organization(self.endorsements)
        return counted[0] if counted else None

    def without(self, member: Member) -> OrganizationBacking:
        kept = tuple(e for e in self.endorsements if not _same_member(e.member, member))
        return replace(self, endorsements=kept)

    def with_endorsement(self, endorsement: MemberEndorsement) -> OrganizationBacking:
        kept = self.without(endorsement.member).endorsements
        return replace(self, endorsements=(*kept, endorsement))


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


def submission_fingerprint(submission: Submission) -> str:
    """What a retried SubmitIdea must repeat to be the same request (its request id's body)."""
    member = submission.submitted_by
    parts: list[object] = [
        submission.title,
        submission.problem,
        submission.product_area,
        sorted(submission.tags),
        str(submission.source_channel),
        member.organization_id,
        member.member_id,
        str(int(submission.importance)),
        submission.impact,
        sorted(int(c) for c in submission.commitments),
    ]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def check_same_request(used: str, fingerprint: str) -> None:
    """A request id repeated with another body is a mistake, never a way to someone's idea."""
    if used != fingerprint:
        violations = Violations()
        violations.add(
            "request_id",
            "this submitter already used it for a different submission; "
            "a new submission needs a new request id",
        )
        violations.raise_if_any()


def new_idea(idea_id: str, tenant_id: str, submission: Submission, at: datetime) -> Idea:
    """A fresh idea in its first stage, counting its submitter's endorsement."""
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
        organization_count=1,
        endorsement_count=1,
    )


def submitter_endorsement(idea: Idea, submission: Submission) -> MemberEndorsement:
    """The submitting member's endorsement, recorded with the idea."""
    return MemberEndorsement(
        member=submission.submitted_by,
        importance=submission.importance,
        impact=submission.impact,
        commitments=submission.commitments,
        endorsed_at=idea.created_at,
    )


def check_version(idea: Idea, expected: int) -> None:
    """Optimistic concurrency: 0 means the caller does not care which version it changes."""
    if expected and expected != idea.version:
        raise Conflict(
            f"idea {idea.id} is at version {idea.version}, not the expected {expected}; "
            "re-read it and retry"
        )


# --- endorse and withdraw ----------------------------------------------------


def _same_member(left: Member, right: Member) -> bool:
    # A member is who they are within their organization; the job function is a detail.
    return (left.organization_id, left.member_id) == (right.organization_id, right.member_id)


def _member_key(member: Member) -> tuple[str, str]:
    return member.organization_id, member.member_id


@dataclass(frozen=True)
class Endorsed:
    """An endorsement that changed the idea."""

    idea: Idea
    backing: OrganizationBacking
    endorsement: MemberEndorsement


def endorse(
    idea: Idea,
    backing: OrganizationBacking,
    endorsement: MemberEndorsement,
    expected_version: int = 0,
) -> Endorsed | None:
    """The idea and the organization's backing with this endorsement; None when nothing changes.

    Endorsing again with the same importance, impact and commitments is a no-op:
    an organization counts once however often its members click. A no-op succeeds
    even when expected_version is stale, so that a retried request whose first
    attempt committed gets the answer it would have got, not a conflict.
    """
    if idea.status is Status.MERGED:
        raise FailedPrecondition(
            f"idea {idea.id} was merged into {idea.merged_into}; endorse {idea.merged_into} instead"
        )
    if idea.status is Status.DECLINED:
        raise FailedPrecondition(f"idea {idea.id} was declined; it takes no more endorsements")
    previous = backing.of(endorsement.member)
    if previous is not None and (
        previous.importance,
        previous.impact,
        previous.commitments,
    ) == (endorsement.importance, endorsement.impact, endorsement.commitments):
        return None
    check_version(idea, expected_version)
    return Endorsed(
        idea=replace(
            idea,
            updated_at=endorsement.endorsed_at,
            version=idea.version + 1,
            organization_count=idea.organization_count + (not backing.endorsements),
            endorsement_count=idea.endorsement_count + (previous is None),
        ),
        backing=backing.with_endorsement(endorsement),
        endorsement=endorsement,
    )


@dataclass(frozen=True)
class Withdrawn:
    idea: Idea
    backing: OrganizationBacking
    member: Member


def withdraw(
    idea: Idea,
    backing: OrganizationBacking,
    member: Member,
    at: datetime,
    expected_version: int = 0,
) -> Withdrawn:
    """The idea without this member's endorsement (others of the organization stay)."""
    if idea.status is Status.MERGED:
        raise FailedPrecondition(
            f"idea {idea.id} was merged into {idea.merged_into}; its endorsements are there now"
        )
    if backing.of(member) is None:
        raise NotFound(
            f"member {member.member_id} of organization {member.organization_id} "
            f"has not endorsed idea {idea.id}"
        )
    check_version(idea, expected_version)
    remaining = backing.without(member)
    return Withdrawn(
        idea=replace(
            idea,
            updated_at=at,
            version=idea.version + 1,
            organization_count=idea.organization_count - (not remaining.endorsements),
            endorsement_count=idea.endorsement_count - 1,
        ),
        backing=remaining,
        member=member,
    )


# --- merge -------------------------------------------------------------------


@dataclass(frozen=True)
class Merge:
    """Both ideas after a merge, the target's backings that changed, and who moved."""

    source: Idea
    target: Idea
    # The target's backing of every organization that endorsed the source, after the merge.
    changed: tuple[OrganizationBacking, ...]
    carried: tuple[Member, ...]


def stronger(kept: MemberEndorsement, incoming: MemberEndorsement) -> MemberEndorsement:
    """One member's two endorsements as one: the higher importance, then the later.

    Commitments are united: a promise made on either idea still stands for the
    survivor. On a full tie the one already on the target stays.
    """
    winner = max((kept, incoming), key=lambda e: (e.importance, e.endorsed_at))
    other = incoming if winner is kept else kept
    return replace(
        winner,
        impact=winner.impact or other.impact,
        commitments=kept.commitments | incoming.commitments,
    )


def check_mergeable(source: Idea, target: Idea) -> None:
    if source.id == target.id:
        violations = Violations()
        violations.add("target_idea_id", "must differ from source_idea_id")
        violations.raise_if_any()
    for role, idea in (("source", source), ("target", target)):
        if idea.status is Status.MERGED:
            raise FailedPrecondition(
                f"the {role} idea {idea.id} was already merged into {idea.merged_into}"
            )
        if idea.status is not Status.OPEN:
            raise FailedPrecondition(
                f"the {role} idea {idea.id} is {idea.status.name}; only OPEN ideas can be merged"
            )


def merge(
    source: Idea,
    target: Idea,
    source_endorsements: Iterable[MemberEndorsement],
    target_backings: Mapping[str, OrganizationBacking],
    at: datetime,
    expected_source_version: int = 0,
    expected_target_version: int = 0,
) -> Merge:
    """Fold the source into the target; one endorsement per member, so one per organization.

    `target_backings` holds the target's backing of each organization that endorsed the
    source (missing or empty when it did not endorse the target).
    """
    check_mergeable(source, target)
    check_version(source, expected_source_version)
    check_version(target, expected_target_version)
    moving: dict[str, list[MemberEndorsement]] = {}
    for incoming in source_endorsements:
        moving.setdefault(incoming.member.organization_id, []).append(incoming)
    changed = []
    new_organizations = new_members = 0
    for organization_id in sorted(moving):
        backing = target_backings.get(organization_id) or OrganizationBacking(organization_id)
        new_organizations += not backing.endorsements
        for incoming in moving[organization_id]:
            kept = backing.of(incoming.member)
            new_members += kept is None
            backing = backing.with_endorsement(
                incoming if kept is None else stronger(kept, incoming)
            )
        changed.append(backing)
    carried = {_member_key(e.member): e.member for es in moving.values() for e in es}
    return Merge(
        source=replace(
            source,
            status=Status.MERGED,
            merged_into=target.id,
            updated_at=at,
            version=source.version + 1,
        ),
        target=replace(
            target,
            updated_at=at,
            version=target.version + 1,
            organization_count=target.organization_count + new_organizations,
            endorsement_count=target.endorsement_count + new_members,
        ),
        changed=tuple(changed),
        carried=tuple(carried[key] for key in sorted(carried)),
    )


# --- stage and status, projected from the validation service -----------------


def projected_status(current: Status, incoming: Status | None) -> Status:
    """The status after a validation event.

    The validation ledger decides OPEN, DECLINED and LAUNCHED; a merge is decided
    here, and no stage event (which may have been in flight) undoes it.
    """
    if current is Status.MERGED or incoming is None:
        return current
    return incoming

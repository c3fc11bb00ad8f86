"""The ideas service's rules, pure: what a valid idea is, how endorsements count.

An idea keeps counts, not its endorsements: each member's endorsement is a record of
its own, and an organization's backing of one idea (`backing.py`: the member records a
change needs, and totals over all its members) is all a rule ever needs to look at, so
an endorsement costs the same whether the idea has ten endorsements or fifty thousand,
and whether its organization has one endorsing member or thousands. The values these
rules are about are in `vocabulary.py`, re-exported here. No I/O here. The gRPC
adapter (`api.py`) turns requests into these calls and the store (`store.py`,
`writes.py`) persists what they return.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from quorum_common.errors import Conflict, FailedPrecondition, NotFound, Violations

# Declared once for every service; re-exported, as the rest of this vocabulary is.
from quorum_common.vocabulary import Importance as Importance
from quorum_ideas.backing import BackingTotals as BackingTotals
from quorum_ideas.backing import OrganizationBacking as OrganizationBacking
from quorum_ideas.backing import count_by_organization as count_by_organization
from quorum_ideas.backing import member_key
from quorum_ideas.vocabulary import Commitment as Commitment
from quorum_ideas.vocabulary import Idea as Idea
from quorum_ideas.vocabulary import Member as Member
from quorum_ideas.vocabulary import MemberEndorsement as MemberEndorsement
from quorum_ideas.vocabulary import OrganizationEndorsement as OrganizationEndorsement
from quorum_ideas.vocabulary import Status as Status
from quorum_ideas.vocabulary import Submission as Submission


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
            organization_count=idea.organization_count + (not backing.endorsing),
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
            organization_count=idea.organization_count - (not remaining.endorsing),
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
        new_organizations += not backing.endorsing
        for incoming in moving[organization_id]:
            kept = backing.of(incoming.member)
            new_members += kept is None
            backing = backing.with_endorsement(
                incoming if kept is None else stronger(kept, incoming)
            )
        changed.append(backing)
    carried = {member_key(e.member): e.member for es in moving.values() for e in es}
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

"""The ideas service's rules, pure: what a valid idea is, how endorsements count.

No I/O here. The gRPC adapter (`api.py`) turns requests into these calls and the
store (`store.py`) persists what they return.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import IntEnum

from quorum_common.errors import Conflict, FailedPrecondition, NotFound, Violations

TITLE_MAX = 200
PROBLEM_MAX = 10_000
PRODUCT_AREA_MAX = 100
IMPACT_MAX = 2_000
TAGS_MAX = 20
TAG_MAX = 50
ID_MAX = 128
STAGE_MAX = 100
PAGE_SIZE_DEFAULT = 20
PAGE_SIZE_MAX = 100
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


# --- checks shared by every request ------------------------------------------


def check_tenant(violations: Violations, tenant_id: str) -> str:
    if not tenant_id.strip():
        violations.add("tenant_id", "is required")
    elif len(tenant_id) > ID_MAX:
        violations.add("tenant_id", f"must be at most {ID_MAX} characters")
    return tenant_id.strip()


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


def check_version(idea: Idea, expected: int) -> None:
    """Optimistic concurrency: 0 means the caller does not care which version it changes."""
    if expected and expected != idea.version:
        raise Conflict(
            f"idea {idea.id} is at version {idea.version}, not the expected {expected}; "
            "re-read it and retry"
        )


# --- endorse and withdraw ----------------------------------------------------


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


def _same_member(left: Member, right: Member) -> bool:
    # A member is who they are within their organization; the job function is a detail.
    return (left.organization_id, left.member_id) == (right.organization_id, right.member_id)


def _member_key(member: Member) -> tuple[str, str]:
    return member.organization_id, member.member_id


def endorse(idea: Idea, endorsement: MemberEndorsement, expected_version: int = 0) -> Idea | None:
    """The idea with this member's endorsement; None when nothing changes.

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
    current = [e for e in idea.endorsements if not _same_member(e.member, endorsement.member)]
    previous = next((e for e in idea.endorsements if e not in current), None)
    if previous is not None and (
        previous.importance,
        previous.impact,
        previous.commitments,
    ) == (endorsement.importance, endorsement.impact, endorsement.commitments):
        return None
    check_version(idea, expected_version)
    return replace(
        idea,
        endorsements=(*current, endorsement),
        updated_at=endorsement.endorsed_at,
        version=idea.version + 1,
    )


def withdraw(idea: Idea, member: Member, at: datetime, expected_version: int = 0) -> Idea:
    """The idea without this member's endorsement (others of the organization stay)."""
    if idea.status is Status.MERGED:
        raise FailedPrecondition(
            f"idea {idea.id} was merged into {idea.merged_into}; its endorsements are there now"
        )
    remaining = tuple(e for e in idea.endorsements if not _same_member(e.member, member))
    if len(remaining) == len(idea.endorsements):
        raise NotFound(
            f"member {member.member_id} of organization {member.organization_id} "
            f"has not endorsed idea {idea.id}"
        )
    check_version(idea, expected_version)
    return replace(idea, endorsements=remaining, updated_at=at, version=idea.version + 1)


# --- merge -------------------------------------------------------------------


@dataclass(frozen=True)
class MergeRequest:
    tenant_id: str
    source_idea_id: str
    target_idea_id: str
    actor_id: str
    expected_source_version: int
    expected_target_version: int


@dataclass(frozen=True)
class Merge:
    """Both ideas after a merge, and whose endorsements moved."""

    source: Idea
    target: Idea
    carried: tuple[Member, ...]


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


def merge(
    source: Idea,
    target: Idea,
    at: datetime,
    expected_source_version: int = 0,
    expected_target_version: int = 0,
) -> Merge:
    """Fold the source into the target; one endorsement per member, so one per organization."""
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
    check_version(source, expected_source_version)
    check_version(target, expected_target_version)
    endorsements = list(target.endorsements)
    position = {_member_key(e.member): i for i, e in enumerate(endorsements)}
    for incoming in source.endorsements:
        key = _member_key(incoming.member)
        if key in position:
            endorsements[position[key]] = stronger(endorsements[position[key]], incoming)
        else:
            position[key] = len(endorsements)
            endorsements.append(incoming)
    carried = {_member_key(e.member): e.member for e in source.endorsements}
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
            endorsements=tuple(endorsements),
            updated_at=at,
            version=target.version + 1,
        ),
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


# --- listing -----------------------------------------------------------------


@dataclass(frozen=True)
class ListFilter:
    """What ListIdeas matches; empty fields match everything."""

    stage: str = ""
    status: Status | None = None
    product_area: str = ""
    tag: str = ""


@dataclass(frozen=True)
class PagePosition:
    """The last idea of a page: the next page starts after it (newest first)."""

    created_at: datetime
    idea_id: str


@dataclass(frozen=True)
class ListRequest:
    tenant_id: str
    filter: ListFilter
    page_size: int
    after: PagePosition | None


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)
_TOKEN_FORMAT = 1


def _filter_key(tenant_id: str, chosen: ListFilter) -> str:
    # A token continues one listing; reusing it with other filters would skip or
    # repeat ideas silently, so it carries a fingerprint of what it listed.
    status = int(chosen.status) if chosen.status is not None else 0
    text = json.dumps([tenant_id, chosen.stage, status, chosen.product_area, chosen.tag])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _milliseconds(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // _MILLISECOND


def encode_page_token(tenant_id: str, chosen: ListFilter, position: PagePosition) -> str:
    body = {
        "v": _TOKEN_FORMAT,
        "t": _milliseconds(position.created_at),
        "i": position.idea_id,
        "f": _filter_key(tenant_id, chosen),
    }
    raw = json.dumps(body, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_page_token(
    violations: Violations, tenant_id: str, chosen: ListFilter, token: str
) -> PagePosition | None:
    if not token:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        body = json.loads(raw)
        if not isinstance(body, dict) or body.get("v") != _TOKEN_FORMAT:
            raise ValueError("unknown token format")
        millis, idea_id, key = body["t"], body["i"], body["f"]
        if not isinstance(millis, int) or not isinstance(idea_id, str):
            raise ValueError("malformed position")
        position = PagePosition(_EPOCH + millis * _MILLISECOND, str(uuid.UUID(idea_id)))
    except (binascii.Error, ValueError, KeyError, TypeError, OverflowError):
        violations.add("page_token", "is not a next_page_token returned by ListIdeas")
        return None
    if key != _filter_key(tenant_id, chosen):
        violations.add("page_token", "belongs to a listing with other filters")
        return None
    return position


def check_list(
    *,
    tenant_id: str,
    stage: str,
    status: int,
    product_area: str,
    tag: str,
    page_size: int,
    page_token: str,
) -> ListRequest:
    violations = Violations()
    tenant = check_tenant(violations, tenant_id)
    if len(stage) > STAGE_MAX:
        violations.add("stage", f"must be at most {STAGE_MAX} characters")
    if status and status not in {s.value for s in Status}:
        violations.add("status", "must be OPEN, MERGED, DECLINED or LAUNCHED")
    if len(product_area) > PRODUCT_AREA_MAX:
        violations.add("product_area", f"must be at most {PRODUCT_AREA_MAX} characters")
    clean_tag = tag.strip().lower()
    if clean_tag and (len(clean_tag) > TAG_MAX or not _TAG.match(clean_tag)):
        violations.add("tag", f"must be 1-{TAG_MAX} of a-z, 0-9, '.', '_', '-'")
    if page_size < 0:
        violations.add("page_size", "must not be negative")
    chosen = ListFilter(
        stage=stage.strip(),
        status=Status(status) if status in {s.value for s in Status} else None,
        product_area=product_area.strip(),
        tag=clean_tag,
    )
    after = decode_page_token(violations, tenant, chosen, page_token)
    violations.raise_if_any()
    return ListRequest(
        tenant_id=tenant,
        filter=chosen,
        page_size=min(page_size or PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX),
        after=after,
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

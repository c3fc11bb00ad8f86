"""The gate engine: decides whether an idea's evidence lets it into a PDP stage.

Pure by design: no I/O, no clock, no protobuf. Everything the verdict depends on is an
argument, so the same events replayed later give the same report (SPEC, "Gate policy").
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import IntEnum, StrEnum
from types import MappingProxyType

__all__ = [
    "DEFAULT_RELATIONSHIP_FACTORS",
    "Commitment",
    "Council",
    "CouncilRequirement",
    "CriterionResult",
    "Endorsement",
    "Evidence",
    "ExclusionReason",
    "GatePolicy",
    "GateReport",
    "Importance",
    "Organization",
    "OrganizationWeight",
    "Relationship",
    "Weighting",
    "customer_id_of",
    "evaluate",
    "organization_weight",
    "revenue_factor",
]

# Float sums of weights are compared against thresholds typed by humans (0.3, 0.35, ...);
# a tolerance keeps 0.1 + 0.2 from failing a 0.3 threshold.
_EPSILON = 1e-9
_ARR_UNIT = 1e5


class Importance(IntEnum):
    NICE_TO_HAVE = 1
    IMPORTANT = 2
    CRITICAL = 3


class Commitment(StrEnum):
    BETA_TESTER = "BETA_TESTER"
    CO_DEVELOP = "CO_DEVELOP"
    PREORDER = "PREORDER"


class Relationship(StrEnum):
    ACTIVE = "ACTIVE"
    PROSPECT = "PROSPECT"
    CHURNED = "CHURNED"


class Weighting(StrEnum):
    EQUAL = "EQUAL"
    ARR_LOG = "ARR_LOG"
    ARR_LINEAR = "ARR_LINEAR"


class ExclusionReason(StrEnum):
    """Why an endorsement does not count; values are stable strings for reports and APIs."""

    UNKNOWN_ORGANIZATION = "unknown_organization"
    POOR_FIT = "poor_fit"
    STALE = "stale"


DEFAULT_RELATIONSHIP_FACTORS: Mapping[Relationship, float] = MappingProxyType(
    {Relationship.ACTIVE: 1.0, Relationship.PROSPECT: 0.5, Relationship.CHURNED: 0.5}
)


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Organization:
    """A customer company of the tenant, as the validation directory knows it."""

    organization_id: str
    name: str
    segment: str
    arr: int  # annual revenue with the vendor, integer minor units
    relationship: Relationship = Relationship.ACTIVE
    poor_fit: bool = False
    parent_id: str | None = None

    def __post_init__(self) -> None:
        if not self.organization_id:
            raise ValueError("organization_id must not be empty")
        if self.arr < 0:
            raise ValueError(f"arr of {self.organization_id} must not be negative")
        # An empty parent (proto3 default) means "no parent", not "parent named ''".
        if self.parent_id == "":
            object.__setattr__(self, "parent_id", None)


@dataclass(frozen=True)
class Endorsement:
    """The one counted endorsement of an organization, already aggregated over its members."""

    organization_id: str
    importance: Importance
    commitments: frozenset[Commitment]
    endorsed_at: datetime

    def __post_init__(self) -> None:
        # Callers may hand in plain ints/sets; normalise so equality and hashing are stable.
        object.__setattr__(self, "importance", Importance(self.importance))
        object.__setattr__(self, "commitments", frozenset(Commitment(c) for c in self.commitments))


@dataclass(frozen=True)
class Council:
    """A named group of organizations that can be a required approver at a gate."""

    council_id: str
    name: str
    member_ids: frozenset[str]
    # The council's own quorum fraction (its charter); None: the policy's.
    quorum: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "member_ids", frozenset(self.member_ids))
        if self.quorum is not None and not 0.0 < self.quorum <= 1.0:
            raise ValueError(f"council quorum must be within (0, 1], got {self.quorum}")


@dataclass(frozen=True)
class CouncilRequirement:
    """council_id '' means every council of the tenant (none at all: not applicable)."""

    council_id: str = ""
    quorum: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 <= self.quorum <= 1.0:
            raise ValueError(f"council quorum must be within [0, 1], got {self.quorum}")


def _frozen_factors(factors: Mapping[Relationship, float]) -> Mapping[Relationship, float]:
    merged = dict(DEFAULT_RELATIONSHIP_FACTORS)
    merged.update({Relationship(k): float(v) for k, v in factors.items()})
    return MappingProxyType(merged)


@dataclass(frozen=True)
class GatePolicy:
    """What it takes to enter `stage`. Zero/None criteria are not configured.

    0 meaning "unset" matches protobuf defaults, so a policy read off the wire needs no
    sentinel translation.
    """

    stage: str
    version: int = 1
    min_customers: int = 0
    min_segments: int = 0
    min_active: int = 0
    min_weight: float | None = None
    max_share: float | None = None
    min_commitments: tuple[tuple[Commitment, int], ...] = ()
    council_approval: CouncilRequirement | None = None
    weighting: Weighting = Weighting.ARR_LINEAR
    # hash=False: a mapping is not hashable, but the policy must still compare by value.
    relationship_factors: Mapping[Relationship, float] = field(
        default_factory=lambda: DEFAULT_RELATIONSHIP_FACTORS, hash=False
    )
    affiliates_count_once: bool = False
    sponsor_excluded: bool = False
    max_age_days: int | None = None

    def __post_init__(self) -> None:
        if not self.stage:
            raise ValueError("policy stage must not be empty")
        if self.version < 1:
            raise ValueError(f"policy version must be >= 1, got {self.version}")
        for name in ("min_customers", "min_segments", "min_active"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if self.min_weight is not None and self.min_weight < 0:
            raise ValueError("min_weight must not be negative")
        if self.max_share is not None and not 0.0 <= self.max_share <= 1.0:
            raise ValueError(f"max_share must be within [0, 1], got {self.max_share}")
        if self.max_age_days is not None and self.max_age_days < 0:
            raise ValueError("max_age_days must not be negative")
        commitments = tuple((Commitment(c), int(k)) for c, k in self.min_commitments)
        seen = [c for c, _ in commitments]
        if len(set(seen)) != len(seen):
            raise ValueError("min_commitments names a commitment more than once")
        if any(k < 0 for _, k in commitments):
            raise ValueError("min_commitments counts must not be negative")
        object.__setattr__(self, "min_commitments", commitments)
        object.__setattr__(self, "weighting", Weighting(self.weighting))
        factors = _frozen_factors(self.relationship_factors)
        if any(f < 0 or math.isnan(f) for f in factors.values()):
            raise ValueError("relationship factors must be non-negative numbers")
        object.__setattr__(self, "relationship_factors", factors)

    def relationship_factor(self, relationship: Relationship) -> float:
        return self.relationship_factors[relationship]


@dataclass(frozen=True)
class Evidence:
    """Everything about one idea and its tenant that a gate looks at."""

    endorsements: tuple[Endorsement, ...]
    sponsor_organization_id: str | None = None
    organizations: Mapping[str, Organization] = field(
        default_factory=lambda: MappingProxyType({}), hash=False
    )
    councils: tuple[Council, ...] = ()
    # council_id -> {organization_id: approves?}
    council_votes: Mapping[str, Mapping[str, bool]] = field(
        default_factory=lambda: MappingProxyType({}), hash=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "endorsements", tuple(self.endorsements))
        for key, org in self.organizations.items():
            if key != org.organization_id:
                raise ValueError(f"directory key {key!r} != {org.organization_id!r}")
        # Copies, so a caller mutating its dicts afterwards cannot change a stored verdict.
        object.__setattr__(self, "organizations", MappingProxyType(dict(self.organizations)))
        object.__setattr__(self, "councils", tuple(self.councils))
        ids = [c.council_id for c in self.councils]
        if len(set(ids)) != len(ids):
            raise ValueError("council ids must be unique")
        object.__setattr__(
            self,
            "council_votes",
            MappingProxyType(
                {cid: MappingProxyType(dict(v)) for cid, v in self.council_votes.items()}
            ),
        )
        if self.sponsor_organization_id == "":
            object.__setattr__(self, "sponsor_organization_id", None)

    @classmethod
    def of(
        cls,
        endorsements: Iterable[Endorsement],
        organizations: Iterable[Organization],
        *,
        sponsor_organization_id: str | None = None,
        councils: Iterable[Council] = (),
        council_votes: Mapping[str, Mapping[str, bool]] | None = None,
    ) -> Evidence:
        """Convenience constructor taking the directory as a plain list of organizations."""
        return cls(
            endorsements=tuple(endorsements),
            sponsor_organization_id=sponsor_organization_id,
            organizations={o.organization_id: o for o in organizations},
            councils=tuple(councils),
            council_votes=council_votes or {},
        )


# --------------------------------------------------------------------------- outputs


@dataclass(frozen=True)
class CriterionResult:
    name: str
    required: float
    actual: float
    met: bool
    subject: str = ""  # commitment name, council id, or dominant customer id
    detail: str = ""


@dataclass(frozen=True)
class OrganizationWeight:
    """Frozen snapshot of how one endorsing organization was counted."""

    organization_id: str
    organization_name: str
    customer_id: str
    segment: str
    relationship: Relationship | None  # None when the organization is unknown
    arr: int
    importance: Importance
    weight: float  # 0 when not eligible: it did not contribute
    share: float  # of the eligible total weight
    eligible: bool
    excluded_reason: ExclusionReason | None
    sponsor: bool


@dataclass(frozen=True)
class GateReport:
    stage: str
    policy_version: int
    holds: bool
    criteria: tuple[CriterionResult, ...]
    summary: str
    weights: tuple[OrganizationWeight, ...]
    evaluated_at: datetime

    @property
    def unmet(self) -> tuple[CriterionResult, ...]:
        return tuple(c for c in self.criteria if not c.met)

    @property
    def total_weight(self) -> float:
        return math.fsum(w.weight for w in self.weights if w.eligible)


# --------------------------------------------------------------------------- weights


def revenue_factor(weighting: Weighting, arr: int) -> float:
    if weighting is Weighting.EQUAL:
        return 1.0
    if weighting is Weighting.ARR_LOG:
        return 1.0 + math.log10(1.0 + arr / _ARR_UNIT)
    # The floor keeps a zero-revenue prospect from being weightless under linear weighting.
    return max(arr / _ARR_UNIT, 0.1)


def organization_weight(policy: GatePolicy, organization: Organization, importance: int) -> float:
    return (
        int(importance)
        * policy.relationship_factor(organization.relationship)
        * revenue_factor(policy.weighting, organization.arr)
    )


def customer_id_of(organization_id: str, organizations: Mapping[str, Organization]) -> str:
    """The customer an organization belongs to when affiliates count once.

    Follows parent links to the top of the corporate tree, so grandchildren and their
    grandparent are one customer; a parent missing from the directory still groups its
    children. A (corrupt) cycle resolves to its smallest id, whichever member we start from.
    """
    path: list[str] = []
    current = organization_id
    while True:
        path.append(current)
        org = organizations.get(current)
        if org is None or org.parent_id is None:
            return current
        parent = org.parent_id
        if parent in path:
            return min(path[path.index(parent) :])
        current = parent


# --------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class _Customer:
    customer_id: str
    name: str  # heaviest member's name: that is who the anti-dominance clause is about
    segment: str
    relationship: Relationship
    weight: float
    commitments: frozenset[Commitment]


def _merge_endorsements(endorsements: Iterable[Endorsement]) -> list[Endorsement]:
    """One endorsement per organization, sorted by id.

    Upstream already aggregates, but if it ever does not, merge the way the SPEC counts
    members (highest importance, all commitments, latest date) rather than depend on order.
    """
    merged: dict[str, Endorsement] = {}
    for e in endorsements:
        prior = merged.get(e.organization_id)
        if prior is not None:
            e = Endorsement(
                e.organization_id,
                max(prior.importance, e.importance),
                prior.commitments | e.commitments,
                max(prior.endorsed_at, e.endorsed_at),
            )
        merged[e.organization_id] = e
    return [merged[k] for k in sorted(merged)]


def _exclusion(
    policy: GatePolicy, org: Organization | None, endorsement: Endorsement, now: datetime
) -> ExclusionReason | None:
    if org is None:
        return ExclusionReason.UNKNOWN_ORGANIZATION
    if org.poor_fit:
        return ExclusionReason.POOR_FIT
    if policy.max_age_days and endorsement.endorsed_at < now - timedelta(days=policy.max_age_days):
        return ExclusionReason.STALE
    return None


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _number(value: float) -> str:
    """Up to two decimals, trailing zeros dropped: 3.5, 2, 0.35."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


def _percent(value: float) -> str:
    # Half-up rather than Python's banker's rounding: people expect 12.5% -> 13%.
    return f"{math.floor(value * 100 + 0.5)}%"


def _needed_approvals(quorum: float, members: int) -> int:
    # Approvals are whole votes, so ">= quorum x members" means its ceiling; the epsilon
    # stops 0.3 * 10 = 3.0000000000000004 from demanding a fourth vote.
    return max(0, math.ceil(quorum * members - _EPSILON))


@dataclass
class _Outcome:
    criteria: list[CriterionResult] = field(default_factory=list)
    clauses: list[str] = field(default_factory=list)

    def add(self, result: CriterionResult, clause: str | None = None) -> None:
        self.criteria.append(result)
        if not result.met and clause:
            self.clauses.append(clause)


def evaluate(policy: GatePolicy, evidence: Evidence, now: datetime) -> GateReport:
    """Evaluate `policy` against `evidence` as of `now`; order of endorsements is irrelevant."""
    directory = evidence.organizations
    sponsor_id = evidence.sponsor_organization_id

    def customer_of(organization_id: str) -> str:
        if policy.affiliates_count_once:
            return customer_id_of(organization_id, directory)
        return organization_id

    # Per-organization snapshot (weights before shares, which need the total).
    rows: list[tuple[Endorsement, Organization | None, ExclusionReason | None, float]] = []
    for endorsement in _merge_endorsements(evidence.endorsements):
        org = directory.get(endorsement.organization_id)
        reason = _exclusion(policy, org, endorsement, now)
        weight = 0.0
        if org is not None and reason is None:
            weight = organization_weight(policy, org, endorsement.importance)
        rows.append((endorsement, org, reason, weight))

    # fsum is exact, hence independent of summation order: needed for replayable verdicts.
    total = math.fsum(w for _, _, reason, w in rows if reason is None)

    weights: list[OrganizationWeight] = []
    members: dict[str, list[tuple[Organization, Endorsement, float]]] = {}
    for endorsement, org, reason, weight in rows:
        oid = endorsement.organization_id
        cid = customer_of(oid)
        if org is not None and reason is None:
            members.setdefault(cid, []).append((org, endorsement, weight))
        weights.append(
            OrganizationWeight(
                organization_id=oid,
                organization_name=org.name if org else "",
                customer_id=cid,
                segment=org.segment if org else "",
                relationship=org.relationship if org else None,
                arr=org.arr if org else 0,
                importance=endorsement.importance,
                weight=weight,
                share=weight / total if total > 0 else 0.0,
                eligible=reason is None,
                excluded_reason=reason,
                sponsor=oid == sponsor_id,
            )
        )
    weights.sort(key=lambda w: (not w.eligible, -w.weight, w.organization_id))

    customers: list[_Customer] = []
    for cid in sorted(members):
        group = members[cid]
        heaviest, _, _ = min(group, key=lambda m: (-m[2], m[0].organization_id))
        customers.append(
            _Customer(
                customer_id=cid,
                name=heaviest.name,
                segment=heaviest.segment,
                relationship=heaviest.relationship,
                weight=math.fsum(w for _, _, w in group),
                commitments=frozenset().union(*(e.commitments for _, e, _ in group)),
            )
        )

    outcome = _Outcome()
    _count_criteria(policy, customers, customer_of(sponsor_id) if sponsor_id else None, outcome)
    _weight_criteria(policy, customers, total, outcome)
    _commitment_criteria(policy, customers, outcome)
    _council_criteria(policy, evidence, outcome)

    holds = all(c.met for c in outcome.criteria)
    summary = f"gate into {policy.stage} holds" if holds else "; ".join(outcome.clauses)
    if not holds and not summary:  # every unmet criterion should have a clause; be safe
        summary = f"gate into {policy.stage} does not hold"
    return GateReport(
        stage=policy.stage,
        policy_version=policy.version,
        holds=holds,
        criteria=tuple(outcome.criteria),
        summary=summary,
        weights=tuple(weights),
        evaluated_at=now,
    )


def _count_criteria(
    policy: GatePolicy,
    customers: list[_Customer],
    sponsor_customer: str | None,
    outcome: _Outcome,
) -> None:
    missing_customers = 0
    missing_segments = 0
    results: list[CriterionResult] = []

    if policy.min_customers:
        counted = list(customers)
        note = ""
        if policy.sponsor_excluded and sponsor_customer is not None:
            before = len(counted)
            counted = [c for c in counted if c.customer_id != sponsor_customer]
            if len(counted) != before:
                note = " (the sponsor does not count)"
        actual = len(counted)
        met = actual >= policy.min_customers
        missing_customers = 0 if met else policy.min_customers - actual
        results.append(
            CriterionResult(
                name="min_customers",
                required=float(policy.min_customers),
                actual=float(actual),
                met=met,
                detail=f"{actual} of {_plural(policy.min_customers, 'customer')}{note}",
            )
        )

    if policy.min_segments:
        segments = sorted({c.segment for c in customers})
        actual = len(segments)
        met = actual >= policy.min_segments
        missing_segments = 0 if met else policy.min_segments - actual
        listed = f": {', '.join(segments)}" if segments else ""
        results.append(
            CriterionResult(
                name="min_segments",
                required=float(policy.min_segments),
                actual=float(actual),
                met=met,
                detail=f"{actual} of {_plural(policy.min_segments, 'segment')}{listed}",
            )
        )

    # Customers and segments read as one need: "needs 2 more customers from 1 more segment".
    parts = []
    if missing_customers:
        parts.append(f"{_plural(missing_customers, 'more customer')}")
    if missing_segments:
        parts.append(f"{_plural(missing_segments, 'more segment')}")
    clause = "needs " + " from ".join(parts) if parts else None
    for result in results:
        outcome.add(result, clause)
        if not result.met:
            clause = None  # the combined clause is said once, by the first unmet criterion

    if policy.min_active:
        actual = sum(1 for c in customers if c.relationship is Relationship.ACTIVE)
        met = actual >= policy.min_active
        outcome.add(
            CriterionResult(
                name="min_active",
                required=float(policy.min_active),
                actual=float(actual),
                met=met,
                detail=f"{actual} of {_plural(policy.min_active, 'active customer')}",
            ),
            f"needs {_plural(policy.min_active - actual, 'more active customer')}",
        )


def _weight_criteria(
    policy: GatePolicy, customers: list[_Customer], total: float, outcome: _Outcome
) -> None:
    if policy.min_weight:
        met = total >= policy.min_weight - _EPSILON
        outcome.add(
            CriterionResult(
                name="min_weight",
                required=policy.min_weight,
                actual=total,
                met=met,
                detail=f"total weight {_number(total)} of {_number(policy.min_weight)}",
            ),
            # Round the gap up so "needs 0.01 more" never prints as "needs 0 more".
            f"needs {_number(math.ceil((policy.min_weight - total) * 100 - _EPSILON) / 100)}"
            " more weight",
        )

    if policy.max_share:
        cap = _percent(policy.max_share)
        if total <= 0:
            # No weight cannot prove that no single customer dominates.
            outcome.add(
                CriterionResult(
                    name="max_share",
                    required=policy.max_share,
                    actual=0.0,
                    met=False,
                    detail="no endorsement carries weight",
                ),
                f"no endorsement carries weight, so the {cap} cap cannot be checked",
            )
            return
        dominant = min(customers, key=lambda c: (-c.weight, c.customer_id))
        share = dominant.weight / total
        met = share <= policy.max_share + _EPSILON
        outcome.add(
            CriterionResult(
                name="max_share",
                required=policy.max_share,
                actual=share,
                met=met,
                subject=dominant.customer_id,
                detail=f"{dominant.name} holds {_percent(share)} of the weight (cap {cap})",
            ),
            f"{dominant.name} holds {_percent(share)} of the weight, over the {cap} cap",
        )


def _commitment_criteria(policy: GatePolicy, customers: list[_Customer], outcome: _Outcome) -> None:
    for commitment, required in policy.min_commitments:
        if not required:
            continue
        actual = sum(1 for c in customers if commitment in c.commitments)
        noun = f"more {commitment.value} commitment"
        outcome.add(
            CriterionResult(
                name="min_commitments",
                required=float(required),
                actual=float(actual),
                met=actual >= required,
                subject=commitment.value,
                detail=f"{actual} of {required} customers committed to {commitment.value}",
            ),
            f"needs {_plural(required - actual, noun)}",
        )


def _council_criteria(policy: GatePolicy, evidence: Evidence, outcome: _Outcome) -> None:
    requirement = policy.council_approval
    if requirement is None:
        return
    by_id = {c.council_id: c for c in evidence.councils}
    if requirement.council_id:
        council = by_id.get(requirement.council_id)
        if council is None:
            # A policy naming a council that was deleted must block, not silently pass.
            outcome.add(
                CriterionResult(
                    name="council_approval",
                    required=1.0,
                    actual=0.0,
                    met=False,
                    subject=requirement.council_id,
                    detail=f"council {requirement.council_id} does not exist",
                ),
                f"needs approval of council {requirement.council_id}, which does not exist",
            )
            return
        required_councils = [council]
    else:
        # "Every council of the tenant": with no council at all the criterion has no subject.
        required_councils = [by_id[k] for k in sorted(by_id)]

    for council in required_councils:
        votes = evidence.council_votes.get(council.council_id, {})
        # Only members' votes count: a council speaks for its own organizations.
        member_votes = [v for oid, v in votes.items() if oid in council.member_ids]
        approvals = sum(1 for v in member_votes if v)
        rejections = len(member_votes) - approvals
        size = len(council.member_ids)
        needed = _needed_approvals(council.quorum or requirement.quorum, size)
        met = approvals >= needed and approvals > rejections
        tally = f"{approvals} of {size} approved"
        if rejections:
            tally += f", {rejections} rejected"
        tally += f", quorum {needed}"
        outcome.add(
            CriterionResult(
                name="council_approval",
                required=float(needed),
                actual=float(approvals),
                met=met,
                subject=council.council_id,
                detail=f"council {council.name}: {tally}",
            ),
            f"needs approval of council {council.name} ({tally})",
        )

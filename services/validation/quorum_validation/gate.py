"""The gate engine: decides whether an idea's evidence lets it into a PDP stage.

Pure by design: no I/O, no clock, no protobuf. Everything the verdict depends on is an
argument, so the same events replayed later give the same report (SPEC, "Gate policy").
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import IntEnum, StrEnum
from functools import cached_property
from types import MappingProxyType
from typing import ClassVar

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


@dataclass(frozen=True, eq=False, repr=False)
class GateReport:
    """The verdict of one evaluation, why, and how each endorsing organization counted.

    `weights` is built on first read, from the evaluation's own inputs: the verdict does
    not need it, it costs several times more than the verdict for an idea with thousands of
    endorsements, and the verdict is recomputed on every event touching the idea while the
    snapshot is only read when a verdict is shown or stored. Equality, hashing and repr
    treat `weights` as the ordinary field it used to be, in its old place.
    """

    stage: str
    policy_version: int
    holds: bool
    criteria: tuple[CriterionResult, ...]
    summary: str
    evaluated_at: datetime
    # What `weights` is built from (with evaluated_at as `now`). All three are immutable,
    # so building it later gives exactly what building it during evaluate would have.
    _policy: GatePolicy = field(repr=False)
    _evidence: Evidence = field(repr=False)

    # The fields as callers know them, in their order, for __eq__, __hash__ and __repr__.
    _SHOWN: ClassVar[tuple[str, ...]] = (
        "stage",
        "policy_version",
        "holds",
        "criteria",
        "summary",
        "weights",
        "evaluated_at",
    )

    @cached_property
    def weights(self) -> tuple[OrganizationWeight, ...]:
        """Eligible organizations first, heaviest first, then by id."""
        return _organization_weights(self._policy, self._evidence, self.evaluated_at)

    @property
    def unmet(self) -> tuple[CriterionResult, ...]:
        return tuple(c for c in self.criteria if not c.met)

    @property
    def total_weight(self) -> float:
        return math.fsum(w.weight for w in self.weights if w.eligible)

    def _shown(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self._SHOWN)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, GateReport) and other.__class__ is self.__class__:
            return self._shown() == other._shown()
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._shown())

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._SHOWN)
        return f"{self.__class__.__qualname__}({shown})"


# --------------------------------------------------------------------------- weights


def _flat_revenue(arr: int) -> float:
    return 1.0


def _log_revenue(arr: int) -> float:
    return 1.0 + math.log10(1.0 + arr / _ARR_UNIT)


def _linear_revenue(arr: int) -> float:
    # The floor keeps a zero-revenue prospect from being weightless under linear weighting.
    # Spelled out rather than max(factor, 0.1), which costs a call per organization; it
    # picks the same value in every case (NaN included: max keeps its first argument).
    factor = arr / _ARR_UNIT
    return 0.1 if factor < 0.1 else factor


def _revenue_function(weighting: Weighting) -> Callable[[int], float]:
    """The revenue term of `weighting`, picked once per evaluation rather than per organization."""
    if weighting is Weighting.EQUAL:
        return _flat_revenue
    if weighting is Weighting.ARR_LOG:
        return _log_revenue
    return _linear_revenue


def revenue_factor(weighting: Weighting, arr: int) -> float:
    return _revenue_function(weighting)(arr)


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


def _merge_endorsements(endorsements: tuple[Endorsement, ...]) -> dict[str, Endorsement]:
    """One endorsement per organization, by organization id.

    Upstream already aggregates, but if it ever does not, merge the way the SPEC counts
    members (highest importance, all commitments, latest date) rather than depend on order.
    """
    merged = {e.organization_id: e for e in endorsements}
    if len(merged) == len(endorsements):
        return merged  # the norm: nothing to merge, so no Endorsement to rebuild
    merged = {}
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
    return merged


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


def _customer_of(
    policy: GatePolicy, organization_id: str, directory: Mapping[str, Organization]
) -> str:
    if policy.affiliates_count_once:
        return customer_id_of(organization_id, directory)
    return organization_id


def _organization_weights(
    policy: GatePolicy, evidence: Evidence, now: datetime
) -> tuple[OrganizationWeight, ...]:
    """The per-organization snapshot of a report (GateReport.weights), built on demand.

    The plain statement of the rules: which endorsement counts, for which customer, with
    what weight. `_fold_customers` applies the same rules in a faster form; the two must
    agree (tests/unit/test_gate_speed_shape.py checks that they do).
    """
    directory = evidence.organizations
    sponsor_id = evidence.sponsor_organization_id
    merged = _merge_endorsements(evidence.endorsements)

    # Weights before shares, which need the total.
    rows: list[tuple[Endorsement, Organization | None, ExclusionReason | None, float]] = []
    for oid in sorted(merged):
        endorsement = merged[oid]
        org = directory.get(oid)
        reason = _exclusion(policy, org, endorsement, now)
        weight = 0.0
        if org is not None and reason is None:
            weight = organization_weight(policy, org, endorsement.importance)
        rows.append((endorsement, org, reason, weight))

    # fsum is exact, hence independent of summation order: needed for replayable verdicts.
    total = math.fsum(w for _, _, reason, w in rows if reason is None)

    weights = [
        OrganizationWeight(
            organization_id=endorsement.organization_id,
            organization_name=org.name if org else "",
            customer_id=_customer_of(policy, endorsement.organization_id, directory),
            segment=org.segment if org else "",
            relationship=org.relationship if org else None,
            arr=org.arr if org else 0,
            importance=endorsement.importance,
            weight=weight,
            share=weight / total if total > 0 else 0.0,
            eligible=reason is None,
            excluded_reason=reason,
            sponsor=endorsement.organization_id == sponsor_id,
        )
        for endorsement, org, reason, weight in rows
    ]
    weights.sort(key=lambda w: (not w.eligible, -w.weight, w.organization_id))
    return tuple(weights)


@dataclass
class _Customers:
    """The eligible endorsements folded into customers, each column keyed by customer id.

    Columns rather than an object per customer: an idea can have thousands of customers.
    """

    weight: dict[str, float] = field(default_factory=dict)  # exact sum over its members
    # Its heaviest member, whose name, segment and relationship stand for the customer:
    # that is who the anti-dominance clause is about.
    heaviest: dict[str, Organization] = field(default_factory=dict)
    commitments: dict[str, frozenset[Commitment]] = field(default_factory=dict)


def _fold_customers(
    policy: GatePolicy, evidence: Evidence, now: datetime
) -> tuple[_Customers, float]:
    """The customers that count, and the total weight of the eligible endorsements.

    This is the verdict's hot path, run for every event touching an idea, hence a single
    pass with the policy's lookups hoisted and no object per endorsement. It applies the
    rules of the snapshot (`_exclusion`, `organization_weight`, `customer_id_of`) and must
    agree with `_organization_weights` on which organizations count, for which customer,
    with which weight.
    """
    directory = evidence.organizations
    factors = dict(policy.relationship_factors)
    revenue = _revenue_function(policy.weighting)
    affiliates_count_once = policy.affiliates_count_once
    max_age_days = policy.max_age_days
    stale_before: datetime | None = None

    customers = _Customers()
    weight_of, heaviest_of, commitments_of = (
        customers.weight,
        customers.heaviest,
        customers.commitments,
    )
    eligible_weights: list[float] = []
    # (weight, organization) of every member of a customer that has several (affiliates).
    groups: dict[str, list[tuple[float, Organization]]] = {}
    for endorsement in _merge_endorsements(evidence.endorsements).values():
        oid = endorsement.organization_id
        org = directory.get(oid)
        # The rules of _exclusion, inlined.
        if org is None or org.poor_fit:
            continue
        if max_age_days:
            if stale_before is None:
                # Not before the loop: for an absurd max age this overflows, and like
                # _exclusion it must do so only once an endorsement gets this far.
                stale_before = now - timedelta(days=max_age_days)
            if endorsement.endorsed_at < stale_before:
                continue
        # organization_weight; an IntEnum times a float is the same float as int() times it.
        weight = endorsement.importance * factors[org.relationship] * revenue(org.arr)
        eligible_weights.append(weight)

        # customer_id_of, skipped for the usual organization without a parent: its own.
        cid = oid
        if affiliates_count_once and org.parent_id is not None:
            cid = customer_id_of(oid, directory)
        if cid not in weight_of:
            weight_of[cid] = weight
            heaviest_of[cid] = org
            commitments_of[cid] = endorsement.commitments
            continue
        group = groups.get(cid)
        if group is None:
            group = groups[cid] = [(weight_of[cid], heaviest_of[cid])]
        group.append((weight, org))
        commitments_of[cid] = commitments_of[cid] | endorsement.commitments

    for cid, group in groups.items():
        weight_of[cid] = math.fsum(w for w, _ in group)
        heaviest_of[cid] = min(group, key=lambda m: (-m[0], m[1].organization_id))[1]
    # fsum is exact, hence independent of summation order: needed for replayable verdicts.
    return customers, math.fsum(eligible_weights)


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
    customers, total = _fold_customers(policy, evidence, now)
    sponsor_id = evidence.sponsor_organization_id
    sponsor_customer = (
        _customer_of(policy, sponsor_id, evidence.organizations) if sponsor_id else None
    )

    outcome = _Outcome()
    _count_criteria(policy, customers, sponsor_customer, outcome)
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
        evaluated_at=now,
        _policy=policy,
        _evidence=evidence,
    )


def _count_criteria(
    policy: GatePolicy,
    customers: _Customers,
    sponsor_customer: str | None,
    outcome: _Outcome,
) -> None:
    missing_customers = 0
    missing_segments = 0
    results: list[CriterionResult] = []

    if policy.min_customers:
        actual = len(customers.weight)
        note = ""
        if policy.sponsor_excluded and sponsor_customer in customers.weight:
            actual -= 1
            note = " (the sponsor does not count)"
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
        segments = sorted({o.segment for o in customers.heaviest.values()})
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
        actual = sum(
            1 for o in customers.heaviest.values() if o.relationship is Relationship.ACTIVE
        )
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
    policy: GatePolicy, customers: _Customers, total: float, outcome: _Outcome
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
        # The heaviest customer, the smallest id among equals.
        top = max(customers.weight.values())
        dominant = min(cid for cid, weight in customers.weight.items() if weight == top)
        name = customers.heaviest[dominant].name
        share = customers.weight[dominant] / total
        met = share <= policy.max_share + _EPSILON
        outcome.add(
            CriterionResult(
                name="max_share",
                required=policy.max_share,
                actual=share,
                met=met,
                subject=dominant,
                detail=f"{name} holds {_percent(share)} of the weight (cap {cap})",
            ),
            f"{name} holds {_percent(share)} of the weight, over the {cap} cap",
        )


def _commitment_criteria(policy: GatePolicy, customers: _Customers, outcome: _Outcome) -> None:
    for commitment, required in policy.min_commitments:
        if not required:
            continue
        actual = sum(1 for c in customers.commitments.values() if commitment in c)
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

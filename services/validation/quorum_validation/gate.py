"""The gate engine: decides whether an idea's evidence lets it into a PDP stage.

Pure by design: no I/O, no clock, no protobuf. Everything the verdict depends on is an
argument, so the same events replayed later give the same report (SPEC, "Gate policy").

`evaluate` applies the rules to an idea's full evidence: which endorsement counts, for
which customer, with which weight (`_counted`, the one statement of them, read by the
verdict and by the report's snapshot alike). It is what reports, what-if and replays
use. The consumer keeps the same verdict incrementally (`tally.py`, through `exclusion`
and `organization_weight`); both fold into a `criteria.Standing` and let
`criteria.judge` decide.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from quorum_validation.criteria import Dominant, Standing, judge
from quorum_validation.gate_model import (
    DEFAULT_RELATIONSHIP_FACTORS,
    Commitment,
    Council,
    CouncilRequirement,
    CriterionResult,
    Endorsement,
    Evidence,
    ExclusionReason,
    GatePolicy,
    GateReport,
    Importance,
    Organization,
    OrganizationWeight,
    Relationship,
    Weighting,
)
from quorum_validation.limits import bounded_organization_weight

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
    "chain_of",
    "customer_id_of",
    "evaluate",
    "exclusion",
    "organization_weight",
    "revenue_factor",
    "stale_before",
]

_ARR_UNIT = 1e5


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
    # Bounded, so no policy or organization (within bounds or not) makes a weight, a
    # total or a share infinite or NaN: the exact sums and the criteria need finite ones.
    return bounded_organization_weight(
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


def chain_of(organization_id: str, organizations: Mapping[str, Organization]) -> tuple[str, ...]:
    """The organizations whose directory entries decide `customer_id_of`: the path walked.

    The organization itself, then its parents up to the top of its tree, a parent missing
    from the directory, or the first organization seen twice (a cycle).
    """
    path = [organization_id]
    org = organizations.get(organization_id)
    while org is not None and org.parent_id is not None and org.parent_id not in path:
        path.append(org.parent_id)
        org = organizations.get(org.parent_id)
    return tuple(path)


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


def stale_before(now: datetime, max_age_days: int | None) -> datetime | None:
    """Endorsements before this moment are too old to count; None: none is.

    A maximum age reaching before the calendar starts (an absurd policy) makes no
    endorsement stale rather than failing every evaluation.
    """
    if not max_age_days:
        return None
    try:
        return now - timedelta(days=max_age_days)
    except OverflowError:
        return None


def exclusion(
    org: Organization | None, endorsement: Endorsement, cutoff: datetime | None
) -> ExclusionReason | None:
    """Why an endorsement does not count (None: it counts); `cutoff` is `stale_before`."""
    if org is None:
        return ExclusionReason.UNKNOWN_ORGANIZATION
    if org.poor_fit:
        return ExclusionReason.POOR_FIT
    if cutoff is not None and endorsement.endorsed_at < cutoff:
        return ExclusionReason.STALE
    return None


def _customer_of(
    policy: GatePolicy, organization_id: str, directory: Mapping[str, Organization]
) -> str:
    if policy.affiliates_count_once:
        return customer_id_of(organization_id, directory)
    return organization_id


# An endorsing organization as the rules count it: its (merged) endorsement, its directory
# entry, its customer, why it does not count (None: it counts), its weight (0 if not).
_Counted = tuple[Endorsement, Organization | None, str, ExclusionReason | None, float]


def _counted(policy: GatePolicy, evidence: Evidence, now: datetime) -> Iterator[_Counted]:
    """Every endorsing organization as the rules count it, in no particular order.

    The one statement of which endorsement counts, for which customer, with what weight:
    the verdict (`_fold_customers`) and the snapshot (`_organization_weights`) both read
    it. It is `exclusion`, `organization_weight` and `customer_id_of` with the policy's
    lookups hoisted out of the loop: an advance or a report over a popular idea counts
    tens of thousands of endorsements.
    """
    directory = evidence.organizations
    factors = dict(policy.relationship_factors)
    revenue = _revenue_function(policy.weighting)
    affiliates_count_once = policy.affiliates_count_once
    cutoff = stale_before(now, policy.max_age_days)
    for endorsement in _merge_endorsements(evidence.endorsements).values():
        oid = endorsement.organization_id
        org = directory.get(oid)
        # customer_id_of, skipped for the usual organization without a parent: its own.
        cid = oid
        if affiliates_count_once and org is not None and org.parent_id is not None:
            cid = customer_id_of(oid, directory)
        reason = exclusion(org, endorsement, cutoff)
        if org is None or reason is not None:
            yield endorsement, org, cid, reason, 0.0
            continue
        # organization_weight; an IntEnum times a float is the same float as int() times it.
        weight = bounded_organization_weight(
            endorsement.importance * factors[org.relationship] * revenue(org.arr)
        )
        yield endorsement, org, cid, None, weight


def _organization_weights(
    policy: GatePolicy, evidence: Evidence, now: datetime
) -> tuple[OrganizationWeight, ...]:
    """The per-organization snapshot of a report (GateReport.weights), built on demand."""
    sponsor_id = evidence.sponsor_organization_id
    rows = list(_counted(policy, evidence, now))
    # fsum is exact, hence independent of summation order: needed for replayable verdicts.
    total = math.fsum(weight for *_, reason, weight in rows if reason is None)
    weights = [
        OrganizationWeight(
            organization_id=endorsement.organization_id,
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
            sponsor=endorsement.organization_id == sponsor_id,
        )
        for endorsement, org, cid, reason, weight in rows
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
    """The customers that count, and the total weight of the eligible endorsements."""
    customers = _Customers()
    weight_of, heaviest_of, commitments_of = (
        customers.weight,
        customers.heaviest,
        customers.commitments,
    )
    eligible_weights: list[float] = []
    # (weight, organization) of every member of a customer that has several (affiliates).
    groups: dict[str, list[tuple[float, Organization]]] = {}
    for endorsement, org, cid, reason, weight in _counted(policy, evidence, now):
        if org is None or reason is not None:
            continue
        eligible_weights.append(weight)
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


def _standing(
    policy: GatePolicy, customers: _Customers, total: float, sponsor_customer: str | None
) -> Standing:
    weights = customers.weight
    dominant = None
    if weights:
        # The heaviest customer, the smallest id among equals.
        top = max(weights.values())
        cid = min(c for c, weight in weights.items() if weight == top)
        member = customers.heaviest[cid]
        dominant = Dominant(cid, weights[cid], member.name, member.organization_id)
    heaviest = customers.heaviest.values()
    return Standing(
        customers=len(weights),
        sponsor_counted=sponsor_customer is not None and sponsor_customer in weights,
        segments=tuple(sorted({o.segment for o in heaviest})),
        active=sum(1 for o in heaviest if o.relationship is Relationship.ACTIVE),
        total_weight=total,
        dominant=dominant,
        commitments={
            commitment: sum(1 for c in customers.commitments.values() if commitment in c)
            for commitment, _ in policy.min_commitments
        },
    )


def evaluate(policy: GatePolicy, evidence: Evidence, now: datetime) -> GateReport:
    """Evaluate `policy` against `evidence` as of `now`; order of endorsements is irrelevant."""
    customers, total = _fold_customers(policy, evidence, now)
    sponsor_id = evidence.sponsor_organization_id
    sponsor_customer = (
        _customer_of(policy, sponsor_id, evidence.organizations) if sponsor_id else None
    )
    return judge(
        policy,
        _standing(policy, customers, total, sponsor_customer),
        evidence.councils,
        evidence.council_votes,
        now,
        functools.partial(_organization_weights, policy, evidence, now),
    )

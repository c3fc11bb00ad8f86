"""A gate's criteria and the report's sentences, stated once over an idea's standing.

`Standing` is what the criteria look at once endorsements are folded into customers:
counts, segments, the total weight and the heaviest customer. The plain evaluation
(`gate.evaluate`) computes it from the full evidence; the incremental tally (`tally.py`)
keeps it up to date event by event. Both hand it to `judge`, so the two paths cannot
state a rule, a number or a sentence differently.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from quorum_validation.gate_model import (
    Commitment,
    Council,
    CriterionResult,
    GatePolicy,
    GateReport,
    Named,
    OrganizationWeight,
    Wording,
)

__all__ = ["Dominant", "Standing", "judge"]

# Float sums of weights are compared against thresholds typed by humans (0.3, 0.35, ...);
# a tolerance keeps 0.1 + 0.2 from failing a 0.3 threshold.
_EPSILON = 1e-9


@dataclass(frozen=True)
class Dominant:
    """The heaviest customer (the smallest id among equals) and its weight."""

    customer_id: str
    weight: float
    # The name of its heaviest member, who stands for the customer.
    name: str
    # That member's id: who may read the name is decided by the member's visibility.
    organization_id: str


@dataclass(frozen=True)
class Standing:
    """The eligible endorsements folded into customers, as far as the criteria need."""

    customers: int
    # Whether the sponsor's customer is among them (for sponsor_excluded).
    sponsor_counted: bool
    # The distinct segments of the customers (each customer's heaviest member), sorted.
    segments: tuple[str, ...]
    # Customers whose heaviest member is ACTIVE.
    active: int
    # The exact sum of the eligible weights, rounded once (what math.fsum gives).
    total_weight: float
    dominant: Dominant | None
    # Customers with each commitment (any of their members made it).
    commitments: Mapping[Commitment, int]


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


# Past this a number is shown in scientific notation: a sentence stays a sentence.
_PLAIN_MAX = 1e15


def _number(value: float) -> str:
    """Up to two decimals, trailing zeros dropped: 3.5, 2, 0.35."""
    if not abs(value) < _PLAIN_MAX:  # also NaN and inf: shown, never raised on
        return f"{value:.3g}"
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


def _percent(value: float) -> str:
    if not math.isfinite(value):
        return f"{value}%"
    # Half-up rather than Python's banker's rounding: people expect 12.5% -> 13%.
    return f"{math.floor(value * 100 + 0.5)}%"


def _weight_gap(required: float, total: float) -> float:
    """How much more weight a gate needs, rounded up to the cent: "needs 0.01 more"."""
    gap = required - total
    if not abs(gap) < _PLAIN_MAX:
        return gap
    return math.ceil(gap * 100 - _EPSILON) / 100


def _needed_approvals(quorum: float, members: int) -> int:
    if not math.isfinite(quorum):
        return members + 1  # a quorum that is no number cannot be reached
    # Approvals are whole votes, so ">= quorum x members" means its ceiling; the epsilon
    # stops 0.3 * 10 = 3.0000000000000004 from demanding a fourth vote.
    return max(0, math.ceil(quorum * members - _EPSILON))


@dataclass
class _Outcome:
    criteria: list[CriterionResult] = field(default_factory=list)
    clauses: list[Wording] = field(default_factory=list)

    def add(self, result: CriterionResult, clause: str | Wording | None = None) -> None:
        self.criteria.append(result)
        if not result.met and clause:
            self.clauses.append((clause,) if isinstance(clause, str) else clause)

    def summary(self) -> Wording:
        """The unmet criteria's clauses as one sentence, "; " between them."""
        parts: list[str | Named] = []
        for clause in self.clauses:
            for part in ("; ", *clause) if parts else clause:
                # Words next to words are one part: one wording per sentence said.
                if isinstance(part, str) and parts and isinstance(parts[-1], str):
                    parts[-1] += part
                else:
                    parts.append(part)
        return tuple(parts)


def judge(
    policy: GatePolicy,
    standing: Standing,
    councils: tuple[Council, ...],
    council_votes: Mapping[str, Mapping[str, bool]],
    now: datetime,
    weights_of: Callable[[], tuple[OrganizationWeight, ...]],
    weights_omitted: int = 0,
) -> GateReport:
    """The report of `policy` over `standing` and the councils' votes, as of `now`."""
    outcome = _Outcome()
    _count_criteria(policy, standing, outcome)
    _weight_criteria(policy, standing, outcome)
    _commitment_criteria(policy, standing, outcome)
    _council_criteria(policy, councils, council_votes, outcome)

    holds = all(c.met for c in outcome.criteria)
    summary = (f"gate into {policy.stage} holds",) if holds else outcome.summary()
    if not holds and not summary:  # every unmet criterion should have a clause; be safe
        summary = (f"gate into {policy.stage} does not hold",)
    return GateReport(
        stage=policy.stage,
        policy_version=policy.version,
        holds=holds,
        criteria=tuple(outcome.criteria),
        summary_wording=summary,
        evaluated_at=now,
        _weights_of=weights_of,
        weights_omitted=weights_omitted,
    )


def _at_least(name: str, required: int, actual: int, noun: str, note: str = "") -> CriterionResult:
    """A criterion met by at least `required` of something: "2 of 3 customers"."""
    return CriterionResult(
        name=name,
        required=float(required),
        actual=float(actual),
        met=actual >= required,
        wording=(f"{actual} of {_plural(required, noun)}{note}",),
    )


def _count_criteria(policy: GatePolicy, standing: Standing, outcome: _Outcome) -> None:
    results: list[CriterionResult] = []
    missing: list[str] = []
    if policy.min_customers:
        actual = standing.customers
        note = ""
        if policy.sponsor_excluded and standing.sponsor_counted:
            actual -= 1
            note = " (the sponsor does not count)"
        results.append(_at_least("min_customers", policy.min_customers, actual, "customer", note))
        if actual < policy.min_customers:
            missing.append(_plural(policy.min_customers - actual, "more customer"))
    if policy.min_segments:
        actual = len(standing.segments)
        listed = f": {', '.join(standing.segments)}" if standing.segments else ""
        results.append(_at_least("min_segments", policy.min_segments, actual, "segment", listed))
        if actual < policy.min_segments:
            missing.append(_plural(policy.min_segments - actual, "more segment"))

    # Customers and segments read as one need: "needs 2 more customers from 1 more segment".
    clause = "needs " + " from ".join(missing) if missing else None
    for result in results:
        outcome.add(result, clause)
        if not result.met:
            clause = None  # the combined clause is said once, by the first unmet criterion

    if policy.min_active:
        actual = standing.active
        outcome.add(
            _at_least("min_active", policy.min_active, actual, "active customer"),
            f"needs {_plural(policy.min_active - actual, 'more active customer')}",
        )


def _weight_criteria(policy: GatePolicy, standing: Standing, outcome: _Outcome) -> None:
    total = standing.total_weight
    if policy.min_weight:
        met = total >= policy.min_weight - _EPSILON
        outcome.add(
            CriterionResult(
                name="min_weight",
                required=policy.min_weight,
                actual=total,
                met=met,
                wording=(f"total weight {_number(total)} of {_number(policy.min_weight)}",),
            ),
            # Round the gap up so "needs 0.01 more" never prints as "needs 0 more".
            f"needs {_number(_weight_gap(policy.min_weight, total))} more weight",
        )

    if policy.max_share:
        cap = _percent(policy.max_share)
        dominant = standing.dominant
        if total <= 0 or dominant is None:
            # No weight cannot prove that no single customer dominates.
            outcome.add(
                CriterionResult(
                    name="max_share",
                    required=policy.max_share,
                    actual=0.0,
                    met=False,
                    wording=("no endorsement carries weight",),
                ),
                f"no endorsement carries weight, so the {cap} cap cannot be checked",
            )
            return
        share = dominant.weight / total
        named = Named(dominant.organization_id, dominant.name)
        met = share <= policy.max_share + _EPSILON
        outcome.add(
            CriterionResult(
                name="max_share",
                required=policy.max_share,
                actual=share,
                met=met,
                subject=dominant.customer_id,
                wording=(named, f" holds {_percent(share)} of the weight (cap {cap})"),
            ),
            (named, f" holds {_percent(share)} of the weight, over the {cap} cap"),
        )


def _commitment_criteria(policy: GatePolicy, standing: Standing, outcome: _Outcome) -> None:
    for commitment, required in policy.min_commitments:
        if not required:
            continue
        actual = standing.commitments.get(commitment, 0)
        noun = f"more {commitment.value} commitment"
        outcome.add(
            CriterionResult(
                name="min_commitments",
                required=float(required),
                actual=float(actual),
                met=actual >= required,
                subject=commitment.value,
                wording=(f"{actual} of {required} customers committed to {commitment.value}",),
            ),
            f"needs {_plural(required - actual, noun)}",
        )


def _council_criteria(
    policy: GatePolicy,
    councils: tuple[Council, ...],
    council_votes: Mapping[str, Mapping[str, bool]],
    outcome: _Outcome,
) -> None:
    requirement = policy.council_approval
    if requirement is None:
        return
    by_id = {c.council_id: c for c in councils}
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
                    wording=(f"council {requirement.council_id} does not exist",),
                ),
                f"needs approval of council {requirement.council_id}, which does not exist",
            )
            return
        required_councils = [council]
    else:
        # "Every council of the tenant": with no council at all the criterion has no subject.
        required_councils = [by_id[k] for k in sorted(by_id)]

    for council in required_councils:
        votes = council_votes.get(council.council_id, {})
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
                wording=(f"council {council.name}: {tally}",),
            ),
            f"needs approval of council {council.name} ({tally})",
        )

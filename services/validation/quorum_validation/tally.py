"""The incremental tally: an idea's standing kept up to date one organization at a time.

`gate.evaluate` folds every endorsement of an idea into customers on each call; for an
idea with 50,000 organizations that is 50,000 rows per event. The tally keeps what the
criteria need (`criteria.Standing`) and changes it by the organizations a batch of
events touches, so judging costs the same for 10 organizations as for 50,000.

Three levels, each kept as its own record by the adapter (`evidence.py`):

- a `Member`: one eligible, fresh organization as it counts (weight, customer, segment);
- a `Customer`: its members folded (exact weight, commitments, its heaviest member);
- the `IdeaTally`: the customers folded (counts, segments, exact total, the heaviest
  customer, the oldest counted endorsement).

Weights are summed exactly, as integers in units of 2**-1074 (every float is a whole
number of them), and rounded once when read: the same float `math.fsum` gives over the
same weights, whatever order they came in. What a change cannot decide alone (the next
heaviest member when the heaviest leaves, the next heaviest customer when the top one
does) it asks for, and the adapter looks it up in an index: `Recount.unknown_heaviest`,
`Recount.close`. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from quorum_validation.criteria import Dominant, Standing
from quorum_validation.gate import (
    Commitment,
    Endorsement,
    ExclusionReason,
    GatePolicy,
    Organization,
    Relationship,
    exclusion,
    organization_weight,
)

__all__ = [
    "Contribution",
    "Customer",
    "IdeaTally",
    "Member",
    "Recount",
    "build",
    "contribution",
    "counts_alike",
    "rounded",
    "units",
]

# The smallest float step is 2**-1074; every finite float is a whole number of them.
_SCALE = 1074
_ONE = 1 << _SCALE


def units(weight: float) -> int:
    """`weight` as an exact integer number of 2**-1074."""
    numerator, denominator = weight.as_integer_ratio()
    # The denominator is a power of two, 2**k with k <= 1074.
    return numerator << (_SCALE + 1 - denominator.bit_length())


def rounded(exact: int) -> float:
    """The float nearest an exact sum: int / int is correctly rounded, like math.fsum."""
    return exact / _ONE


@dataclass(frozen=True, slots=True)
class Member:
    """One eligible, fresh organization as it counts toward the gate."""

    organization_id: str
    customer_id: str
    weight: float
    name: str
    segment: str
    relationship: Relationship
    commitments: frozenset[Commitment]
    endorsed_at: datetime


def heavier(a: Member, b: Member) -> bool:
    """Whether `a` stands for a customer before `b`: heavier, the smaller id among equals."""
    return a.weight > b.weight or (a.weight == b.weight and a.organization_id < b.organization_id)


@dataclass(frozen=True, slots=True)
class Contribution:
    """How one endorsing organization counts under a policy: a report's row, less its share."""

    customer_id: str
    weight: float  # 0 when it does not count
    excluded_reason: ExclusionReason | None
    member: Member | None  # set exactly when it counts


def contribution(
    policy: GatePolicy,
    endorsement: Endorsement,
    organization: Organization | None,
    top: str,
    cutoff: datetime | None,
) -> Contribution:
    """The gate's rules (`gate.exclusion`, `gate.organization_weight`) for one organization.

    `top` is the head of its corporate tree (`gate.customer_id_of`), its customer when
    affiliates count once; `cutoff` is `gate.stale_before` of the moment judged.
    """
    oid = endorsement.organization_id
    customer_id = top if policy.affiliates_count_once else oid
    reason = exclusion(organization, endorsement, cutoff)
    if organization is None or reason is not None:
        return Contribution(customer_id, 0.0, reason, None)
    weight = organization_weight(policy, organization, endorsement.importance)
    member = Member(
        organization_id=oid,
        customer_id=customer_id,
        weight=weight,
        name=organization.name,
        segment=organization.segment,
        relationship=organization.relationship,
        commitments=endorsement.commitments,
        endorsed_at=endorsement.endorsed_at,
    )
    return Contribution(customer_id, weight, None, member)


@dataclass(frozen=True, slots=True)
class _View:
    """What a customer adds to the idea's tally."""

    weight: float
    organization_id: str  # of its heaviest member, as is the name
    name: str
    segment: str
    active: bool
    commitments: frozenset[Commitment]


@dataclass
class Customer:
    """One customer of an idea: its members folded."""

    customer_id: str
    exact: int = 0
    members: int = 0
    # Members with each commitment.
    commitments: dict[Commitment, int] = field(default_factory=dict)
    # Its heaviest member, who stands for it; None while it has members means "not
    # known here": the adapter looks it up (Recount.unknown_heaviest).
    heaviest: Member | None = None

    @property
    def weight(self) -> float:
        return rounded(self.exact)

    def copy(self) -> Customer:
        return Customer(
            self.customer_id, self.exact, self.members, dict(self.commitments), self.heaviest
        )

    def _view(self) -> _View | None:
        if not self.members:
            return None
        heaviest = self.heaviest
        assert heaviest is not None, "a customer's heaviest member is settled before its view"
        return _View(
            weight=self.weight,
            organization_id=heaviest.organization_id,
            name=heaviest.name,
            segment=heaviest.segment,
            active=heaviest.relationship is Relationship.ACTIVE,
            commitments=frozenset(c for c, n in self.commitments.items() if n > 0),
        )

    def _add(self, member: Member, sign: int) -> None:
        self.members += sign
        self.exact += sign * units(member.weight)
        for commitment in member.commitments:
            self.commitments[commitment] = self.commitments.get(commitment, 0) + sign


@dataclass
class IdeaTally:
    """What the gate into an idea's next stage needs, kept without its endorsements."""

    policy: GatePolicy
    # The sponsor's customer under this policy (None: no sponsor).
    sponsor_customer: str | None
    customers: int = 0
    # Customers by the segment of their heaviest member.
    segments: dict[str, int] = field(default_factory=dict)
    active: int = 0
    commitments: dict[Commitment, int] = field(default_factory=dict)
    exact: int = 0
    top: Dominant | None = None
    sponsor_counted: bool = False
    # No counted endorsement is older than this (a lower bound, tightened on expiry).
    fresh_since: datetime | None = None
    # Rebuilt in generations: records and customers count toward the generation they
    # carry. While `pending`, records of older generations are still to be folded in
    # (a rebuild too large for one transaction) and the gate is not judged; while
    # `leftovers`, customers of older generations are still to be deleted.
    generation: int = 0
    pending: bool = False
    leftovers: bool = False

    def copy(self) -> IdeaTally:
        return replace(
            self,
            segments=dict(self.segments),
            commitments=dict(self.commitments),
        )

    def standing(self) -> Standing:
        return Standing(
            customers=self.customers,
            sponsor_counted=self.sponsor_counted,
            segments=tuple(sorted(s for s, n in self.segments.items() if n > 0)),
            active=self.active,
            total_weight=rounded(self.exact),
            dominant=self.top if self.customers else None,
            commitments={c: self.commitments.get(c, 0) for c, _ in self.policy.min_commitments},
        )

    def needs_expiry(self, cutoff: datetime | None) -> bool:
        """Whether an endorsement counted so far may be older than `cutoff`."""
        return cutoff is not None and self.fresh_since is not None and self.fresh_since < cutoff

    def _count(self, view: _View | None, sign: int) -> None:
        if view is None:
            return
        self.customers += sign
        self.segments[view.segment] = self.segments.get(view.segment, 0) + sign
        if not self.segments[view.segment]:
            del self.segments[view.segment]
        self.active += sign * view.active
        for commitment in view.commitments:
            self.commitments[commitment] = self.commitments.get(commitment, 0) + sign


class Recount:
    """One batch's changes to an idea's tally.

    `move` each changed organization (before → after, None where it does not count),
    settle the heaviest members it asks for, then `close`; if that asks for the top
    customer, `settle_top`. `customers` are the stored customers the moves touch
    (missing ones have no member yet). The tally and customers given are not changed:
    `tally` and `customers` are the recounted copies.
    """

    def __init__(self, tally: IdeaTally, customers: Mapping[str, Customer]) -> None:
        self.tally = tally.copy()
        self._stored = customers
        self._touched: dict[str, Customer] = {}
        self._before: dict[str, _View | None] = {}

    def _touch(self, customer_id: str) -> Customer:
        customer = self._touched.get(customer_id)
        if customer is None:
            stored = self._stored.get(customer_id)
            customer = stored.copy() if stored is not None else Customer(customer_id)
            self._touched[customer_id] = customer
            self._before[customer_id] = customer._view()
        return customer

    def move(self, before: Member | None, after: Member | None) -> None:
        tally = self.tally
        if before is not None:
            tally.exact -= units(before.weight)
        if after is not None:
            tally.exact += units(after.weight)
            if tally.fresh_since is None or after.endorsed_at < tally.fresh_since:
                tally.fresh_since = after.endorsed_at
        if before is not None and after is not None and before.customer_id == after.customer_id:
            self._change(before, after)
            return
        if before is not None:
            self._leave(before)
        if after is not None:
            self._join(after)

    def _change(self, before: Member, after: Member) -> None:
        customer = self._touch(after.customer_id)
        customer._add(before, -1)
        customer._add(after, +1)
        heaviest = customer.heaviest
        if customer.members == 1:
            customer.heaviest = after
        elif heaviest is None:
            return  # looked up anyway
        elif heaviest.organization_id == after.organization_id:
            # Still the heaviest unless it got lighter; then someone else may be.
            customer.heaviest = after if after.weight >= heaviest.weight else None
        elif heavier(after, heaviest):
            customer.heaviest = after

    def _leave(self, member: Member) -> None:
        customer = self._touch(member.customer_id)
        customer._add(member, -1)
        if not customer.members:
            customer.heaviest = None
            customer.exact = 0
        elif customer.heaviest is not None and (
            customer.heaviest.organization_id == member.organization_id
        ):
            customer.heaviest = None  # the next one is looked up

    def _join(self, member: Member) -> None:
        customer = self._touch(member.customer_id)
        customer._add(member, +1)
        heaviest = customer.heaviest
        if customer.members == 1 or (heaviest is not None and heavier(member, heaviest)):
            customer.heaviest = member

    def unknown_heaviest(self) -> list[str]:
        """Customers whose heaviest member must be looked up among their members."""
        return [cid for cid, c in self._touched.items() if c.members and c.heaviest is None]

    def settle_heaviest(self, customer_id: str, member: Member) -> None:
        self._touched[customer_id].heaviest = member

    @property
    def customers(self) -> dict[str, Customer | None]:
        """The customers changed, None for those left without members (to delete)."""
        return {cid: (c if c.members else None) for cid, c in self._touched.items()}

    def close(self) -> bool:
        """Fold the changed customers into the tally; True if the top must be looked up."""
        tally = self.tally
        unknown = tally.top is None and tally.customers > 0
        for cid, customer in self._touched.items():
            before, after = self._before[cid], customer._view()
            tally._count(before, -1)
            tally._count(after, +1)
            if cid == tally.sponsor_customer:
                tally.sponsor_counted = after is not None
            if unknown:
                continue
            top = tally.top
            if top is not None and cid == top.customer_id:
                if after is not None and after.weight >= top.weight:
                    tally.top = Dominant(cid, after.weight, after.name, after.organization_id)
                else:
                    unknown = True  # it got lighter or left: someone else may lead
            elif after is not None and (
                top is None
                or after.weight > top.weight
                or (after.weight == top.weight and cid < top.customer_id)
            ):
                tally.top = Dominant(cid, after.weight, after.name, after.organization_id)
        if not tally.customers:
            tally.top = None
            return False
        if unknown:
            tally.top = None
        return unknown

    def settle_top(self, top: Dominant) -> None:
        self.tally.top = top


def counts_alike(a: GatePolicy, b: GatePolicy) -> bool:
    """Whether every organization counts the same under both policies.

    Members, customers and the tally depend on a policy only through these; the rest
    (the thresholds) is read when judging. A tally kept for `a` then serves `b` as it is.
    """
    return (
        a.weighting is b.weighting
        and a.relationship_factors == b.relationship_factors
        and a.affiliates_count_once == b.affiliates_count_once
        and a.max_age_days == b.max_age_days
    )


def build(
    policy: GatePolicy, sponsor_customer: str | None, members: Iterable[Member]
) -> tuple[IdeaTally, dict[str, Customer]]:
    """The tally and customers of an idea from all its counted members (a rebuild)."""
    customers: dict[str, Customer] = {}
    tally = IdeaTally(policy=policy, sponsor_customer=sponsor_customer)
    for member in members:
        customer = customers.get(member.customer_id)
        if customer is None:
            customer = customers[member.customer_id] = Customer(member.customer_id)
        customer._add(member, +1)
        if customer.heaviest is None or heavier(member, customer.heaviest):
            customer.heaviest = member
        tally.exact += units(member.weight)
        if tally.fresh_since is None or member.endorsed_at < tally.fresh_since:
            tally.fresh_since = member.endorsed_at
    for customer in customers.values():
        view = customer._view()
        tally._count(view, +1)
        assert view is not None
        top = tally.top
        if (
            top is None
            or view.weight > top.weight
            or (view.weight == top.weight and customer.customer_id < top.customer_id)
        ):
            tally.top = Dominant(customer.customer_id, view.weight, view.name, view.organization_id)
    tally.sponsor_counted = sponsor_customer is not None and sponsor_customer in customers
    return tally, customers

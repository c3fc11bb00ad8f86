"""The incremental tally gives exactly the verdict `gate.evaluate` gives on the full evidence.

Random histories of one idea (endorsements, re-endorsements, withdrawals, merges in parts,
directory changes, policy changes, a clock moving on) are applied twice: folded batch by
batch into the tally, the way the consumer does against MongoDB (here a dictionary plays
the indexes it looks things up in), and evaluated from scratch. After every batch both
reports must say the same: same verdict, same criteria, same sentence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quorum_validation.criteria import Dominant, judge
from quorum_validation.gate import (
    Commitment,
    Endorsement,
    Evidence,
    GatePolicy,
    GateReport,
    Importance,
    Organization,
    Relationship,
    Weighting,
    customer_id_of,
    evaluate,
    stale_before,
)
from quorum_validation.pipeline import default_pipeline
from quorum_validation.tally import (
    Customer,
    IdeaTally,
    Member,
    Recount,
    build,
    contribution,
    counts_alike,
    heavier,
    rounded,
    units,
)

START = datetime(2026, 1, 1, tzinfo=UTC)
ORGS = [f"org{i}" for i in range(8)]
SEGMENTS = ["retail", "health", "finance"]
SPONSOR = "org0"


@dataclass
class Idea:
    """One idea as the consumer keeps it: records, customers, tally; and the plain truth."""

    policy: GatePolicy
    directory: dict[str, Organization]
    now: datetime
    endorsements: dict[str, Endorsement] = field(default_factory=dict)
    # What each organization's record says it counts for (None: it does not count).
    members: dict[str, Member | None] = field(default_factory=dict)
    customers: dict[str, Customer] = field(default_factory=dict)
    tally: IdeaTally | None = None
    lookups: int = 0

    def cutoff(self) -> datetime | None:
        return stale_before(self.now, self.policy.max_age_days)

    def member(self, endorsement: Endorsement) -> Member | None:
        top = customer_id_of(endorsement.organization_id, self.directory)
        org = self.directory.get(endorsement.organization_id)
        return contribution(self.policy, endorsement, org, top, self.cutoff()).member

    def sponsor_customer(self) -> str:
        if self.policy.affiliates_count_once:
            return customer_id_of(SPONSOR, self.directory)
        return SPONSOR

    def rebuild(self) -> None:
        """A policy or directory change: the tally from every record (O(N), rare)."""
        self.members = {oid: self.member(e) for oid, e in self.endorsements.items()}
        counted = [m for m in self.members.values() if m is not None]
        self.tally, self.customers = build(self.policy, self.sponsor_customer(), counted)

    def batch(self, changes: dict[str, Endorsement | None]) -> None:
        """Changes to some organizations' counted endorsements, applied as one batch."""
        assert self.tally is not None
        moves: list[tuple[Member | None, Member | None]] = []
        for oid, endorsement in changes.items():
            after = self.member(endorsement) if endorsement is not None else None
            moves.append((self.members.get(oid), after))
            self.members[oid] = after
            if endorsement is None:
                self.endorsements.pop(oid, None)
            else:
                self.endorsements[oid] = endorsement
        cutoff = self.cutoff()
        expired = self.tally.needs_expiry(cutoff)
        if expired:
            assert cutoff is not None
            self.lookups += 1
            for oid, m in list(self.members.items()):
                if m is not None and oid not in changes and m.endorsed_at < cutoff:
                    moves.append((m, None))
                    self.members[oid] = None
        recount = Recount(self.tally, self.customers)
        assert recount.tally is not self.tally  # the stored tally stays as it was
        for before, after in moves:
            recount.move(before, after)
        for cid in recount.unknown_heaviest():
            self.lookups += 1
            candidates = [m for m in self.members.values() if m and m.customer_id == cid]
            best = candidates[0]
            for candidate in candidates[1:]:
                if heavier(candidate, best):
                    best = candidate
            recount.settle_heaviest(cid, best)
        for cid, customer in recount.customers.items():
            if customer is None:
                self.customers.pop(cid, None)
            else:
                self.customers[cid] = customer
        if recount.close():
            self.lookups += 1
            top = min(self.customers.values(), key=lambda c: (-c.weight, c.customer_id))
            assert top.heaviest is not None
            recount.settle_top(
                Dominant(
                    top.customer_id, top.weight, top.heaviest.name, top.heaviest.organization_id
                )
            )
        self.tally = recount.tally
        if expired:
            fresh = [m.endorsed_at for m in self.members.values() if m is not None]
            self.tally.fresh_since = min(fresh, default=None)

    def reports(self) -> tuple[GateReport, GateReport]:
        assert self.tally is not None
        incremental = judge(self.policy, self.tally.standing(), (), {}, self.now, lambda: ())
        plain = evaluate(
            self.policy,
            Evidence(tuple(self.endorsements.values()), SPONSOR, self.directory),
            self.now,
        )
        return incremental, plain


def same_verdict(incremental: GateReport, plain: GateReport) -> None:
    assert incremental.holds == plain.holds
    assert incremental.criteria == plain.criteria
    assert incremental.summary == plain.summary


# --------------------------------------------------------------------------- histories

organizations = st.builds(
    lambda segment, arr, relationship, poor_fit, parent: (
        segment,
        arr,
        relationship,
        poor_fit,
        parent,
    ),
    st.sampled_from(SEGMENTS),
    st.sampled_from([0, 1, 5_000_000, 20_000_000, 300_000_000, 10**9]),
    st.sampled_from(list(Relationship)),
    st.sampled_from([False, False, False, True]),
    st.none() | st.sampled_from([*ORGS, "holding"]),
)


def organization(oid: str, drawn: tuple[str, int, Relationship, bool, str | None]) -> Organization:
    segment, arr, relationship, poor_fit, parent = drawn
    return Organization(
        organization_id=oid,
        name=oid.upper(),
        segment=segment,
        arr=arr,
        relationship=relationship,
        poor_fit=poor_fit,
        parent_id=parent if parent != oid else None,
    )


policies = st.builds(
    lambda stage, base, affiliates, sponsor, age, weighting, weight, active: replace(
        default_pipeline().policy_into(stage),
        affiliates_count_once=affiliates,
        sponsor_excluded=sponsor,
        max_age_days=age,
        weighting=weighting,
        min_weight=weight,
        min_active=active,
        min_commitments=((Commitment.BETA_TESTER, 2),) if stage == "BETA" else (),
        council_approval=None,
        version=base,
    ),
    st.sampled_from(["DISCOVERY", "DESIGN", "BUILD", "BETA", "LAUNCH"]),
    st.integers(1, 5),
    st.booleans(),
    st.booleans(),
    st.none() | st.sampled_from([3, 10, 30]),
    st.sampled_from(list(Weighting)),
    st.none() | st.sampled_from([1.0, 10.0, 3_000.0]),
    st.sampled_from([0, 1, 3]),
)

endorsements = st.tuples(
    st.sampled_from(list(Importance)),
    st.frozensets(st.sampled_from(list(Commitment)), max_size=2),
    st.integers(0, 40),  # days before the moment of the batch
)

step = st.one_of(
    st.tuples(st.just("endorse"), st.sampled_from(ORGS), endorsements),
    st.tuples(st.just("withdraw"), st.sampled_from(ORGS), st.none()),
    st.tuples(
        st.just("merge"),
        st.lists(st.tuples(st.sampled_from(ORGS), endorsements), min_size=1, max_size=4),
        st.none(),
    ),
    st.tuples(st.just("directory"), st.sampled_from([*ORGS, "holding"]), organizations),
    st.tuples(st.just("forget"), st.sampled_from(ORGS), st.none()),
    st.tuples(st.just("policy"), policies, st.none()),
    st.tuples(st.just("clock"), st.integers(1, 20), st.none()),
)


def endorsement_at(
    oid: str, drawn: tuple[Importance, frozenset[Commitment], int], now: datetime
) -> Endorsement:
    importance, commitments, days = drawn
    return Endorsement(oid, importance, commitments, now - timedelta(days=days, hours=days))


@settings(max_examples=400, deadline=None)
@given(
    policies,
    st.fixed_dictionaries(dict.fromkeys(ORGS[:6], organizations)),
    st.lists(st.lists(step, min_size=1, max_size=4), max_size=14),
)
def test_the_tally_judges_every_history_as_evaluate_does(
    policy: GatePolicy,
    drawn: dict[str, tuple[str, int, Relationship, bool, str | None]],
    batches: list[list[tuple[str, object, object]]],
) -> None:
    idea = Idea(policy, {oid: organization(oid, d) for oid, d in drawn.items()}, START)
    idea.endorsements[SPONSOR] = Endorsement(SPONSOR, Importance.IMPORTANT, frozenset(), START)
    idea.rebuild()
    same_verdict(*idea.reports())
    for batch in batches:
        changes: dict[str, Endorsement | None] = {}
        rebuild = False
        for kind, subject, detail in batch:
            if kind == "endorse":
                changes[str(subject)] = endorsement_at(str(subject), detail, idea.now)  # type: ignore[arg-type]
            elif kind == "withdraw":
                changes[str(subject)] = None
            elif kind == "merge":
                for oid, drawn_endorsement in subject:  # type: ignore[attr-defined]
                    changes[oid] = endorsement_at(oid, drawn_endorsement, idea.now)
            elif kind == "clock":
                idea.now += timedelta(days=subject, minutes=7)  # type: ignore[arg-type]
            else:
                # Directory and policy changes are re-evaluated by rebuilding the tally;
                # the batch's own changes are applied first, as the consumer writes them.
                if changes:
                    idea.batch(changes)
                    changes = {}
                if kind == "directory":
                    idea.directory[str(subject)] = organization(str(subject), detail)  # type: ignore[arg-type]
                elif kind == "forget":
                    idea.directory.pop(str(subject), None)
                else:
                    idea.policy = subject  # type: ignore[assignment]
                rebuild = True
        if rebuild:
            idea.rebuild()
        if changes or not rebuild:
            idea.batch(changes)
        same_verdict(*idea.reports())


# --------------------------------------------------------------------------- exactness


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=1e15, allow_nan=False), max_size=40), st.data())
def test_exact_sums_round_as_fsum_whatever_the_order(
    weights: list[float], data: st.DataObject
) -> None:
    exact = sum(units(w) for w in weights)
    assert rounded(exact) == math.fsum(weights)
    removed = data.draw(st.lists(st.sampled_from(weights), unique=True)) if weights else []
    left = list(weights)
    for w in removed:
        left.remove(w)
        exact -= units(w)
    assert rounded(exact) == math.fsum(left)


def test_a_weight_as_units_is_exact() -> None:
    for weight in (0.0, 0.1, 1.5, 5e-324, 2.0**-1022, 1e300, 123456.789):
        assert rounded(units(weight)) == weight


# --------------------------------------------------------------------------- what it asks for


def member(oid: str, weight: float, customer: str | None = None) -> Member:
    return Member(
        oid,
        customer or oid,
        weight,
        oid.upper(),
        "retail",
        Relationship.ACTIVE,
        frozenset(),
        START,
    )


def test_a_new_heaviest_customer_takes_the_lead_without_a_lookup() -> None:
    policy = default_pipeline().policy_into("DISCOVERY")
    stored, customers = build(policy, "a", [member("a", 3.0), member("b", 2.0)])
    recount = Recount(stored, customers)
    recount.move(None, member("c", 5.0))
    assert recount.unknown_heaviest() == []
    assert not recount.close()
    tally = recount.tally
    assert tally.top == Dominant("c", 5.0, "C", "c")
    assert tally.customers == 3
    assert rounded(tally.exact) == 10.0
    assert stored.customers == 2  # what was read stays as it was


def test_the_leader_leaving_asks_for_the_next_one() -> None:
    policy = default_pipeline().policy_into("DISCOVERY")
    stored, customers = build(policy, "a", [member("a", 3.0), member("b", 2.0)])
    assert stored.sponsor_counted
    recount = Recount(stored, customers)
    recount.move(member("a", 3.0), None)
    assert recount.close()  # who leads now is in the index, not here
    assert recount.tally.top is None
    recount.settle_top(Dominant("b", 2.0, "B", "b"))
    assert not recount.tally.sponsor_counted
    assert recount.tally.standing().dominant == Dominant("b", 2.0, "B", "b")


def test_a_customer_losing_its_heaviest_member_asks_for_the_next_one() -> None:
    policy = replace(default_pipeline().policy_into("DISCOVERY"), affiliates_count_once=True)
    group = [member("a", 3.0, "hold"), member("b", 2.0, "hold"), member("c", 1.0, "hold")]
    stored, customers = build(policy, None, group)
    assert customers["hold"].heaviest == group[0]
    recount = Recount(stored, customers)
    recount.move(group[0], None)
    assert recount.unknown_heaviest() == ["hold"]
    recount.settle_heaviest("hold", group[1])
    assert recount.close()  # the top customer got lighter
    recount.settle_top(Dominant("hold", 3.0, "B", "b"))
    assert recount.tally.customers == 1
    assert recount.tally.standing().segments == ("retail",)
    # A member getting heavier while it leads keeps the lead without a look-up.
    left = {cid: c for cid, c in recount.customers.items() if c is not None}
    again = Recount(recount.tally, left)
    again.move(group[1], member("b", 4.0, "hold"))
    assert again.unknown_heaviest() == []
    assert not again.close()
    assert again.tally.top == Dominant("hold", 5.0, "B", "b")


@pytest.mark.parametrize("size", [10, 5_000])
def test_a_move_touches_only_the_customers_it_moves(size: int) -> None:
    policy = default_pipeline().policy_into("DISCOVERY")
    members = [member(f"o{i:05d}", 1.0 + i % 7) for i in range(size)]
    stored, _ = build(policy, "o00000", members)
    recount = Recount(stored, {})
    recount.move(None, member("zz", 2.5))
    assert list(recount.customers) == ["zz"]
    assert not recount.close()
    assert recount.tally.customers == size + 1


@settings(max_examples=100, deadline=None)
@given(
    policies,
    st.sampled_from(["DISCOVERY", "DESIGN", "LAUNCH"]),
    st.integers(0, 9),
    st.sampled_from([None, 0.3, 0.9]),
    st.fixed_dictionaries(dict.fromkeys(ORGS[:6], organizations)),
)
def test_a_tally_serves_every_policy_that_counts_organizations_alike(
    first: GatePolicy,
    stage: str,
    customers: int,
    share: float | None,
    drawn: dict[str, tuple[str, int, Relationship, bool, str | None]],
) -> None:
    # A stage move or a new threshold: only what is required changes.
    second = replace(first, stage=stage, min_customers=customers, max_share=share, version=9)
    assert counts_alike(first, second)
    idea = Idea(first, {oid: organization(oid, d) for oid, d in drawn.items()}, START)
    for i, oid in enumerate(ORGS[:6]):
        idea.endorsements[oid] = Endorsement(
            oid, Importance(1 + i % 3), frozenset(), START - timedelta(days=4 * i)
        )
    idea.rebuild()
    kept = idea.tally
    assert kept is not None
    idea.policy = second
    idea.rebuild()
    assert replace(kept.copy(), policy=second) == idea.tally
    assert not counts_alike(
        first, replace(first, affiliates_count_once=not first.affiliates_count_once)
    )

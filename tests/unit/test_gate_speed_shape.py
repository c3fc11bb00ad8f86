"""The gate's verdict and its per-organization snapshot, held against the rules spelled out.

evaluate() decides the verdict in one pass that folds the counted endorsements straight
into customers, and builds GateReport.weights (the snapshot) only when someone reads it.
These tests are the plain statement the engine is held to: each row of the snapshot
checked against the SPEC's rules one by one, every criterion recomputed from the snapshot
the slow, obvious way, on generated evidence and on a large tenant; and a report with a
lazily built snapshot still behaves as the frozen value it always was."""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quorum_validation.gate import (
    Commitment,
    Endorsement,
    Evidence,
    GatePolicy,
    GateReport,
    Importance,
    Organization,
    OrganizationWeight,
    Relationship,
    Weighting,
    customer_id_of,
    evaluate,
    organization_weight,
    revenue_factor,
)
from quorum_validation.pipeline import default_pipeline
from support.gate_policies import gate_policies
from support.gates import criterion

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
ORG_IDS = [f"org{i}" for i in range(8)]
SEGMENTS = ["retail", "finance", "health"]

modest = settings(max_examples=100, deadline=None)


# --------------------------------------------------------------------------- reference


@dataclass
class Customer:
    customer_id: str
    weight: float
    heaviest: OrganizationWeight
    commitments: frozenset[Commitment]


def merged(endorsements: Iterable[Endorsement]) -> dict[str, Endorsement]:
    """The SPEC's merge of an organization's endorsements: its highest importance, all
    its commitments, its latest date."""
    by_organization: dict[str, list[Endorsement]] = {}
    for e in endorsements:
        by_organization.setdefault(e.organization_id, []).append(e)
    return {
        oid: Endorsement(
            oid,
            max(e.importance for e in group),
            frozenset().union(*(e.commitments for e in group)),
            max(e.endorsed_at for e in group),
        )
        for oid, group in by_organization.items()
    }


def customers_from_snapshot(report: GateReport, evidence: Evidence) -> dict[str, Customer]:
    endorsements = merged(evidence.endorsements)
    members: dict[str, list[OrganizationWeight]] = {}
    for w in report.weights:
        if w.eligible:
            members.setdefault(w.customer_id, []).append(w)
    return {
        cid: Customer(
            customer_id=cid,
            weight=math.fsum(m.weight for m in group),
            heaviest=min(group, key=lambda m: (-m.weight, m.organization_id)),
            commitments=frozenset().union(
                *(endorsements[m.organization_id].commitments for m in group)
            ),
        )
        for cid, group in members.items()
    }


def assert_snapshot_follows_the_rules(policy: GatePolicy, evidence: Evidence) -> None:
    """Each row of the snapshot, checked against the public rules one by one."""
    report = evaluate(policy, evidence, NOW)
    endorsements = merged(evidence.endorsements)
    directory = evidence.organizations
    assert sorted(w.organization_id for w in report.weights) == sorted(endorsements)
    total = math.fsum(w.weight for w in report.weights if w.eligible)
    assert report.total_weight == total
    for w in report.weights:
        endorsement = endorsements[w.organization_id]
        org = directory.get(w.organization_id)
        stale = bool(policy.max_age_days) and endorsement.endorsed_at < NOW - timedelta(
            days=policy.max_age_days or 0
        )
        assert w.eligible == (org is not None and not org.poor_fit and not stale)
        assert w.importance == endorsement.importance
        assert w.sponsor == (w.organization_id == evidence.sponsor_organization_id)
        if policy.affiliates_count_once:
            assert w.customer_id == customer_id_of(w.organization_id, directory)
        else:
            assert w.customer_id == w.organization_id
        if w.eligible:
            assert org is not None
            assert w.weight == organization_weight(policy, org, endorsement.importance)
            assert w.share == (w.weight / total if total > 0 else 0.0)
        else:
            assert (w.weight, w.share) == (0.0, 0.0)
    keys = [(not w.eligible, -w.weight, w.organization_id) for w in report.weights]
    assert keys == sorted(keys)


def assert_verdict_agrees_with_snapshot(policy: GatePolicy, evidence: Evidence) -> None:
    """Every criterion the fast pass computed, recomputed from the snapshot."""
    report = evaluate(policy, evidence, NOW)
    customers = customers_from_snapshot(report, evidence)
    total = report.total_weight

    if policy.min_customers:
        counted = set(customers)
        sponsor = evidence.sponsor_organization_id
        if policy.sponsor_excluded and sponsor:
            if policy.affiliates_count_once:
                sponsor = customer_id_of(sponsor, evidence.organizations)
            counted.discard(sponsor)
        assert criterion(report, "min_customers").actual == len(counted)
    if policy.min_segments:
        segments = {c.heaviest.segment for c in customers.values()}
        assert criterion(report, "min_segments").actual == len(segments)
    if policy.min_active:
        active = [c for c in customers.values() if c.heaviest.relationship is Relationship.ACTIVE]
        assert criterion(report, "min_active").actual == len(active)
    if policy.min_weight:
        assert criterion(report, "min_weight").actual == total
    if policy.max_share and total > 0:
        dominant = min(customers.values(), key=lambda c: (-c.weight, c.customer_id))
        result = criterion(report, "max_share")
        assert result.subject == dominant.customer_id
        assert result.actual == dominant.weight / total
        assert result.detail.startswith(f"{dominant.heaviest.organization_name} holds ")
    for commitment, required in policy.min_commitments:
        if required:
            committed = [c for c in customers.values() if commitment in c.commitments]
            assert criterion(report, "min_commitments", commitment.value).actual == len(committed)


# --------------------------------------------------------------------------- generated


@st.composite
def evidences(draw: st.DrawFn) -> Evidence:
    """Affiliates (deep, dangling, cyclic), poor fits, strangers, duplicates, old dates."""
    ids = draw(st.lists(st.sampled_from(ORG_IDS), min_size=1, unique=True))
    parents = st.none() | st.sampled_from([*ORG_IDS, "ext-parent"])
    directory = {
        oid: Organization(
            organization_id=oid,
            name=oid.title(),
            segment=draw(st.sampled_from(SEGMENTS)),
            arr=draw(st.sampled_from([0, 9_999, 10_000, 10_001]) | st.integers(0, 10**9)),
            relationship=draw(st.sampled_from(Relationship)),
            poor_fit=draw(st.integers(0, 4)) == 0,
            parent_id=draw(parents),
        )
        for oid in ids
    }
    endorsers = [*ids, "stranger"]
    endorsements = draw(
        st.lists(
            st.builds(
                Endorsement,
                organization_id=st.sampled_from(endorsers),
                importance=st.sampled_from(Importance),
                commitments=st.frozensets(st.sampled_from(Commitment)),
                endorsed_at=st.integers(0, 400).map(lambda d: NOW - timedelta(days=d)),
            ),
            max_size=12,
        )
    )
    return Evidence(
        endorsements=tuple(endorsements),
        sponsor_organization_id=draw(st.none() | st.sampled_from(endorsers)),
        organizations=directory,
    )


policies = gate_policies(
    min_segments=st.integers(0, 3),
    # 0 and -0.0 make weightless customers; 2 makes ties of equal weights likelier.
    relationship_factors=st.dictionaries(
        st.sampled_from(Relationship), st.sampled_from([0.0, -0.0, 0.5, 2.0]) | st.floats(0, 2)
    ),
)


@modest
@given(policy=policies, evidence=evidences())
def test_verdict_agrees_with_the_snapshot(policy: GatePolicy, evidence: Evidence) -> None:
    assert_verdict_agrees_with_snapshot(policy, evidence)


@modest
@given(policy=policies, evidence=evidences())
def test_snapshot_follows_the_rules(policy: GatePolicy, evidence: Evidence) -> None:
    assert_snapshot_follows_the_rules(policy, evidence)


# --------------------------------------------------------------------------- a large tenant


def large_evidence(seed: int, count: int) -> Evidence:
    """A tenant with corporate trees, duplicates, strangers and poor fits."""
    rnd = random.Random(seed)
    ids = [f"org-{i:05d}" for i in range(count)]
    directory = {
        oid: Organization(
            organization_id=oid,
            name=f"Customer {i % 50}",
            segment=f"segment-{rnd.randrange(12)}",
            arr=rnd.choice([0, 1_000_000, rnd.randrange(10**9)]),
            relationship=rnd.choice(list(Relationship)),
            poor_fit=rnd.random() < 0.05,
            parent_id=rnd.choice([None] * 6 + [rnd.choice(ids), f"holding-{rnd.randrange(20)}"]),
        )
        for i, oid in enumerate(ids)
    }
    endorsements = tuple(
        Endorsement(
            organization_id=rnd.choice([*ids[: count * 3 // 4], "ghost"]),
            importance=rnd.choice(list(Importance)),
            commitments=frozenset(rnd.sample(list(Commitment), rnd.randint(0, 2))),
            endorsed_at=NOW - timedelta(days=rnd.randrange(300)),
        )
        for _ in range(count)
    )
    return Evidence(
        endorsements=endorsements,
        sponsor_organization_id=rnd.choice(ids),
        organizations=directory,
    )


@pytest.mark.parametrize("stage", ["DISCOVERY", "DESIGN", "BETA", "LAUNCH"])
@pytest.mark.parametrize("affiliates_count_once", [True, False])
def test_verdict_agrees_with_the_snapshot_for_a_large_tenant(
    stage: str, affiliates_count_once: bool
) -> None:
    policy = dataclasses.replace(
        default_pipeline().policy_into(stage),
        affiliates_count_once=affiliates_count_once,
        sponsor_excluded=True,
        min_active=2,
        min_weight=1_000.0,
        max_age_days=200,
    )
    evidence = large_evidence(seed=len(stage), count=2_000)
    assert_verdict_agrees_with_snapshot(policy, evidence)
    assert_snapshot_follows_the_rules(policy, evidence)


def test_endorsement_order_and_duplicates_do_not_change_a_large_report() -> None:
    policy = default_pipeline().policy_into("DISCOVERY")
    evidence = large_evidence(seed=7, count=2_000)
    shuffled = list(evidence.endorsements)
    random.Random(1).shuffle(shuffled)
    # An organization's repeated endorsement merges into the same one.
    repeated = dataclasses.replace(evidence, endorsements=(*shuffled, *shuffled[:100]))
    assert evaluate(policy, repeated, NOW) == evaluate(policy, evidence, NOW)


# --------------------------------------------------------------------------- the report value


def small_evidence(*extra: Endorsement) -> Evidence:
    def org(oid: str, segment: str, arr: int) -> Organization:
        return Organization(organization_id=oid, name=oid.title(), segment=segment, arr=arr)

    def endorse(oid: str) -> Endorsement:
        return Endorsement(oid, Importance.IMPORTANT, frozenset(), NOW)

    orgs = [org("acme", "retail", 3_000_000), org("bakery", "food", 1_000_000)]
    return Evidence.of([endorse("acme"), endorse("bakery"), *extra], orgs)


def test_reports_differing_only_in_the_snapshot_are_not_equal() -> None:
    policy = default_pipeline().policy_into("DISCOVERY")
    stranger = Endorsement("stranger", Importance.CRITICAL, frozenset(), NOW)
    plain = evaluate(policy, small_evidence(), NOW)
    with_stranger = evaluate(policy, small_evidence(stranger), NOW)
    # The unknown organization does not count, so only the snapshot tells them apart.
    assert with_stranger.criteria == plain.criteria
    assert with_stranger.summary == plain.summary
    assert with_stranger != plain
    assert evaluate(policy, small_evidence(), NOW) == plain
    assert hash(evaluate(policy, small_evidence(), NOW)) == hash(plain)


def test_report_repr_lists_the_snapshot_in_its_place() -> None:
    report = evaluate(default_pipeline().policy_into("DISCOVERY"), small_evidence(), NOW)
    text = repr(report)
    assert text.startswith("GateReport(stage='DISCOVERY', policy_version=1, holds=")
    assert f", weights={report.weights!r}, evaluated_at={NOW!r})" in text
    assert "_policy" not in text
    assert "_evidence" not in text


def test_report_is_frozen() -> None:
    report = evaluate(default_pipeline().policy_into("DISCOVERY"), small_evidence(), NOW)
    first = report.weights
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.weights = ()
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.holds = not report.holds  # type: ignore[misc]
    assert report.weights is first  # built once, then kept


@pytest.mark.parametrize("arr", [0, 1, 9_999, 10_000, 10_001, 250_000, 10**12])
def test_revenue_factor_keeps_its_formulas(arr: int) -> None:
    assert revenue_factor(Weighting.EQUAL, arr) == 1.0
    assert revenue_factor(Weighting.ARR_LOG, arr) == 1.0 + math.log10(1.0 + arr / 1e5)
    assert revenue_factor(Weighting.ARR_LINEAR, arr) == max(arr / 1e5, 0.1)

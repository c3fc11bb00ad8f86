"""Properties the gate must keep for any evidence, not just the examples we thought of."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from quorum_validation.gate import (
    Commitment,
    Council,
    CouncilRequirement,
    Endorsement,
    Evidence,
    GatePolicy,
    Importance,
    Organization,
    Relationship,
    evaluate,
)
from support.gate_policies import gate_policies

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
ORG_IDS = [f"org{i}" for i in range(8)]
SEGMENTS = ["retail", "finance", "health", "energy"]

# Per-test settings rather than a loaded profile, so other suites keep their own defaults.
modest = settings(max_examples=75, deadline=None)


@st.composite
def directories(draw: st.DrawFn) -> dict[str, Organization]:
    """A tenant directory, including affiliates, poor fits and dangling or cyclic parents."""
    ids = draw(st.lists(st.sampled_from(ORG_IDS), min_size=1, max_size=len(ORG_IDS), unique=True))
    parents = st.none() | st.sampled_from([*ORG_IDS, "ext-parent"])
    return {
        oid: Organization(
            organization_id=oid,
            name=oid.title(),
            segment=draw(st.sampled_from(SEGMENTS)),
            arr=draw(st.integers(0, 10**9)),
            relationship=draw(st.sampled_from(Relationship)),
            poor_fit=draw(st.booleans()),
            parent_id=draw(parents),
        )
        for oid in ids
    }


def endorsements_for(ids: list[str]) -> st.SearchStrategy[Endorsement]:
    return st.builds(
        Endorsement,
        organization_id=st.sampled_from(ids),
        importance=st.sampled_from(Importance),
        commitments=st.frozensets(st.sampled_from(Commitment)),
        endorsed_at=st.integers(0, 400).map(lambda d: NOW - timedelta(days=d)),
    )


policies = gate_policies(
    version=st.integers(1, 5),
    council_approval=st.none()
    | st.builds(CouncilRequirement, st.sampled_from(["", "cab", "missing"]), st.floats(0, 1)),
)


@st.composite
def evidences(draw: st.DrawFn) -> Evidence:
    directory = draw(directories())
    # Some endorsers are unknown to the directory, and some endorse twice.
    endorser_ids = [*directory, "stranger"]
    endorsements = draw(st.lists(endorsements_for(endorser_ids), max_size=10))
    councils = draw(
        st.lists(
            st.builds(
                Council,
                st.sampled_from(["cab", "board"]),
                st.just("Council"),
                st.frozensets(st.sampled_from(ORG_IDS), max_size=5),
            ),
            max_size=2,
            unique_by=lambda c: c.council_id,
        )
    )
    votes = draw(
        st.dictionaries(
            st.sampled_from(["cab", "board"]),
            st.dictionaries(st.sampled_from(ORG_IDS), st.booleans()),
        )
    )
    return Evidence(
        endorsements=tuple(endorsements),
        sponsor_organization_id=draw(st.none() | st.sampled_from(endorser_ids)),
        organizations=directory,
        councils=tuple(councils),
        council_votes=votes,
    )


@modest
@given(
    policy=policies,
    cap=st.floats(0.01, 0.99),
    evidence=evidences(),
    endorsement=endorsements_for([*ORG_IDS, "stranger"]),
)
def test_one_organization_alone_never_passes_a_share_cap(
    policy: GatePolicy, cap: float, evidence: Evidence, endorsement: Endorsement
) -> None:
    alone = replace(evidence, endorsements=(endorsement,))
    report = evaluate(replace(policy, max_share=cap), alone, NOW)
    assert not report.holds


@modest
@given(policy=policies, evidence=evidences(), data=st.data())
def test_adding_an_eligible_endorsement_never_lowers_the_customer_count(
    policy: GatePolicy, evidence: Evidence, data: st.DataObject
) -> None:
    policy = replace(policy, min_customers=max(policy.min_customers, 1))
    endorsed = {e.organization_id for e in evidence.endorsements}
    candidates = [
        o.organization_id
        for o in evidence.organizations.values()
        if not o.poor_fit and o.organization_id not in endorsed
    ]
    if not candidates:
        return
    newcomer = Endorsement(
        data.draw(st.sampled_from(candidates)),
        data.draw(st.sampled_from(Importance)),
        frozenset(),
        NOW,
    )
    more = replace(evidence, endorsements=(*evidence.endorsements, newcomer))

    def customers(ev: Evidence) -> float:
        report = evaluate(policy, ev, NOW)
        return next(c.actual for c in report.criteria if c.name == "min_customers")

    assert customers(more) >= customers(evidence)


@modest
@given(policy=policies, evidence=evidences(), data=st.data())
def test_report_does_not_depend_on_endorsement_order(
    policy: GatePolicy, evidence: Evidence, data: st.DataObject
) -> None:
    shuffled = data.draw(st.permutations(evidence.endorsements))
    original = evaluate(policy, evidence, NOW)
    reordered = evaluate(policy, replace(evidence, endorsements=tuple(shuffled)), NOW)
    assert reordered.holds == original.holds
    assert reordered == original


@modest
@given(policy=policies, evidence=evidences())
def test_evaluate_is_deterministic(policy: GatePolicy, evidence: Evidence) -> None:
    first = evaluate(policy, evidence, NOW)
    rebuilt = Evidence(
        endorsements=tuple(evidence.endorsements),
        sponsor_organization_id=evidence.sponsor_organization_id,
        organizations=dict(evidence.organizations),
        councils=tuple(evidence.councils),
        council_votes={k: dict(v) for k, v in evidence.council_votes.items()},
    )
    assert evaluate(replace(policy), rebuilt, NOW) == first


@modest
@given(policy=policies, evidence=evidences())
def test_shares_of_eligible_customers_sum_to_one(policy: GatePolicy, evidence: Evidence) -> None:
    report = evaluate(policy, evidence, NOW)
    eligible = [w for w in report.weights if w.eligible]
    total = math.fsum(w.weight for w in eligible)
    if total <= 0:
        assert all(w.share == 0.0 for w in report.weights)
        return
    by_customer: dict[str, float] = {}
    for w in eligible:
        by_customer[w.customer_id] = by_customer.get(w.customer_id, 0.0) + w.share
    assert math.isclose(math.fsum(by_customer.values()), 1.0, rel_tol=1e-9)
    assert all(w.share == 0.0 for w in report.weights if not w.eligible)


@modest
@given(policy=policies, evidence=evidences())
def test_verdict_and_summary_agree_with_criteria(policy: GatePolicy, evidence: Evidence) -> None:
    report = evaluate(policy, evidence, NOW)
    assert report.holds == all(c.met for c in report.criteria)
    assert (report.summary == "gate into DISCOVERY holds") == report.holds
    assert report.evaluated_at == NOW
    assert report.policy_version == policy.version

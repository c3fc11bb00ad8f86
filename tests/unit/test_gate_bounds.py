"""Every number a policy, an organization or a council holds has bounds, and evaluation
is total over whatever is stored: out-of-bound documents from before the bounds are
clamped when read, and no weight, total or share is ever infinite or NaN."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quorum.domain.v1 import domain_pb2
from quorum_common.errors import Violations
from quorum_validation.gate import (
    CouncilRequirement,
    Endorsement,
    Evidence,
    GatePolicy,
    Importance,
    Organization,
    Relationship,
    Weighting,
    evaluate,
)
from quorum_validation.limits import (
    ARR_MAX,
    COUNT_MAX,
    MAX_AGE_DAYS_MAX,
    ORGANIZATION_WEIGHT_MAX,
    WEIGHT_MAX,
)
from quorum_validation.messages import (
    council_from,
    organization_from,
    policy_document,
    policy_from,
)
from quorum_validation.pipeline import default_pipeline
from quorum_validation.requests import check_council, check_organization, check_policy
from quorum_validation.tally import build, contribution, rounded

NOW = datetime(2026, 1, 1, tzinfo=UTC)
HUGE = [0.0, 1e308, float("inf"), float("nan"), 2.0**63]


def _evidence(arr: int = 10**18) -> Evidence:
    organizations = [
        Organization("a", "A", "retail", arr),
        Organization("b", "B", "tech", arr // 2, Relationship.PROSPECT),
        Organization("c", "C", "health", 0, Relationship.CHURNED),
    ]
    endorsements = [
        Endorsement(o.organization_id, Importance.CRITICAL, frozenset(), NOW - timedelta(days=3))
        for o in organizations
    ]
    return Evidence.of(endorsements, organizations)


def _stored(**changes: Any) -> dict[str, Any]:
    doc = policy_document(default_pipeline().policies["DISCOVERY"])
    doc.update(changes)
    return doc


def _finite_report(policy: GatePolicy, evidence: Evidence) -> None:
    report = evaluate(policy, evidence, NOW)
    for criterion in report.criteria:
        assert math.isfinite(criterion.actual), criterion
    for weight in report.weights:
        assert 0 <= weight.weight <= ORGANIZATION_WEIGHT_MAX
        assert math.isfinite(weight.share)
    assert report.summary


@pytest.mark.parametrize("value", HUGE)
def test_absurd_thresholds_evaluate_as_unmet_never_raise(value: float) -> None:
    policy = GatePolicy("DISCOVERY", min_weight=value or None, max_share=0.5)
    report = evaluate(policy, _evidence(), NOW)
    if value:
        # Nothing weighs 1e308 (or NaN): the criterion is unmet, with a sentence.
        assert [c.name for c in report.unmet] == ["min_weight"]
        assert "more weight" in report.summary


# GatePolicy refuses a NaN factor; a stored one is read as 0 (below).
@pytest.mark.parametrize("factor", [f for f in HUGE if not math.isnan(f)])
def test_absurd_relationship_factors_keep_weights_finite(factor: float) -> None:
    factors = {Relationship.ACTIVE: factor, Relationship.PROSPECT: factor}
    policy = GatePolicy("DISCOVERY", min_weight=1.0, max_share=0.5, relationship_factors=factors)
    _finite_report(policy, _evidence())


def test_the_tally_sums_absurd_weights_exactly() -> None:
    policy = GatePolicy(
        "DISCOVERY", min_weight=1.0, relationship_factors={Relationship.ACTIVE: 1e308}
    )
    evidence = _evidence()
    members = []
    for endorsement in evidence.endorsements:
        counted = contribution(
            policy,
            endorsement,
            evidence.organizations[endorsement.organization_id],
            endorsement.organization_id,
            None,
        )
        assert counted.member is not None
        members.append(counted.member)
    tally, _ = build(policy, None, members)
    assert math.isfinite(rounded(tally.exact))
    # The incremental tally and the plain evaluation agree on the capped weights.
    assert tally.standing().total_weight == evaluate(policy, evidence, NOW).criteria[0].actual


def test_a_huge_max_age_makes_nothing_stale() -> None:
    policy = GatePolicy("DISCOVERY", min_customers=3, max_age_days=2**31)
    assert evaluate(policy, _evidence(), NOW).holds


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"min_weight": 1e308}, {"min_weight": WEIGHT_MAX}),
        ({"min_weight": float("nan")}, {"min_weight": WEIGHT_MAX}),
        ({"min_weight": -3.0}, {"min_weight": None}),
        ({"max_share": float("nan")}, {}),
        ({"max_share": 7.0}, {"max_share": 1.0}),
        ({"min_customers": 2**40}, {"min_customers": COUNT_MAX}),
        ({"max_age_days": 2147483648}, {"max_age_days": MAX_AGE_DAYS_MAX}),
        ({"max_age_days": -1}, {"max_age_days": None}),
        ({"min_commitments": [["PREORDER", 2**40], ["PREORDER", 1]]}, {}),
        ({"council_approval": {"council_id": "", "quorum": float("nan")}}, {}),
        ({"council_approval": {"council_id": "", "quorum": 9.0}}, {}),
        (
            {"relationship_factors": {"ACTIVE": 1e308, "PROSPECT": float("nan"), "CHURNED": -1}},
            {},
        ),
    ],
)
def test_stored_policies_out_of_bounds_are_read_within_them(
    changes: dict[str, Any], expected: dict[str, Any]
) -> None:
    policy = policy_from(_stored(**changes))
    for name, value in expected.items():
        assert getattr(policy, name) == value, name
    if policy.council_approval is not None:
        assert 0 < policy.council_approval.quorum <= 1
    assert all(0 <= f <= 10 for f in policy.relationship_factors.values())
    assert all(0 <= k <= COUNT_MAX for _, k in policy.min_commitments)
    _finite_report(policy, _evidence())


def test_stored_organizations_and_councils_out_of_bounds_are_read_within_them() -> None:
    organization = organization_from(
        {
            "organization_id": "a",
            "name": "A",
            "segment": "retail",
            "arr": 2**63 - 1,
            "relationship": "ACTIVE",
            "poor_fit": False,
            "parent_id": "",
        }
    )
    assert organization.arr == ARR_MAX
    for quorum, expected in [(5.0, 1.0), (float("nan"), 1.0), (-1.0, None), (None, None)]:
        council = council_from(
            {"council_id": "c", "name": "C", "member_organization_ids": ["a"], "quorum": quorum}
        )
        assert council.quorum == expected


def _violations(check: Any, message: Any) -> list[str]:
    violations = Violations()
    check(violations, message)
    return sorted(v.field for v in violations._items)


def test_policies_out_of_bounds_are_refused_by_field_path() -> None:
    policy = domain_pb2.GatePolicy(
        stage="DISCOVERY",
        min_customers=COUNT_MAX + 1,
        min_weight=1e308,
        max_share=float("nan"),
        max_age_days=2147483648,
        weighting=domain_pb2.WEIGHTING_EQUAL,
        relationship_factors=domain_pb2.RelationshipFactors(active=1e308, prospect=-1),
        council_approval=domain_pb2.CouncilRequirement(quorum=float("inf")),
        min_commitments=[
            domain_pb2.CommitmentRequirement(commitment=domain_pb2.COMMITMENT_PREORDER, count=0)
        ],
    )
    assert _violations(check_policy, policy) == [
        "policy.council_approval.quorum",
        "policy.max_age_days",
        "policy.max_share",
        "policy.min_commitments[0].count",
        "policy.min_customers",
        "policy.min_weight",
        "policy.relationship_factors.active",
        "policy.relationship_factors.prospect",
    ]
    within = domain_pb2.GatePolicy(
        stage="DISCOVERY",
        min_customers=COUNT_MAX,
        min_weight=WEIGHT_MAX,
        max_share=1.0,
        max_age_days=MAX_AGE_DAYS_MAX,
        weighting=domain_pb2.WEIGHTING_ARR_LOG,
        relationship_factors=domain_pb2.RelationshipFactors(active=10, prospect=0, churned=0.5),
    )
    assert _violations(check_policy, within) == []


def test_organizations_and_councils_out_of_bounds_are_refused() -> None:
    organization = domain_pb2.Organization(
        organization_id="a",
        name="A",
        segment="retail",
        arr=ARR_MAX + 1,
        relationship=domain_pb2.RELATIONSHIP_ACTIVE,
    )
    assert _violations(check_organization, organization) == ["organization.arr"]
    council = domain_pb2.Council(council_id="c", name="C", quorum=1.5)
    assert _violations(check_council, council) == ["council.quorum"]
    council.quorum = float("nan")
    assert _violations(check_council, council) == ["council.quorum"]


floats = st.floats(allow_nan=False) | st.sampled_from([1e308, float("inf"), 0.0])


@settings(max_examples=150, deadline=None)
@given(
    min_weight=floats.filter(lambda f: f >= 0),
    factor=floats.filter(lambda f: f >= 0),
    quorum=st.floats(0, 1),
    counts=st.integers(0, 2**64),
    max_age=st.integers(0, 2**32),
    arr=st.integers(0, 2**63 - 1),
    weighting=st.sampled_from(Weighting),
)
def test_evaluation_is_total_over_every_constructible_policy(
    min_weight: float,
    factor: float,
    quorum: float,
    counts: int,
    max_age: int,
    arr: int,
    weighting: Weighting,
) -> None:
    policy = GatePolicy(
        "DISCOVERY",
        min_customers=counts,
        min_segments=counts,
        min_active=counts,
        min_weight=min_weight or None,
        max_share=0.5,
        council_approval=CouncilRequirement("", quorum),
        weighting=weighting,
        relationship_factors=dict.fromkeys(Relationship, factor),
        max_age_days=max_age or None,
    )
    _finite_report(policy, _evidence(arr))

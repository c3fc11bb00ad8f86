"""Who counts as a customer and how much it weighs (SPEC, "Gate policy"): affiliates,
sponsor exclusion, eligibility, relationship and revenue weights."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from quorum_validation.gate import (
    Commitment,
    ExclusionReason,
    Importance,
    Organization,
    Weighting,
    customer_id_of,
    evaluate,
    revenue_factor,
)
from support.gates import (
    ACTIVE,
    CHURNED,
    NOW,
    PROSPECT,
    criterion,
    endorse,
    evidence,
    org,
    policy,
    weight_of,
)

# ------------------------------------------------------------------ affiliates


def affiliate_directory() -> list[Organization]:
    return [
        org("hold", "finance", 100_000, ACTIVE, name="Holding"),
        org("sub1", "retail", 400_000, PROSPECT, parent_id="hold", name="Sub One"),
        org("sub2", "health", 100_000, ACTIVE, parent_id="hold", name="Sub Two"),
        org("other", "energy", 100_000, ACTIVE, name="Other"),
    ]


def test_affiliates_count_once_when_the_rule_is_on() -> None:
    ev = evidence([endorse(o) for o in ("hold", "sub1", "sub2", "other")], affiliate_directory())
    p = policy(
        min_customers=3,
        min_segments=3,
        min_active=2,
        max_share=0.5,
        weighting=Weighting.ARR_LINEAR,
        affiliates_count_once=True,
    )
    report = evaluate(p, ev, NOW)

    assert criterion(report, "min_customers").actual == 2
    # The group's segment and relationship are those of its heaviest member (sub1: 2*0.5*4=4).
    assert criterion(report, "min_segments").actual == 2
    assert criterion(report, "min_active").actual == 1
    # Group weight 2 + 4 + 2 = 8 against Other's 2: affiliates cannot dilute share.
    share = criterion(report, "max_share")
    assert share.actual == pytest.approx(0.8)
    assert share.subject == "hold"
    assert report.summary == (
        "needs 1 more customer from 1 more segment; needs 1 more active customer; "
        "Sub One holds 80% of the weight, over the 50% cap"
    )
    assert {w.organization_id: w.customer_id for w in report.weights} == {
        "hold": "hold",
        "sub1": "hold",
        "sub2": "hold",
        "other": "other",
    }


def test_without_the_affiliates_rule_each_organization_is_its_own_customer() -> None:
    ev = evidence([endorse(o) for o in ("hold", "sub1", "sub2", "other")], affiliate_directory())
    report = evaluate(policy(min_customers=4, min_segments=4), ev, NOW)
    assert report.holds
    assert all(w.customer_id == w.organization_id for w in report.weights)


def test_siblings_group_even_when_parent_is_not_in_directory_or_not_endorsing() -> None:
    directory = [
        org("x", parent_id="ghost"),
        org("y", parent_id="ghost"),
        org("z", parent_id="hold"),
    ]
    directory.append(org("hold"))
    ev = evidence([endorse("x"), endorse("y"), endorse("z")], directory)
    report = evaluate(policy(min_customers=1, affiliates_count_once=True), ev, NOW)
    assert criterion(report, "min_customers").actual == 2
    assert {w.customer_id for w in report.weights} == {"ghost", "hold"}


def test_affiliate_chains_resolve_to_the_top_and_cycles_are_stable() -> None:
    directory = {
        o.organization_id: o
        for o in [
            org("top"),
            org("mid", parent_id="top"),
            org("low", parent_id="mid"),
            org("p", parent_id="q"),
            org("q", parent_id="p"),
        ]
    }
    assert customer_id_of("low", directory) == "top"
    assert customer_id_of("mid", directory) == "top"
    assert customer_id_of("p", directory) == customer_id_of("q", directory) == "p"
    assert customer_id_of("stranger", directory) == "stranger"


def test_affiliate_group_heaviest_member_tie_broken_by_organization_id() -> None:
    directory = [
        org("hold", "finance", relationship=PROSPECT, name="Holding"),
        org("a-sub", "retail", relationship=PROSPECT, parent_id="hold", name="A Sub"),
    ]
    ev = evidence([endorse("hold"), endorse("a-sub")], directory)
    p = policy(affiliates_count_once=True, min_segments=1, max_share=0.5)
    report = evaluate(p, ev, NOW)
    assert criterion(report, "min_segments").detail.endswith("retail")
    assert report.summary == "A Sub holds 100% of the weight, over the 50% cap"


# ------------------------------------------------------------------ sponsor exclusion


def test_sponsor_excluded_from_customers_but_not_from_weight() -> None:
    ev = evidence(
        [endorse("a", Importance.CRITICAL), endorse("b")], [org("a"), org("b")], sponsor="a"
    )
    p = policy(min_customers=2, min_weight=5.0, sponsor_excluded=True)
    report = evaluate(p, ev, NOW)
    customers = criterion(report, "min_customers")
    assert (customers.actual, customers.met) == (1, False)
    assert "sponsor" in customers.detail
    assert criterion(report, "min_weight").met
    assert [w.sponsor for w in report.weights] == [True, False]

    counted = evaluate(policy(min_customers=2), ev, NOW)
    assert criterion(counted, "min_customers").met


def test_sponsor_exclusion_removes_the_sponsors_whole_affiliate_group() -> None:
    ev = evidence(
        [endorse(o) for o in ("hold", "sub1", "sub2", "other")],
        affiliate_directory(),
        sponsor="sub2",
    )
    p = policy(min_customers=2, sponsor_excluded=True, affiliates_count_once=True)
    assert criterion(evaluate(p, ev, NOW), "min_customers").actual == 1


def test_sponsor_exclusion_without_sponsor_endorsement_subtracts_nothing() -> None:
    ev = evidence([endorse("a"), endorse("b")], [org("a"), org("b"), org("s")], sponsor="s")
    p = policy(min_customers=2, sponsor_excluded=True)
    assert criterion(evaluate(p, ev, NOW), "min_customers").met


# ------------------------------------------------------------------ eligibility


def test_freshness_boundary_is_inclusive() -> None:
    limit = NOW - timedelta(days=30)
    ev = evidence(
        [
            endorse("edge", at=limit),
            endorse("old", at=limit - timedelta(seconds=1)),
            endorse("new"),
        ],
        [org("edge"), org("old"), org("new")],
    )
    report = evaluate(policy(min_customers=3, max_age_days=30), ev, NOW)
    by_id = {w.organization_id: w for w in report.weights}
    assert by_id["edge"].eligible
    assert by_id["new"].eligible
    assert not by_id["old"].eligible
    assert by_id["old"].excluded_reason is ExclusionReason.STALE
    assert str(by_id["old"].excluded_reason) == "stale"
    assert by_id["old"].weight == 0.0
    assert criterion(report, "min_customers").actual == 2

    no_freshness = evaluate(policy(min_customers=3), ev, NOW)
    assert no_freshness.holds


def test_poor_fit_does_not_steer_the_roadmap() -> None:
    ev = evidence(
        [endorse("a"), endorse("bad", Importance.CRITICAL)], [org("a"), org("bad", poor_fit=True)]
    )
    report = evaluate(policy(min_customers=2, max_share=0.9), ev, NOW)
    bad = next(w for w in report.weights if w.organization_id == "bad")
    assert not bad.eligible
    assert bad.excluded_reason == "poor_fit"
    assert bad.weight == 0.0
    assert bad.share == 0.0
    assert criterion(report, "min_customers").actual == 1
    assert weight_of(report, "a") == 2.0


def test_unknown_organization_is_ineligible() -> None:
    ev = evidence([endorse("ghost"), endorse("a")], [org("a")])
    report = evaluate(policy(min_customers=1), ev, NOW)
    ghost = next(w for w in report.weights if w.organization_id == "ghost")
    assert not ghost.eligible
    assert ghost.excluded_reason is ExclusionReason.UNKNOWN_ORGANIZATION
    assert str(ghost.excluded_reason) == "unknown_organization"
    assert ghost.relationship is None
    assert ghost.organization_name == ""
    assert ghost.arr == 0
    assert criterion(report, "min_customers").actual == 1


def test_unknown_takes_precedence_over_staleness_and_poor_fit_over_staleness() -> None:
    old = NOW - timedelta(days=400)
    ev = evidence([endorse("ghost", at=old), endorse("bad", at=old)], [org("bad", poor_fit=True)])
    report = evaluate(policy(max_age_days=30), ev, NOW)
    assert {w.organization_id: w.excluded_reason for w in report.weights} == {
        "ghost": "unknown_organization",
        "bad": "poor_fit",
    }


def test_duplicate_endorsements_of_one_organization_merge() -> None:
    ev = evidence(
        [
            endorse("a", Importance.NICE_TO_HAVE, [Commitment.PREORDER], NOW - timedelta(days=90)),
            endorse("a", Importance.CRITICAL, [Commitment.BETA_TESTER], NOW - timedelta(days=100)),
        ],
        [org("a")],
    )
    p = policy(
        min_customers=1,
        max_age_days=95,
        min_commitments=((Commitment.PREORDER, 1), (Commitment.BETA_TESTER, 1)),
    )
    report = evaluate(p, ev, NOW)
    assert len(report.weights) == 1
    assert report.weights[0].importance is Importance.CRITICAL
    assert report.holds  # latest date is fresh; commitments are the union


# ------------------------------------------------------------------ weights


def test_default_relationship_factors() -> None:
    directory = [
        org("a", relationship=ACTIVE),
        org("p", relationship=PROSPECT),
        org("c", relationship=CHURNED),
    ]
    report = evaluate(
        policy(), evidence([endorse(o.organization_id) for o in directory], directory), NOW
    )
    assert [(w.organization_id, w.weight) for w in report.weights] == [
        ("a", 2.0),
        ("c", 1.0),
        ("p", 1.0),
    ]


def test_configured_relationship_factors_merge_with_defaults() -> None:
    directory = [
        org("a", relationship=ACTIVE),
        org("p", relationship=PROSPECT),
        org("c", relationship=CHURNED),
    ]
    p = policy(relationship_factors={PROSPECT: 0.8, CHURNED: 0.25})
    report = evaluate(p, evidence([endorse(o.organization_id) for o in directory], directory), NOW)
    assert weight_of(report, "a") == pytest.approx(2.0)
    assert weight_of(report, "p") == pytest.approx(1.6)
    assert weight_of(report, "c") == pytest.approx(0.5)
    assert p.relationship_factors[ACTIVE] == 1.0


@pytest.mark.parametrize(
    ("weighting", "arr", "expected_factor"),
    [
        (Weighting.EQUAL, 123_456_789, 1.0),
        (Weighting.ARR_LOG, 0, 1.0),
        (Weighting.ARR_LOG, 900_000, 2.0),  # 1 + log10(1 + 9)
        (Weighting.ARR_LOG, 9_900_000, 3.0),  # 1 + log10(1 + 99)
        (Weighting.ARR_LINEAR, 250_000, 2.5),
        (Weighting.ARR_LINEAR, 5_000, 0.1),  # floor
        (Weighting.ARR_LINEAR, 0, 0.1),
    ],
)
def test_revenue_factor(weighting: Weighting, arr: int, expected_factor: float) -> None:
    assert revenue_factor(weighting, arr) == pytest.approx(expected_factor)


@pytest.mark.parametrize(
    ("weighting", "expected"),
    [
        # importance 3 (CRITICAL) x 0.5 (PROSPECT) x revenue factor for arr 1.5e6 minor units
        (Weighting.EQUAL, 1.5),
        (Weighting.ARR_LOG, 1.5 * (1 + math.log10(16))),
        (Weighting.ARR_LINEAR, 1.5 * 15),
    ],
)
def test_weight_formula_for_each_weighting(weighting: Weighting, expected: float) -> None:
    directory = [org("a", arr=1_500_000, relationship=PROSPECT), org("b", arr=100_000)]
    ev = evidence(
        [endorse("a", Importance.CRITICAL), endorse("b", Importance.NICE_TO_HAVE)], directory
    )
    report = evaluate(policy(weighting=weighting, min_weight=0.1), ev, NOW)
    b_weight = revenue_factor(weighting, 100_000)
    assert weight_of(report, "a") == pytest.approx(expected)
    assert criterion(report, "min_weight").actual == pytest.approx(expected + b_weight)
    assert sum(w.share for w in report.weights) == pytest.approx(1.0)


def test_weights_are_sorted_heaviest_first_ineligible_last() -> None:
    directory = [org("a"), org("b"), org("c", poor_fit=True)]
    ev = evidence(
        [endorse("c", Importance.CRITICAL), endorse("b"), endorse("a", Importance.CRITICAL)],
        directory,
    )
    report = evaluate(policy(), ev, NOW)
    assert [w.organization_id for w in report.weights] == ["a", "b", "c"]

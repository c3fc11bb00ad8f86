"""Example-based tests of the gate engine and the default pipeline (SPEC, "Gate policy")."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from quorum_validation.gate import (
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
    Relationship,
    Weighting,
    customer_id_of,
    evaluate,
    revenue_factor,
)
from quorum_validation.pipeline import (
    DEFAULT_STAGES,
    Pipeline,
    default_pipeline,
    next_stage,
    validate_stages,
)

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
ACTIVE = Relationship.ACTIVE
PROSPECT = Relationship.PROSPECT
CHURNED = Relationship.CHURNED


def org(
    oid: str,
    segment: str = "retail",
    arr: int = 100_000,
    relationship: Relationship = ACTIVE,
    *,
    poor_fit: bool = False,
    parent_id: str | None = None,
    name: str | None = None,
) -> Organization:
    return Organization(oid, name or oid.upper(), segment, arr, relationship, poor_fit, parent_id)


def endorse(
    oid: str,
    importance: Importance = Importance.IMPORTANT,
    commitments: Iterable[Commitment] = (),
    at: datetime = NOW,
) -> Endorsement:
    return Endorsement(oid, importance, frozenset(commitments), at)


def evidence(
    endorsements: Iterable[Endorsement],
    organizations: Iterable[Organization],
    *,
    sponsor: str | None = None,
    councils: Iterable[Council] = (),
    votes: Mapping[str, Mapping[str, bool]] | None = None,
) -> Evidence:
    return Evidence.of(
        endorsements,
        organizations,
        sponsor_organization_id=sponsor,
        councils=councils,
        council_votes=votes,
    )


def criterion(report: GateReport, name: str, subject: str | None = None) -> CriterionResult:
    matches = [
        c for c in report.criteria if c.name == name and (subject is None or c.subject == subject)
    ]
    assert len(matches) == 1, report.criteria
    return matches[0]


def names(report: GateReport) -> list[str]:
    return [c.name for c in report.criteria]


def policy(**kwargs: Any) -> GatePolicy:
    kwargs.setdefault("stage", "DISCOVERY")
    kwargs.setdefault("weighting", Weighting.EQUAL)
    return GatePolicy(**kwargs)


def weight_of(report: GateReport, oid: str) -> float:
    return next(w.weight for w in report.weights if w.organization_id == oid)


# ------------------------------------------------------------------ the SPEC's scenarios


def test_newcomer_scenario_one_huge_customer_is_refused_discovery() -> None:
    directory = [
        org("megacorp", "retail", 1_000_000_000, name="MegaCorp"),  # ten times the next
        org("nextco", "finance", 100_000_000, name="NextCo"),
        org("small", "health", 5_000_000, name="SmallCo"),
    ]
    ev = evidence([endorse("megacorp", Importance.CRITICAL)], directory, sponsor="megacorp")

    report = evaluate(default_pipeline().policy_into("DISCOVERY"), ev, NOW)

    assert not report.holds
    assert report.summary == (
        "needs 2 more customers from 1 more segment; MegaCorp holds 100% of the weight, "
        "over the 50% cap"
    )
    assert [(c.name, c.required, c.actual, c.met) for c in report.criteria] == [
        ("min_customers", 3, 1, False),
        ("min_segments", 2, 1, False),
        ("max_share", 0.5, 1.0, False),
    ]
    (mega,) = report.weights
    assert mega.weight == pytest.approx(3 * 1.0 * 10_000)  # CRITICAL x ACTIVE x arr/1e5
    assert mega.share == 1.0
    assert mega.sponsor


def test_newcomer_scenario_holds_almost_all_weight_with_a_small_second_endorser() -> None:
    directory = [
        org("megacorp", "retail", 1_000_000_000, name="MegaCorp"),
        org("nextco", "retail", 100_000_000, name="NextCo"),
    ]
    ev = evidence(
        [endorse("megacorp", Importance.CRITICAL), endorse("nextco", Importance.IMPORTANT)],
        directory,
    )

    report = evaluate(default_pipeline().policy_into("DISCOVERY"), ev, NOW)

    # 30000 / (30000 + 2000) = 93.75% -> 94%
    assert criterion(report, "max_share").actual == pytest.approx(30_000 / 32_000)
    assert report.summary == (
        "needs 1 more customer from 1 more segment; MegaCorp holds 94% of the weight, "
        "over the 50% cap"
    )


def five_small_customers() -> tuple[list[Organization], list[Endorsement]]:
    directory = [
        org("a", "retail", 200_000, ACTIVE),
        org("b", "retail", 250_000, PROSPECT),
        org("c", "finance", 300_000, ACTIVE),
        org("d", "finance", 150_000, CHURNED),
        org("e", "health", 200_000, ACTIVE),
    ]
    endorsements = [endorse(o.organization_id, Importance.IMPORTANT) for o in directory]
    return directory, endorsements


def test_five_small_customers_in_three_industries_pass_discovery_and_design() -> None:
    directory, endorsements = five_small_customers()
    ev = evidence(endorsements, directory, sponsor="a")
    pipeline = default_pipeline()

    discovery = evaluate(pipeline.policy_into("DISCOVERY"), ev, NOW)
    design = evaluate(pipeline.policy_into("DESIGN"), ev, NOW)

    assert discovery.holds
    assert discovery.summary == "gate into DISCOVERY holds"
    assert design.holds
    assert design.summary == "gate into DESIGN holds"
    assert criterion(design, "min_active").actual == 3
    assert criterion(design, "min_segments").actual == 3
    # weights 4, 2.5, 6, 1.5, 4 -> max share 6 / 18
    assert criterion(design, "max_share").actual == pytest.approx(6 / 18)


def test_five_small_customers_do_not_yet_pass_build_and_no_council_means_no_council_criterion() -> (
    None
):
    directory, endorsements = five_small_customers()
    report = evaluate(
        default_pipeline().policy_into("BUILD"), evidence(endorsements, directory), NOW
    )

    assert not report.holds
    assert "council_approval" not in names(report)
    assert report.summary == "needs 1 more customer"


# ------------------------------------------------------------------ unset criteria


def test_policy_without_criteria_holds_and_reports_nothing() -> None:
    report = evaluate(policy(), evidence([], []), NOW)
    assert report.holds
    assert report.criteria == ()
    assert report.summary == "gate into DISCOVERY holds"
    assert report.stage == "DISCOVERY"
    assert report.evaluated_at == NOW


def test_zero_and_none_criteria_are_not_configured() -> None:
    p = policy(
        min_customers=0,
        min_segments=0,
        min_active=0,
        min_weight=0.0,
        max_share=0.0,
        min_commitments=((Commitment.PREORDER, 0),),
        max_age_days=0,
    )
    old = endorse("a", at=NOW - timedelta(days=3650))
    report = evaluate(p, evidence([old], [org("a")]), NOW)
    assert report.criteria == ()
    assert report.weights[0].eligible  # max_age_days=0 switches freshness off


def test_report_carries_policy_version_and_time() -> None:
    report = evaluate(policy(version=7, min_customers=1), evidence([], []), NOW)
    assert report.policy_version == 7
    assert report.evaluated_at == NOW


# ------------------------------------------------------------------ min_customers


def test_min_customers_met_at_exact_threshold() -> None:
    ev = evidence([endorse("a"), endorse("b")], [org("a"), org("b")])
    result = criterion(evaluate(policy(min_customers=2), ev, NOW), "min_customers")
    assert (result.required, result.actual, result.met) == (2, 2, True)


def test_min_customers_unmet_singular_clause() -> None:
    ev = evidence([endorse("a"), endorse("b")], [org("a"), org("b")])
    report = evaluate(policy(min_customers=3), ev, NOW)
    assert not criterion(report, "min_customers").met
    assert report.summary == "needs 1 more customer"


# ------------------------------------------------------------------ min_segments


def test_min_segments_met_and_unmet() -> None:
    directory = [org("a", "retail"), org("b", "retail"), org("c", "finance")]
    ev = evidence([endorse("a"), endorse("b"), endorse("c")], directory)
    assert criterion(evaluate(policy(min_segments=2), ev, NOW), "min_segments").met

    report = evaluate(policy(min_segments=3), ev, NOW)
    result = criterion(report, "min_segments")
    assert (result.actual, result.met) == (2, False)
    assert report.summary == "needs 1 more segment"


def test_segments_clause_plural_with_customers_met() -> None:
    ev = evidence([endorse("a"), endorse("b")], [org("a"), org("b")])
    report = evaluate(policy(min_customers=2, min_segments=3), ev, NOW)
    assert report.summary == "needs 2 more segments"


# ------------------------------------------------------------------ min_active


def test_min_active_counts_only_active_relationships() -> None:
    directory = [org("a", relationship=ACTIVE), org("b", relationship=PROSPECT)]
    directory.append(org("c", relationship=CHURNED))
    ev = evidence([endorse("a"), endorse("b"), endorse("c")], directory)

    assert criterion(evaluate(policy(min_active=1), ev, NOW), "min_active").met
    report = evaluate(policy(min_active=2), ev, NOW)
    assert criterion(report, "min_active").actual == 1
    assert report.summary == "needs 1 more active customer"
    assert evaluate(policy(min_active=3), ev, NOW).summary == "needs 2 more active customers"


# ------------------------------------------------------------------ min_weight


def test_min_weight_met_at_boundary_and_unmet_with_gap() -> None:
    ev = evidence([endorse("a", Importance.CRITICAL), endorse("b")], [org("a"), org("b")])
    # EQUAL weighting, ACTIVE: 3 + 2 = 5
    met = criterion(evaluate(policy(min_weight=5.0), ev, NOW), "min_weight")
    assert (met.actual, met.met) == (5.0, True)

    report = evaluate(policy(min_weight=8.5), ev, NOW)
    assert not criterion(report, "min_weight").met
    assert report.summary == "needs 3.5 more weight"


def test_min_weight_tolerates_float_rounding() -> None:
    # 0.1 + 0.2 != 0.3 in floats; a human-typed threshold must still be met.
    directory = [org("a", arr=10_000), org("b", arr=20_000)]
    ev = evidence(
        [endorse("a", Importance.NICE_TO_HAVE), endorse("b", Importance.NICE_TO_HAVE)], directory
    )
    p = policy(min_weight=0.3, weighting=Weighting.ARR_LINEAR)
    assert criterion(evaluate(p, ev, NOW), "min_weight").met


# ------------------------------------------------------------------ max_share


def test_max_share_met_at_exact_cap() -> None:
    ev = evidence([endorse("a"), endorse("b")], [org("a"), org("b")])
    result = criterion(evaluate(policy(max_share=0.5), ev, NOW), "max_share")
    assert (result.actual, result.met) == (0.5, True)


def test_max_share_unmet_names_dominant_customer() -> None:
    directory = [org("a", name="Acme"), org("b", name="Beta")]
    ev = evidence(
        [endorse("a", Importance.CRITICAL), endorse("b", Importance.NICE_TO_HAVE)], directory
    )
    report = evaluate(policy(max_share=0.6), ev, NOW)
    result = criterion(report, "max_share")
    assert result.actual == pytest.approx(0.75)
    assert result.subject == "a"
    assert not result.met
    assert report.summary == "Acme holds 75% of the weight, over the 60% cap"


def test_max_share_is_unmet_without_any_weight() -> None:
    ev = evidence([endorse("a")], [org("a", poor_fit=True)])
    report = evaluate(policy(max_share=0.5), ev, NOW)
    result = criterion(report, "max_share")
    assert not result.met
    assert result.actual == 0.0
    assert not report.holds
    assert report.summary == "no endorsement carries weight, so the 50% cap cannot be checked"


def test_max_share_unmet_when_all_weights_are_zero() -> None:
    p = policy(max_share=0.9, relationship_factors={PROSPECT: 0.0})
    ev = evidence(
        [endorse("a"), endorse("b")],
        [org("a", relationship=PROSPECT), org("b", relationship=PROSPECT)],
    )
    assert not criterion(evaluate(p, ev, NOW), "max_share").met


def test_max_share_tie_picks_smallest_customer_id() -> None:
    ev = evidence([endorse("b"), endorse("a")], [org("a"), org("b")])
    assert criterion(evaluate(policy(max_share=0.4), ev, NOW), "max_share").subject == "a"


# ------------------------------------------------------------------ min_commitments


def test_min_commitments_per_commitment() -> None:
    beta, codev = Commitment.BETA_TESTER, Commitment.CO_DEVELOP
    ev = evidence(
        [endorse("a", commitments=[beta, codev]), endorse("b", commitments=[beta]), endorse("c")],
        [org("a"), org("b"), org("c")],
    )
    p = policy(min_commitments=((beta, 2), (codev, 2), (Commitment.PREORDER, 3)))
    report = evaluate(p, ev, NOW)

    assert [(c.subject, c.actual, c.met) for c in report.criteria] == [
        ("BETA_TESTER", 2, True),
        ("CO_DEVELOP", 1, False),
        ("PREORDER", 0, False),
    ]
    assert report.summary == (
        "needs 1 more CO_DEVELOP commitment; needs 3 more PREORDER commitments"
    )


def test_commitments_of_ineligible_organizations_do_not_count() -> None:
    beta = Commitment.BETA_TESTER
    ev = evidence([endorse("a", commitments=[beta])], [org("a", poor_fit=True)])
    report = evaluate(policy(min_commitments=((beta, 1),)), ev, NOW)
    assert criterion(report, "min_commitments", "BETA_TESTER").actual == 0
    assert report.summary == "needs 1 more BETA_TESTER commitment"


# ------------------------------------------------------------------ council approval


def council_evidence(
    votes: Mapping[str, bool], *, councils: Iterable[Council] | None = None
) -> Evidence:
    cab = Council("cab", "Advisory Board", frozenset({"a", "b", "c"}))
    return evidence(
        [endorse("a")],
        [org("a"), org("b"), org("c"), org("d")],
        councils=[cab] if councils is None else councils,
        votes={"cab": votes},
    )


def test_council_approval_met_with_quorum_and_majority() -> None:
    p = policy(council_approval=CouncilRequirement("cab", 0.5))
    result = criterion(
        evaluate(p, council_evidence({"a": True, "b": True}), NOW), "council_approval"
    )
    assert (result.subject, result.required, result.actual, result.met) == ("cab", 2, 2, True)


def test_council_approval_unmet_below_quorum() -> None:
    p = policy(council_approval=CouncilRequirement("cab", 0.5))
    report = evaluate(p, council_evidence({"a": True}), NOW)
    assert not criterion(report, "council_approval").met
    assert report.summary == "needs approval of council Advisory Board (1 of 3 approved, quorum 2)"


def test_council_approval_needs_more_approvals_than_rejections() -> None:
    cab = Council("cab", "Advisory Board", frozenset({"a", "b", "c", "d"}))
    p = policy(council_approval=CouncilRequirement("cab", 0.5))
    ev = council_evidence({"a": True, "b": True, "c": False, "d": False}, councils=[cab])
    report = evaluate(p, ev, NOW)
    result = criterion(report, "council_approval")
    assert result.actual == 2
    assert result.required == 2
    assert not result.met
    assert report.summary == (
        "needs approval of council Advisory Board (2 of 4 approved, 2 rejected, quorum 2)"
    )


def test_council_votes_from_non_members_are_ignored() -> None:
    p = policy(council_approval=CouncilRequirement("cab", 0.5))
    report = evaluate(p, council_evidence({"a": True, "d": True, "x": True}), NOW)
    assert criterion(report, "council_approval").actual == 1


def test_council_quorum_uses_ceiling_without_float_noise() -> None:
    members = frozenset(f"m{i}" for i in range(10))
    big = Council("big", "Big", members)
    votes = {f"m{i}": True for i in range(3)}
    ev = evidence([], [], councils=[big], votes={"big": votes})
    result = criterion(
        evaluate(policy(council_approval=CouncilRequirement("big", 0.3)), ev, NOW),
        "council_approval",
    )
    assert result.required == 3
    assert result.met


def test_every_council_of_the_tenant_when_council_id_is_empty() -> None:
    councils = [
        Council("zeta", "Zeta", frozenset({"a"})),
        Council("alpha", "Alpha", frozenset({"a", "b"})),
    ]
    ev = evidence([], [], councils=councils, votes={"zeta": {"a": True}})
    report = evaluate(policy(council_approval=CouncilRequirement()), ev, NOW)
    assert [(c.subject, c.met) for c in report.criteria] == [("alpha", False), ("zeta", True)]
    assert report.summary == "needs approval of council Alpha (0 of 2 approved, quorum 1)"


def test_no_councils_means_council_criterion_is_not_applicable() -> None:
    report = evaluate(policy(council_approval=CouncilRequirement("")), evidence([], []), NOW)
    assert report.criteria == ()
    assert report.holds


def test_unknown_council_is_unmet() -> None:
    report = evaluate(
        policy(council_approval=CouncilRequirement("gone")), council_evidence({}), NOW
    )
    result = criterion(report, "council_approval")
    assert not result.met
    assert result.subject == "gone"
    assert "does not exist" in result.detail
    assert not report.holds


def test_empty_council_cannot_approve() -> None:
    ev = evidence([], [], councils=[Council("void", "Void", frozenset())])
    report = evaluate(policy(council_approval=CouncilRequirement("void")), ev, NOW)
    assert not report.holds


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


# ------------------------------------------------------------------ summary


def test_summary_joins_every_unmet_clause_in_fixed_order() -> None:
    cab = Council("cab", "CAB", frozenset({"a", "b", "c"}))
    p = policy(
        min_customers=3,
        min_segments=2,
        min_active=2,
        min_weight=10.0,
        max_share=0.5,
        min_commitments=((Commitment.BETA_TESTER, 2),),
        council_approval=CouncilRequirement("cab"),
    )
    ev = evidence(
        [endorse("a", Importance.CRITICAL)],
        [org("a", name="Acme")],
        councils=[cab],
        votes={"cab": {"a": True}},
    )
    report = evaluate(p, ev, NOW)
    assert report.summary == "; ".join(
        [
            "needs 2 more customers from 1 more segment",
            "needs 1 more active customer",
            "needs 7 more weight",
            "Acme holds 100% of the weight, over the 50% cap",
            "needs 2 more BETA_TESTER commitments",
            "needs approval of council CAB (1 of 3 approved, quorum 2)",
        ]
    )
    assert len(report.unmet) == len(report.criteria) == 7


# ------------------------------------------------------------------ input validation


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"stage": ""}, "stage must not be empty"),
        ({"version": 0}, "version"),
        ({"min_customers": -1}, "min_customers"),
        ({"min_weight": -1.0}, "min_weight"),
        ({"max_share": 1.5}, "max_share"),
        ({"max_age_days": -1}, "max_age_days"),
        (
            {"min_commitments": ((Commitment.PREORDER, 1), (Commitment.PREORDER, 2))},
            "more than once",
        ),
        ({"min_commitments": ((Commitment.PREORDER, -1),)}, "counts must not be negative"),
        ({"relationship_factors": {PROSPECT: -0.5}}, "relationship factors"),
    ],
)
def test_invalid_policies_are_rejected(kwargs: dict[str, object], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        policy(**kwargs)


def test_invalid_inputs_are_rejected() -> None:
    with pytest.raises(ValueError, match="quorum"):
        CouncilRequirement("cab", 1.5)
    with pytest.raises(ValueError, match="arr"):
        Organization("a", "A", "retail", -1)
    with pytest.raises(ValueError, match="directory key"):
        Evidence((), organizations={"x": org("a")})
    with pytest.raises(ValueError, match="council ids"):
        Evidence((), councils=(Council("c", "C", frozenset()), Council("c", "D", frozenset())))


def test_policies_compare_by_value() -> None:
    assert policy(relationship_factors={ACTIVE: 1.0}) == policy()
    assert hash(policy()) == hash(policy())


# ------------------------------------------------------------------ pipeline


def test_default_pipeline_matches_the_spec_table() -> None:
    pipeline = default_pipeline()
    assert pipeline.stages == DEFAULT_STAGES
    assert pipeline.first_stage == "IDEATION"
    table = {
        stage: (p.min_customers, p.min_segments, p.max_share)
        for stage, p in pipeline.policies.items()
    }
    assert table == {
        "DISCOVERY": (3, 2, 0.5),
        "DESIGN": (5, 2, 0.4),
        "BUILD": (6, 3, 0.35),
        "BETA": (6, 3, 0.35),
        "LAUNCH": (8, 3, 0.3),
    }
    assert pipeline.policy_into("DESIGN").min_active == 3
    assert pipeline.policy_into("BUILD").council_approval == CouncilRequirement("", 0.5)
    assert pipeline.policy_into("BETA").min_commitments == ((Commitment.BETA_TESTER, 3),)
    for p in pipeline.policies.values():
        assert p.version == 1
        assert p.weighting is Weighting.ARR_LINEAR
        assert p.affiliates_count_once
        assert not p.sponsor_excluded
        assert p.max_age_days is None


def test_default_pipeline_without_council() -> None:
    assert default_pipeline(has_council=False).policy_into("BUILD").council_approval is None


def test_next_stage() -> None:
    assert next_stage("IDEATION") == "DISCOVERY"
    assert next_stage("BETA") == "LAUNCH"
    assert next_stage("LAUNCH") is None
    with pytest.raises(ValueError, match="unknown stage"):
        next_stage("SHIPPED")
    pipeline = Pipeline(("TRIAGE", "SHIP"), {"SHIP": GatePolicy("SHIP", min_customers=2)})
    assert pipeline.next_stage("TRIAGE") == "SHIP"
    assert pipeline.next_stage("SHIP") is None


def test_policy_into_rejects_first_and_unknown_stage() -> None:
    pipeline = default_pipeline()
    with pytest.raises(ValueError, match="no gate"):
        pipeline.policy_into("IDEATION")
    with pytest.raises(ValueError, match="unknown stage"):
        pipeline.policy_into("NOPE")


@pytest.mark.parametrize(
    ("stages", "policies", "problem"),
    [
        (("ONLY",), {}, "at least 2"),
        (("IDEATION", "Design"), {}, "UPPER_SNAKE"),
        (("IDEATION", "BUILD__X"), {}, "UPPER_SNAKE"),
        (("IDEATION", "DESIGN", "DESIGN"), {}, "more than once"),
        (("IDEATION", "DESIGN"), {}, "DESIGN has no gate policy"),
        (
            ("IDEATION", "DESIGN"),
            {"DESIGN": GatePolicy("DESIGN"), "IDEATION": GatePolicy("IDEATION")},
            "first stage",
        ),
        (("IDEATION", "DESIGN"), {"DESIGN": GatePolicy("BUILD")}, "leads into BUILD"),
        (
            ("IDEATION", "DESIGN"),
            {"DESIGN": GatePolicy("DESIGN"), "BUILD": GatePolicy("BUILD")},
            "unknown stage BUILD",
        ),
    ],
)
def test_pipeline_validation(
    stages: tuple[str, ...], policies: dict[str, GatePolicy], problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        Pipeline(stages, policies)


def test_validate_stages_accepts_upper_snake_names() -> None:
    validate_stages(["IDEA_INTAKE", "PHASE_2", "GA"])

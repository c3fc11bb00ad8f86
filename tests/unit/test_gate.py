"""Example-based tests of the gate's criteria (SPEC, "Gate policy"): the SPEC's scenarios,
unset criteria, each criterion's threshold and sentence, council approval."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta

import pytest

from quorum_validation.gate import (
    Commitment,
    Council,
    CouncilRequirement,
    Endorsement,
    Evidence,
    Importance,
    Organization,
    Weighting,
    evaluate,
)
from quorum_validation.pipeline import (
    default_pipeline,
)
from support.gates import (
    ACTIVE,
    CHURNED,
    NOW,
    PROSPECT,
    criterion,
    endorse,
    evidence,
    names,
    org,
    policy,
)

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

"""The gate's summary sentence, what a policy may hold, and the default pipeline (SPEC,
"Gate policy")."""

from __future__ import annotations

import pytest

from quorum_validation.gate import (
    Commitment,
    Council,
    CouncilRequirement,
    Evidence,
    GatePolicy,
    Importance,
    Organization,
    Weighting,
    evaluate,
)
from quorum_validation.pipeline import (
    DEFAULT_STAGES,
    Pipeline,
    default_pipeline,
    next_stage,
    validate_stages,
)
from support.gates import (
    ACTIVE,
    NOW,
    PROSPECT,
    endorse,
    evidence,
    org,
    policy,
)

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

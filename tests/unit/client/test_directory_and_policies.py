"""`quorum orgs|councils|policies …`: only the given fields change."""

from __future__ import annotations

import pytest
from google.rpc import code_pb2

from quorum.domain.v1 import domain_pb2
from quorum.gateway.v1 import gateway_pb2
from support.fake_gateway import (
    FakeGateway,
    abort,
    quorum,
    refused_before_calling,
)

# --- directory and policies --------------------------------------------------------


def test_orgs_upsert_changes_only_the_given_fields(gateway: FakeGateway) -> None:
    existing = domain_pb2.Organization(
        organization_id="megacorp",
        name="MegaCorp",
        segment="banking",
        arr=1,
        relationship=domain_pb2.RELATIONSHIP_PROSPECT,
        peer_visible=True,
    )
    gateway.answers["GetOrganization"] = lambda request, context: (
        gateway_pb2.GetOrganizationResponse(organization=existing)
    )
    gateway.answers["UpsertOrganization"] = lambda request, context: (
        gateway_pb2.UpsertOrganizationResponse(organization=request.organization)
    )

    result = quorum(gateway, "orgs", "upsert", "megacorp", "--arr", "480000000", "--poor-fit")

    assert result.exit_code == 0, result.output
    sent = gateway.request("UpsertOrganization").organization
    assert (sent.name, sent.segment, sent.arr) == ("MegaCorp", "banking", 480_000_000)
    assert sent.relationship == domain_pb2.RELATIONSHIP_PROSPECT
    assert sent.poor_fit
    assert sent.peer_visible
    assert "480,000,000" in result.stdout


def test_orgs_upsert_creates_a_new_active_organization(gateway: FakeGateway) -> None:
    gateway.answers["GetOrganization"] = abort(code_pb2.NOT_FOUND, "no organization bakery")

    result = quorum(
        gateway, "orgs", "upsert", "bakery", "--name", "Bakery Co", "--segment", "retail"
    )

    assert result.exit_code == 0, result.output
    sent = gateway.request("UpsertOrganization").organization
    assert (sent.organization_id, sent.name, sent.segment) == ("bakery", "Bakery Co", "retail")
    assert sent.relationship == domain_pb2.RELATIONSHIP_ACTIVE


def test_councils_upsert_replaces_members(gateway: FakeGateway) -> None:
    gateway.answers["ListCouncils"] = lambda request, context: gateway_pb2.ListCouncilsResponse(
        councils=[
            domain_pb2.Council(
                council_id="cab", name="Advisory", charter="c", member_organization_ids=["a"]
            )
        ]
    )
    gateway.answers["UpsertCouncil"] = lambda request, context: gateway_pb2.UpsertCouncilResponse(
        council=request.council
    )

    result = quorum(gateway, "councils", "upsert", "cab", "--member", "b", "--member", "c")

    assert result.exit_code == 0, result.output
    sent = gateway.request("UpsertCouncil").council
    assert (sent.name, list(sent.member_organization_ids)) == ("Advisory", ["b", "c"])


def default_pipeline() -> domain_pb2.Pipeline:
    return domain_pb2.Pipeline(
        stages=["IDEATION", "DISCOVERY", "DESIGN"],
        policies=[
            domain_pb2.GatePolicy(
                stage="DISCOVERY",
                version=1,
                min_customers=3,
                min_segments=2,
                max_share=0.5,
                weighting=domain_pb2.WEIGHTING_ARR_LINEAR,
                affiliates_count_once=True,
            ),
            domain_pb2.GatePolicy(
                stage="DESIGN",
                version=2,
                min_customers=5,
                min_segments=2,
                min_active=3,
                max_share=0.4,
                council_approval=domain_pb2.CouncilRequirement(quorum=0.5),
            ),
        ],
    )


def test_policies_show(gateway: FakeGateway) -> None:
    gateway.answers["GetPipeline"] = lambda request, context: gateway_pb2.GetPipelineResponse(
        pipeline=default_pipeline()
    )

    result = quorum(gateway, "policies", "show")

    assert result.exit_code == 0, result.output
    assert "IDEATION → DISCOVERY → DESIGN" in result.stdout
    assert "arr-linear" in result.stdout
    assert "approval of every council (50%)" in result.stdout


def test_policies_set_changes_only_the_given_fields(gateway: FakeGateway) -> None:
    gateway.answers["GetPipeline"] = lambda request, context: gateway_pb2.GetPipelineResponse(
        pipeline=default_pipeline()
    )
    gateway.answers["UpdateGatePolicy"] = lambda request, context: (
        gateway_pb2.UpdateGatePolicyResponse(
            policy=domain_pb2.GatePolicy(stage=request.policy.stage, version=3)
        )
    )

    result = quorum(
        gateway,
        "policies",
        "set",
        "design",
        "--min-customers",
        "4",
        "--commitment",
        "beta-tester=3",
        "--no-council-approval",
        "--factor-prospect",
        "0.25",
    )

    assert result.exit_code == 0, result.output
    sent = gateway.request("UpdateGatePolicy").policy
    assert sent.stage == "DESIGN"
    assert sent.version == 0
    assert (sent.min_customers, sent.min_segments, sent.min_active) == (4, 2, 3)
    assert sent.max_share == pytest.approx(0.4)
    assert [(r.commitment, r.count) for r in sent.min_commitments] == [
        (domain_pb2.COMMITMENT_BETA_TESTER, 3)
    ]
    assert not sent.HasField("council_approval")
    factors = sent.relationship_factors
    assert (factors.active, factors.prospect, factors.churned) == (1.0, 0.25, 0.5)
    assert "Gate into DESIGN is now at version 3." in result.stdout


def test_policies_what_if_stores_nothing(gateway: FakeGateway) -> None:
    gateway.answers["GetPipeline"] = lambda request, context: gateway_pb2.GetPipelineResponse(
        pipeline=default_pipeline()
    )
    gateway.answers["WhatIf"] = lambda request, context: gateway_pb2.WhatIfResponse(
        stage=request.draft.stage,
        would_open=[
            domain_pb2.IdeaVerdict(
                idea_id="i1", holds_now=False, holds_with_draft=True, summary="gate holds"
            )
        ],
        unchanged=4,
        past_advances_refused=[domain_pb2.RefusedAdvance(idea_id="i9", summary="needs 1 more")],
        past_advances_checked=7,
    )

    result = quorum(gateway, "policies", "set", "DISCOVERY", "--max-share", "0.6", "--what-if")

    assert result.exit_code == 0, result.output
    assert gateway.request("WhatIf").draft.max_share == pytest.approx(0.6)
    assert gateway.requests("UpdateGatePolicy") == []
    assert "1 would open, 0 would close, 4 unchanged; 1 of 7 past advances" in result.stdout
    assert "needs 1 more" in result.stdout


def test_policies_set_refuses_a_malformed_commitment(gateway: FakeGateway) -> None:
    result = quorum(gateway, "policies", "set", "BETA", "--commitment", "testers")

    refused_before_calling(gateway, result)
    assert "COMMITMENT=COUNT" in result.output

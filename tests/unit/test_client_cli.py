"""The `quorum` CLI against an in-process stand-in gateway: arguments, requests, output.

The stand-in answers every RPC of the contract with an empty response unless a test
gives it an answer, and records what it was asked, so each test checks both what the
CLI sent and what it printed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import grpc
import pytest
import typer
from google.rpc import code_pb2, error_details_pb2
from typer.testing import CliRunner

from quorum.domain.v1 import domain_pb2
from quorum.events.v1 import events_pb2
from quorum.gateway.v1 import gateway_pb2
from quorum.notifications.v1 import notifications_pb2
from quorum_client import Client
from quorum_client.cli import app
from support.fake_gateway import (
    IDEA_ID,
    FakeGateway,
    abort,
    an_idea,
    megacorp_report,
    quorum,
)

# --- help everywhere ---------------------------------------------------------------


def _command_paths() -> list[list[str]]:
    root = typer.main.get_command(app)
    paths: list[list[str]] = [[]]
    for group_name, group in getattr(root, "commands", {}).items():
        paths.append([group_name])
        paths.extend([group_name, name] for name in getattr(group, "commands", {}))
    return paths


COMMANDS = _command_paths()


def test_the_command_tree_is_complete() -> None:
    assert {" ".join(p) for p in COMMANDS if len(p) == 2} == {
        "ideas submit",
        "ideas get",
        "ideas list",
        "ideas endorse",
        "ideas endorsements",
        "ideas withdraw",
        "ideas similar",
        "ideas merge",
        "gates report",
        "gates advance",
        "gates decline",
        "gates vote",
        "gates override",
        "gates cosign",
        "orgs upsert",
        "orgs get",
        "orgs list",
        "councils upsert",
        "councils list",
        "policies show",
        "policies set",
        "keys create",
        "keys list",
        "keys revoke",
        "keys whoami",
        "events watch",
        "scorecards org",
        "scorecards tenant",
        "peers list",
        "peers introduce",
        "peers answer",
        "peers introductions",
        "notifications subscribe",
        "notifications list",
        "notifications unsubscribe",
        "notifications deliveries",
    }


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "quorum")
def test_every_command_has_help(path: list[str]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200"})

    assert result.exit_code == 0, result.output
    assert "Usage: quorum" in result.output


# --- configuration -----------------------------------------------------------------


def test_address_and_key_come_from_the_environment(gateway: FakeGateway) -> None:
    gateway.answers["WhoAmI"] = lambda request, context: gateway_pb2.WhoAmIResponse(
        tenant_id="acme-software",
        key=gateway_pb2.ApiKey(
            key_id="k1",
            principal_id="pat",
            display_name="Pat",
            role=gateway_pb2.ROLE_PRODUCT_MANAGER,
        ),
    )

    result = CliRunner().invoke(
        app,
        ["keys", "whoami"],
        env={"QUORUM_ADDRESS": gateway.address, "QUORUM_API_KEY": "qk_env", "COLUMNS": "200"},
    )

    assert result.exit_code == 0, result.output
    assert gateway.calls[0][2]["authorization"] == "Bearer qk_env"
    assert "acme-software" in result.stdout
    assert "product-manager" in result.stdout


def test_an_unknown_choice_is_refused_before_any_call(gateway: FakeGateway) -> None:
    result = quorum(
        gateway,
        "ideas",
        "submit",
        "Title",
        "--problem",
        "P",
        "--area",
        "a",
        "--importance",
        "urgent",
    )

    assert result.exit_code == 2
    assert "urgent" in result.output
    assert gateway.calls == []


# --- ideas -------------------------------------------------------------------------


def test_submit_sends_the_whole_idea_and_shows_duplicates(gateway: FakeGateway) -> None:
    gateway.answers["SubmitIdea"] = lambda request, context: gateway_pb2.SubmitIdeaResponse(
        idea=an_idea(),
        similar_ideas=[
            gateway_pb2.SimilarIdea(idea_id="other-id", title="CSV export of reports", score=0.82)
        ],
    )

    result = quorum(
        gateway,
        "ideas",
        "submit",
        "Export gate reports to CSV",
        "--problem",
        "Our board reviews gate decisions in spreadsheets.",
        "--area",
        "reporting",
        "--tag",
        "export",
        "--tag",
        "csv",
        "--channel",
        "help-desk",
        "--org",
        "acme",
        "--member",
        "ana",
        "--job-function",
        "executive",
        "--importance",
        "CRITICAL",
        "--commit",
        "beta-tester",
        "--request-id",
        "crm-4711",
    )

    assert result.exit_code == 0, result.output
    request = gateway.request("SubmitIdea")
    assert request.title == "Export gate reports to CSV"
    assert request.product_area == "reporting"
    assert list(request.tags) == ["export", "csv"]
    assert request.source_channel == domain_pb2.SOURCE_CHANNEL_HELP_DESK
    assert request.submitted_by == domain_pb2.MemberRef(
        organization_id="acme", member_id="ana", job_function=domain_pb2.JOB_FUNCTION_EXECUTIVE
    )
    assert request.importance == domain_pb2.IMPORTANCE_CRITICAL
    assert list(request.commitments) == [domain_pb2.COMMITMENT_BETA_TESTER]
    assert request.request_id == "crm-4711"
    assert gateway.calls[0][2]["authorization"] == "Bearer qk_test"
    assert f"Submitted idea {IDEA_ID}." in result.stdout
    assert "Possible duplicates" in result.stdout
    assert "CSV export of reports" in result.stdout


def test_a_customer_key_needs_no_member(gateway: FakeGateway) -> None:
    result = quorum(gateway, "ideas", "submit", "T", "--problem", "P", "--area", "a")

    assert result.exit_code == 0, result.output
    request = gateway.request("SubmitIdea")
    assert not request.HasField("submitted_by")
    assert request.importance == domain_pb2.IMPORTANCE_IMPORTANT
    assert request.source_channel == domain_pb2.SOURCE_CHANNEL_API


def test_user_text_is_printed_as_written_not_as_markup(gateway: FakeGateway) -> None:
    gateway.answers["GetIdea"] = lambda request, context: gateway_pb2.GetIdeaResponse(
        idea=an_idea(title="[bold]Urgent[/bold] export")
    )

    result = quorum(gateway, "ideas", "get", IDEA_ID)

    assert result.exit_code == 0, result.output
    assert "[bold]Urgent[/bold] export" in result.stdout


def test_get_shows_stage_next_gate_and_endorsements(gateway: FakeGateway) -> None:
    gateway.answers["GetIdea"] = lambda request, context: gateway_pb2.GetIdeaResponse(
        idea=an_idea(next_gate_holds=True, organization_count=3)
    )
    gateway.answers["ListEndorsements"] = lambda request, context: (
        gateway_pb2.ListEndorsementsResponse(
            endorsements=[
                domain_pb2.OrganizationEndorsement(
                    organization_id="acme",
                    importance=domain_pb2.IMPORTANCE_CRITICAL,
                    member_count=1,
                )
            ],
            organization_count=3,
            next_page_token="more",
        )
    )

    result = quorum(gateway, "ideas", "get", IDEA_ID)

    assert result.exit_code == 0, result.output
    assert gateway.request("GetIdea").idea_id == IDEA_ID
    assert gateway.request("ListEndorsements").idea_id == IDEA_ID
    assert "IDEATION (open)" in result.stdout
    assert "DISCOVERY: holds" in result.stdout
    assert "acme" in result.stdout
    assert "critical" in result.stdout
    # One page is shown; the others behind the idea are counted.
    assert "and 2 more not shown" in result.stdout


def test_endorsements_follow_every_page_with_all(gateway: FakeGateway) -> None:
    def page(request: Any, context: grpc.ServicerContext) -> Any:
        first = not request.page_token
        return gateway_pb2.ListEndorsementsResponse(
            endorsements=[
                domain_pb2.OrganizationEndorsement(
                    organization_id="acme" if first else "globex", member_count=1
                )
            ],
            organization_count=2,
            next_page_token="p2" if first else "",
        )

    gateway.answers["ListEndorsements"] = page

    result = quorum(gateway, "ideas", "endorsements", IDEA_ID, "--all", "--page-size", "1")

    assert result.exit_code == 0, result.output
    assert [r.page_token for r in gateway.requests("ListEndorsements")] == ["", "p2"]
    assert "acme" in result.stdout
    assert "globex" in result.stdout
    assert "More:" not in result.stdout


def test_list_shows_a_table_and_the_next_page(gateway: FakeGateway) -> None:
    gateway.answers["ListIdeas"] = lambda request, context: gateway_pb2.ListIdeasResponse(
        ideas=[an_idea(), an_idea(id="second", title="Bulk edit", stage="DESIGN")],
        next_page_token="page-2",
    )

    result = quorum(gateway, "ideas", "list", "--stage", "ideation", "--status", "open")

    assert result.exit_code == 0, result.output
    request = gateway.request("ListIdeas")
    assert (request.stage, request.status, request.page_size) == (
        "IDEATION",
        domain_pb2.IDEA_STATUS_OPEN,
        20,
    )
    assert "Bulk edit" in result.stdout
    assert "--page-token page-2" in result.stdout


def test_list_all_follows_every_page(gateway: FakeGateway) -> None:
    def pages(request: gateway_pb2.ListIdeasRequest, context: Any) -> Any:
        if not request.page_token:
            return gateway_pb2.ListIdeasResponse(ideas=[an_idea()], next_page_token="p2")
        return gateway_pb2.ListIdeasResponse(ideas=[an_idea(id="last", title="Last one")])

    gateway.answers["ListIdeas"] = pages

    result = quorum(gateway, "ideas", "list", "--all")

    assert result.exit_code == 0, result.output
    assert [r.page_token for r in gateway.requests("ListIdeas")] == ["", "p2"]
    assert "Last one" in result.stdout
    assert "--page-token" not in result.stdout


def test_endorse_reports_whether_anything_changed(gateway: FakeGateway) -> None:
    gateway.answers["EndorseIdea"] = lambda request, context: gateway_pb2.EndorseIdeaResponse(
        idea=an_idea(organization_count=2), changed=False
    )

    result = quorum(
        gateway,
        "ideas",
        "endorse",
        IDEA_ID,
        "--org",
        "bakery",
        "--member",
        "bo",
        "-i",
        "nice-to-have",
        "--commit",
        "preorder",
        "--expected-version",
        "3",
    )

    assert result.exit_code == 0, result.output
    request = gateway.request("EndorseIdea")
    assert request.member.organization_id == "bakery"
    assert request.importance == domain_pb2.IMPORTANCE_NICE_TO_HAVE
    assert list(request.commitments) == [domain_pb2.COMMITMENT_PREORDER]
    assert request.expected_version == 3
    assert "nothing changed" in result.stdout


def test_merge_names_both_ideas(gateway: FakeGateway) -> None:
    gateway.answers["MergeIdeas"] = lambda request, context: gateway_pb2.MergeIdeasResponse(
        target=an_idea(id="target-id"), source=an_idea(id="source-id")
    )

    result = quorum(gateway, "ideas", "merge", "source-id", "target-id")

    assert result.exit_code == 0, result.output
    request = gateway.request("MergeIdeas")
    assert (request.source_idea_id, request.target_idea_id) == ("source-id", "target-id")
    assert "Merged source-id into target-id." in result.stdout


# --- gates -------------------------------------------------------------------------


def test_a_refused_advance_prints_the_sentence_and_the_unmet_criteria(
    gateway: FakeGateway,
) -> None:
    report = megacorp_report()
    gateway.answers["AdvanceStage"] = abort(
        code_pb2.FAILED_PRECONDITION,
        f"the gate into DISCOVERY does not hold: {report.summary}",
        error_details_pb2.PreconditionFailure(
            violations=[
                error_details_pb2.PreconditionFailure.Violation(
                    type="GATE_CRITERION", subject="min_customers", description="requires 3, has 1"
                )
            ]
        ),
        report,
    )

    result = quorum(gateway, "gates", "advance", IDEA_ID, "discovery")

    assert result.exit_code == 1
    assert gateway.request("AdvanceStage").target_stage == "DISCOVERY"
    assert result.stdout == ""
    assert "Error (FAILED_PRECONDITION): the gate into DISCOVERY does not hold: needs 2 more" in (
        result.stderr
    )
    assert "Unmet criteria" in result.stderr
    assert "max_share (megacorp)" in result.stderr
    assert "≤ 50%" in result.stderr
    assert "MegaCorp (submitter)" in result.stderr


def test_a_refusal_without_a_report_lists_the_conditions(gateway: FakeGateway) -> None:
    gateway.answers["AdvanceStage"] = abort(
        code_pb2.FAILED_PRECONDITION,
        "idea x is at IDEATION; it can only advance to DISCOVERY",
        error_details_pb2.PreconditionFailure(
            violations=[
                error_details_pb2.PreconditionFailure.Violation(
                    type="STAGE", subject="target_stage", description="skipping is not allowed"
                )
            ]
        ),
    )

    result = quorum(gateway, "gates", "advance", IDEA_ID, "DESIGN")

    assert result.exit_code == 1
    assert "Unmet conditions" in result.stderr
    assert "skipping is not allowed" in result.stderr


def test_an_advance_that_passes(gateway: FakeGateway) -> None:
    gateway.answers["AdvanceStage"] = lambda request, context: gateway_pb2.AdvanceStageResponse(
        idea_id=IDEA_ID,
        from_stage="IDEATION",
        stage="DISCOVERY",
        status=domain_pb2.IDEA_STATUS_OPEN,
        stage_version=4,
        report=domain_pb2.GateReport(stage="DISCOVERY", holds=True, summary="gate holds"),
    )

    result = quorum(gateway, "gates", "advance", IDEA_ID, "DISCOVERY", "--expected-version", "3")

    assert result.exit_code == 0, result.output
    assert gateway.request("AdvanceStage").expected_version == 3
    assert "IDEATION → DISCOVERY" in result.stdout


def test_report_shows_criteria_and_weights(gateway: FakeGateway) -> None:
    gateway.answers["GetGateReport"] = lambda request, context: gateway_pb2.GetGateReportResponse(
        idea_id=IDEA_ID, stage="IDEATION", next_stage="DISCOVERY", report=megacorp_report()
    )

    result = quorum(gateway, "gates", "report", IDEA_ID)

    assert result.exit_code == 0, result.output
    assert "Gate into DISCOVERY (policy v1) does not hold: needs 2 more customers" in result.stdout
    assert "min_segments" in result.stdout
    assert "480,000,000" in result.stdout
    assert "100%" in result.stdout


def test_report_at_the_end_of_the_pipeline(gateway: FakeGateway) -> None:
    gateway.answers["GetGateReport"] = lambda request, context: gateway_pb2.GetGateReportResponse(
        idea_id=IDEA_ID, stage="LAUNCH"
    )

    result = quorum(gateway, "gates", "report", IDEA_ID)

    assert result.exit_code == 0, result.output
    assert "end of the pipeline" in result.stdout


def test_decline_needs_a_reason(gateway: FakeGateway) -> None:
    result = quorum(gateway, "gates", "decline", IDEA_ID)

    assert result.exit_code == 2
    assert gateway.calls == []

    result = quorum(gateway, "gates", "decline", IDEA_ID, "--reason", "Not our market.")

    assert result.exit_code == 0, result.output
    assert gateway.request("DeclineIdea").reason == "Not our market."


def test_vote_sends_approve_or_reject(gateway: FakeGateway) -> None:
    gateway.answers["CastCouncilVote"] = lambda request, context: (
        gateway_pb2.CastCouncilVoteResponse(approvals=0, rejections=1, stage="BUILD")
    )

    result = quorum(
        gateway, "gates", "vote", IDEA_ID, "--council", "cab", "--reject", "--comment", "Too early"
    )

    assert result.exit_code == 0, result.output
    request = gateway.request("CastCouncilVote")
    assert (request.council_id, request.approve, request.comment) == ("cab", False, "Too early")
    assert "gate into BUILD: 0 approvals, 1 rejections" in result.stdout


def test_override_needs_a_justification_and_shows_what_was_unmet(gateway: FakeGateway) -> None:
    gateway.answers["OverrideStage"] = lambda request, context: gateway_pb2.OverrideStageResponse(
        idea_id=IDEA_ID,
        from_stage="IDEATION",
        stage=request.target_stage,
        status=domain_pb2.IDEA_STATUS_OPEN,
        report=megacorp_report(),
    )

    missing = quorum(gateway, "gates", "override", IDEA_ID, "DISCOVERY")
    result = quorum(
        gateway,
        "gates",
        "override",
        IDEA_ID,
        "discovery",
        "-j",
        "Regulation forces it this quarter.",
    )

    assert missing.exit_code == 2
    assert result.exit_code == 0, result.output
    request = gateway.request("OverrideStage")
    assert (request.target_stage, request.justification) == (
        "DISCOVERY",
        "Regulation forces it this quarter.",
    )
    assert "Overridden" in result.stdout
    assert "min_customers" in result.stdout


def test_cosign_names_the_backing_councils(gateway: FakeGateway) -> None:
    gateway.answers["CoSignIdea"] = lambda request, context: gateway_pb2.CoSignIdeaResponse(
        co_signed_by=["cab", request.council_id]
    )

    result = quorum(gateway, "gates", "cosign", IDEA_ID, "--council", "retail-council")

    assert result.exit_code == 0, result.output
    assert "backed by cab, retail-council" in result.stdout


# --- errors ------------------------------------------------------------------------


def test_bad_input_prints_one_message_and_every_field(gateway: FakeGateway) -> None:
    gateway.answers["SubmitIdea"] = abort(
        code_pb2.INVALID_ARGUMENT,
        "invalid argument: title: is required, problem: is required",
        error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(
                    field="title", description="is required"
                ),
                error_details_pb2.BadRequest.FieldViolation(
                    field="problem", description="is required"
                ),
            ]
        ),
    )

    result = quorum(gateway, "ideas", "submit", "", "--problem", "", "--area", "")

    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0].startswith("Error (INVALID_ARGUMENT): invalid argument")
    assert "  • title: is required" in lines
    assert "  • problem: is required" in lines


def test_an_unauthenticated_call_says_how_to_give_a_key(gateway: FakeGateway) -> None:
    gateway.answers["WhoAmI"] = abort(code_pb2.UNAUTHENTICATED, "unknown API key")

    result = quorum(gateway, "keys", "whoami", key="wrong")

    assert result.exit_code == 1
    assert "Error (UNAUTHENTICATED): unknown API key" in result.stderr
    assert "QUORUM_API_KEY" in result.stderr


def test_an_unreachable_gateway_is_one_clear_message() -> None:
    result = CliRunner().invoke(
        app,
        ["--address", "127.0.0.1:1", "--api-key", "k", "--timeout", "5", "keys", "whoami"],
        env={"COLUMNS": "200"},
    )

    assert result.exit_code == 1
    assert "Error (UNAVAILABLE): cannot reach the Quorum gateway at 127.0.0.1:1" in result.stderr
    assert "make run" in result.stderr
    assert "Traceback" not in result.output


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

    assert result.exit_code == 2
    assert "COMMITMENT=COUNT" in result.output
    assert gateway.calls == []


# --- keys --------------------------------------------------------------------------


def test_keys_create_prints_the_secret_once(gateway: FakeGateway) -> None:
    gateway.answers["CreateApiKey"] = lambda request, context: gateway_pb2.CreateApiKeyResponse(
        key=gateway_pb2.ApiKey(
            key_id="k9",
            principal_id=request.principal_id,
            display_name=request.display_name,
            role=request.role,
            organization_id=request.organization_id,
            member_id=request.member_id,
        ),
        secret="qk_the_secret",
    )

    result = quorum(
        gateway, "keys", "create", "--role", "customer", "--org", "acme", "--member", "ana"
    )

    assert result.exit_code == 0, result.output
    request = gateway.request("CreateApiKey")
    assert request.role == gateway_pb2.ROLE_CUSTOMER
    assert (request.principal_id, request.display_name) == ("ana@acme", "ana@acme")
    assert "qk_the_secret" in result.stdout
    assert "shown only now" in result.stdout

    scripted = quorum(
        gateway, "keys", "create", "--role", "product-manager", "--name", "Pat Lee", "--secret-only"
    )

    assert scripted.exit_code == 0, scripted.output
    assert scripted.stdout == "qk_the_secret\n"
    assert gateway.requests("CreateApiKey")[1].principal_id == "pat-lee"


def test_keys_list_and_revoke(gateway: FakeGateway) -> None:
    key = gateway_pb2.ApiKey(
        key_id="k1",
        principal_id="helpdesk",
        display_name="Help desk",
        role=gateway_pb2.ROLE_INTEGRATION,
        organization_ids=["bakery", "shop"],
    )
    gateway.answers["ListApiKeys"] = lambda request, context: gateway_pb2.ListApiKeysResponse(
        keys=[key]
    )
    gateway.answers["RevokeApiKey"] = lambda request, context: gateway_pb2.RevokeApiKeyResponse(
        key=key
    )

    listed = quorum(gateway, "keys", "list", "--all")
    revoked = quorum(gateway, "keys", "revoke", "k1")

    assert listed.exit_code == 0, listed.output
    assert gateway.request("ListApiKeys").include_revoked
    assert "bakery, shop" in listed.stdout
    assert revoked.exit_code == 0, revoked.output
    assert gateway.request("RevokeApiKey").key_id == "k1"
    assert "Revoked k1." in revoked.stdout


# --- scorecards and peers ----------------------------------------------------------


def test_tenant_scorecard(gateway: FakeGateway) -> None:
    gateway.answers["GetTenantScorecard"] = lambda request, context: (
        gateway_pb2.GetTenantScorecardResponse(
            scorecard=domain_pb2.TenantScorecard(
                overrides=1,
                launched=4,
                launched_without_override=3,
                share_launched_without_override=0.75,
                single_customer_ideas_stopped=2,
            )
        )
    )

    result = quorum(gateway, "scorecards", "tenant")

    assert result.exit_code == 0, result.output
    assert "3 (75%)" in result.stdout
    assert "Single-customer ideas stopped  2" in result.stdout


def test_organization_scorecard_defaults_to_the_callers_own(gateway: FakeGateway) -> None:
    result = quorum(gateway, "scorecards", "org")

    assert result.exit_code == 0, result.output
    assert gateway.request("GetOrganizationScorecard").organization_id == ""
    assert "no decision yet" in result.stdout


def test_peers_and_introductions(gateway: FakeGateway) -> None:
    gateway.answers["ListPeers"] = lambda request, context: gateway_pb2.ListPeersResponse(
        peers=[domain_pb2.Peer(organization_id="bank", name="Bank AG", segment="finance")]
    )
    gateway.answers["AnswerIntroduction"] = lambda request, context: (
        gateway_pb2.AnswerIntroductionResponse(
            introduction=domain_pb2.Introduction(
                introduction_id=request.introduction_id,
                requester_organization_id="bakery",
                requester_member_id="bo",
                peer_organization_id="bank",
                status=domain_pb2.INTRODUCTION_STATUS_ACCEPTED,
                requester_contact="bo@bakery.example",
                peer_contact="cfo@bank.example",
            )
        )
    )

    listed = quorum(gateway, "peers", "list", IDEA_ID)
    introduced = quorum(gateway, "peers", "introduce", IDEA_ID, "bank", "-m", "Same need")
    answered = quorum(gateway, "peers", "answer", "intro-1", "--accept", "--org", "bank")

    assert listed.exit_code == 0, listed.output
    assert "Bank AG" in listed.stdout
    assert introduced.exit_code == 0, introduced.output
    request = gateway.request("RequestIntroduction")
    assert (request.peer_organization_id, request.message) == ("bank", "Same need")
    assert answered.exit_code == 0, answered.output
    assert gateway.request("AnswerIntroduction").accept
    assert "accepted" in answered.stdout
    assert "cfo@bank.example" in answered.stdout


# --- the client covers the whole contract --------------------------------------------


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def _calls(client: Client) -> dict[str, Callable[[], object]]:
    """One minimal call per RPC; the test below fails when the contract gains one."""
    return {
        "SubmitIdea": lambda: client.submit_idea("t", "p", product_area="a"),
        "GetIdea": lambda: client.get_idea(IDEA_ID),
        "ListIdeas": lambda: client.list_ideas(),
        "EndorseIdea": lambda: client.endorse_idea(IDEA_ID),
        "WithdrawEndorsement": lambda: client.withdraw_endorsement(IDEA_ID),
        "FindSimilarIdeas": lambda: client.find_similar_ideas("t"),
        "MergeIdeas": lambda: client.merge_ideas("a", "b"),
        "ListEndorsements": lambda: client.list_endorsements(IDEA_ID),
        "GetGateReport": lambda: client.get_gate_report(IDEA_ID),
        "AdvanceStage": lambda: client.advance_stage(IDEA_ID, "DISCOVERY"),
        "DeclineIdea": lambda: client.decline_idea(IDEA_ID, "no"),
        "CastCouncilVote": lambda: client.cast_council_vote(IDEA_ID, "cab", approve=True),
        "OverrideStage": lambda: client.override_stage(IDEA_ID, "DISCOVERY", "x" * 20),
        "CoSignIdea": lambda: client.co_sign_idea(IDEA_ID, "cab"),
        "GetOrganizationScorecard": lambda: client.get_organization_scorecard(),
        "GetTenantScorecard": lambda: client.get_tenant_scorecard(),
        "WhatIf": lambda: client.what_if(domain_pb2.GatePolicy(stage="DISCOVERY")),
        "ListPeers": lambda: client.list_peers(IDEA_ID),
        "RequestIntroduction": lambda: client.request_introduction(IDEA_ID, "bank"),
        "AnswerIntroduction": lambda: client.answer_introduction("i", accept=True),
        "ListIntroductions": lambda: client.list_introductions(),
        "UpsertOrganization": lambda: client.upsert_organization(domain_pb2.Organization()),
        "GetOrganization": lambda: client.get_organization("acme"),
        "ListOrganizations": lambda: client.list_organizations(),
        "UpsertCouncil": lambda: client.upsert_council(domain_pb2.Council()),
        "ListCouncils": lambda: client.list_councils(),
        "GetPipeline": lambda: client.get_pipeline(),
        "UpdateGatePolicy": lambda: client.update_gate_policy(domain_pb2.GatePolicy()),
        "CreateApiKey": lambda: client.create_api_key(
            principal_id="p", display_name="P", role=gateway_pb2.ROLE_PRODUCT_MANAGER
        ),
        "ListApiKeys": lambda: client.list_api_keys(),
        "RevokeApiKey": lambda: client.revoke_api_key("k"),
        "WhoAmI": lambda: client.who_am_i(),
        "WatchEvents": lambda: list(client.watch_events(cursor="0")),
        "CreateSubscription": lambda: client.create_subscription(notifications_pb2.Subscription()),
        "ListSubscriptions": lambda: client.list_subscriptions(),
        "DeleteSubscription": lambda: client.delete_subscription("s"),
        "ListDeliveries": lambda: client.list_deliveries(idea_id=IDEA_ID),
        "RotateWebhookSecret": lambda: client.rotate_webhook_secret("s"),
        "EndWebhookSecretRollover": lambda: client.end_webhook_secret_rollover("s"),
        "CreateInboundEndpoint": lambda: client.create_inbound_endpoint(
            gateway_pb2.InboundEndpoint()
        ),
        "ListInboundEndpoints": lambda: client.list_inbound_endpoints(),
        "DeleteInboundEndpoint": lambda: client.delete_inbound_endpoint("in_x"),
    }


CONTRACT = sorted(
    method.name
    for service in gateway_pb2.DESCRIPTOR.services_by_name.values()
    for method in service.methods
)


@pytest.mark.parametrize("rpc", CONTRACT)
def test_every_rpc_of_the_contract_has_a_client_method(gateway: FakeGateway, rpc: str) -> None:
    with Client(gateway.address, "qk_test", timeout=5) as client:
        calls = _calls(client)
        assert rpc in calls, f"no client call for {rpc}"
        assert hasattr(client, _snake(rpc)), f"Client.{_snake(rpc)} is missing"
        calls[rpc]()

    assert [name for name, *_ in gateway.calls] == [rpc]
    assert gateway.calls[0][2]["authorization"] == "Bearer qk_test"


# --- JSON --------------------------------------------------------------------------


def test_json_output_is_the_answer_message(gateway: FakeGateway) -> None:
    gateway.answers["GetIdea"] = lambda request, context: gateway_pb2.GetIdeaResponse(
        idea=an_idea()
    )

    result = quorum(gateway, "--json", "ideas", "get", IDEA_ID)

    assert result.exit_code == 0, result.output
    parsed = json.loads(result.stdout)
    assert parsed["id"] == IDEA_ID
    assert parsed["organization_count"] == 1


# --- events ------------------------------------------------------------------------


def events() -> list[gateway_pb2.WatchEventsResponse]:
    first = events_pb2.Event(
        envelope=events_pb2.Envelope(event_id="e1", idea_id=IDEA_ID),
        gate_opened=events_pb2.GateOpened(stage="DISCOVERY"),
    )
    second = events_pb2.Event(
        envelope=events_pb2.Envelope(event_id="e2", idea_id=IDEA_ID),
        stage_advanced=events_pb2.StageAdvanced(
            from_stage="IDEATION",
            to_stage="DISCOVERY",
            actor=domain_pb2.Actor(principal_id="pat", display_name="Pat"),
        ),
    )
    return [
        gateway_pb2.WatchEventsResponse(cursor="41", event=first),
        gateway_pb2.WatchEventsResponse(cursor="42", event=second),
    ]


def test_watch_prints_one_line_per_event_with_its_cursor(gateway: FakeGateway) -> None:
    gateway.answers["WatchEvents"] = lambda request, context: iter(events())

    result = quorum(
        gateway,
        "events",
        "watch",
        "--idea",
        IDEA_ID,
        "--kind",
        "gate_opened",
        "--kind",
        "StageAdvanced",
        "--cursor",
        "40",
    )

    assert result.exit_code == 0, result.output
    request = gateway.request("WatchEvents")
    assert (request.idea_id, list(request.kinds), request.cursor) == (
        IDEA_ID,
        ["GateOpened", "StageAdvanced"],
        "40",
    )
    lines = result.stdout.splitlines()
    assert lines == [
        f"cursor=41 - GateOpened idea={IDEA_ID} gate into DISCOVERY holds",
        f"cursor=42 - StageAdvanced idea={IDEA_ID} IDEATION → DISCOVERY by Pat",
    ]
    assert "resume with --cursor 42" in result.stderr


def test_watch_stops_after_the_limit(gateway: FakeGateway) -> None:
    gateway.answers["WatchEvents"] = lambda request, context: iter(events())

    result = quorum(gateway, "--json", "events", "watch", "--limit", "1")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0])["cursor"] == "41"


def test_new_event_kinds_have_summaries(gateway: FakeGateway) -> None:
    overridden = events_pb2.Event(
        envelope=events_pb2.Envelope(idea_id=IDEA_ID),
        stage_overridden=events_pb2.StageOverridden(
            from_stage="IDEATION", to_stage="DISCOVERY", justification="Regulation forces it."
        ),
    )
    vote = events_pb2.Event(
        envelope=events_pb2.Envelope(idea_id=IDEA_ID),
        council_vote_cast=events_pb2.CouncilVoteCast(
            council_id="cab", organization_id="bank", stage="BUILD", approve=True, approvals=2
        ),
    )
    gateway.answers["WatchEvents"] = lambda request, context: iter(
        [
            gateway_pb2.WatchEventsResponse(cursor="1", event=overridden),
            gateway_pb2.WatchEventsResponse(cursor="2", event=vote),
        ]
    )

    result = quorum(
        gateway, "events", "watch", "--kind", "stage-overridden", "--kind", "council_vote_cast"
    )

    assert result.exit_code == 0, result.output
    assert list(gateway.request("WatchEvents").kinds) == ["StageOverridden", "CouncilVoteCast"]
    assert "IDEATION → DISCOVERY OVERRIDDEN: Regulation forces it." in result.stdout
    assert "bank (cab) approves the gate into BUILD: 2 for, 0 against" in result.stdout


def test_watch_refuses_an_unknown_kind(gateway: FakeGateway) -> None:
    result = quorum(gateway, "events", "watch", "--kind", "Exploded")

    assert result.exit_code == 2
    assert "GateOpened" in result.output
    assert gateway.calls == []


def test_watch_reports_a_refused_stream(gateway: FakeGateway) -> None:
    gateway.answers["WatchEvents"] = abort(
        code_pb2.PERMISSION_DENIED, "a CUSTOMER key may not call EventsService/WatchEvents"
    )

    result = quorum(gateway, "events", "watch")

    assert result.exit_code == 1
    assert "Error (PERMISSION_DENIED)" in result.stderr
    assert "keys whoami" in result.stderr

"""`quorum gates …`, and how a refused or failed call reads."""

from __future__ import annotations

from google.rpc import code_pb2, error_details_pb2
from typer.testing import CliRunner

from quorum.domain.v1 import domain_pb2
from quorum.gateway.v1 import gateway_pb2
from quorum_client.cli import app
from support.fake_gateway import (
    IDEA_ID,
    FakeGateway,
    abort,
    bad_request,
    megacorp_report,
    quorum,
    refused_before_calling,
)

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

    refused_before_calling(gateway, result)

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
        bad_request(("title", "is required"), ("problem", "is required")),
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

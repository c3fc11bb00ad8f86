"""`quorum ideas …`: what each command sends and prints."""

from __future__ import annotations

from typing import Any

import grpc

from quorum.domain.v1 import domain_pb2
from quorum.gateway.v1 import gateway_pb2
from quorum_client import Client
from support.fake_gateway import (
    IDEA_ID,
    FakeGateway,
    an_idea,
    quorum,
)

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


def two_pages(request: gateway_pb2.ListIdeasRequest, context: Any) -> Any:
    if not request.page_token:
        return gateway_pb2.ListIdeasResponse(ideas=[an_idea()], next_page_token="p2")
    return gateway_pb2.ListIdeasResponse(ideas=[an_idea(id="last", title="Last one")])


def test_list_all_follows_every_page(gateway: FakeGateway) -> None:
    gateway.answers["ListIdeas"] = two_pages

    result = quorum(gateway, "ideas", "list", "--all")

    assert result.exit_code == 0, result.output
    assert [r.page_token for r in gateway.requests("ListIdeas")] == ["", "p2"]
    assert "Last one" in result.stdout
    assert "--page-token" not in result.stdout


def test_the_clients_iterator_asks_for_every_page_with_the_same_filters(
    gateway: FakeGateway,
) -> None:
    gateway.answers["ListIdeas"] = two_pages

    with Client(gateway.address, "qk_test", timeout=5) as client:
        found = [idea.id for idea in client.iter_ideas(tag="export")]

    assert found == [IDEA_ID, "last"]
    asked = [(r.tag, r.page_size, r.page_token) for r in gateway.requests("ListIdeas")]
    assert asked == [("export", 100, ""), ("export", 100, "p2")]


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

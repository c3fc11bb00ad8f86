"""`quorum keys|scorecards|peers …`: secrets once, records, introductions."""

from __future__ import annotations

from quorum.domain.v1 import domain_pb2
from quorum.gateway.v1 import gateway_pb2
from support.fake_gateway import (
    IDEA_ID,
    FakeGateway,
    quorum,
)

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

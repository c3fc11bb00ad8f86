"""The client covers the whole public contract: one method per RPC."""

from __future__ import annotations

import inspect
from collections.abc import Callable

import pytest

from quorum.domain.v1 import domain_pb2
from quorum.gateway.v1 import gateway_pb2
from quorum.notifications.v1 import notifications_pb2
from quorum_client import Client
from support.fake_gateway import (
    IDEA_ID,
    FakeGateway,
)

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


def test_a_declared_call_shows_its_own_signature_and_docstring() -> None:
    # help(), IDEs and the README's readers see the call as written, not its wrapper.
    assert str(inspect.signature(Client.get_idea)) == "(self, idea_id: 'str') -> 'gateway_pb2.Idea'"
    assert (Client.advance_stage.__doc__ or "").startswith("Move to the next stage;")
    assert Client.iter_ideas.__name__ == "iter_ideas"

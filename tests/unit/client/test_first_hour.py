"""What a newcomer's shell needs from the CLI: scripts capture ids, empty keys are named."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from typer.testing import CliRunner, Result

from quorum.domain.v1 import domain_pb2
from quorum.gateway.v1 import gateway_pb2
from quorum.notifications.v1 import notifications_pb2
from quorum_client.cli import app
from quorum_client.cli import events as events_cli
from support.fake_gateway import IDEA_ID, FakeGateway, an_idea, quorum, refused_before_calling


def test_an_empty_key_variable_is_named_before_any_call(gateway: FakeGateway) -> None:
    # What `export QUORUM_API_KEY=$(bootstrap …)` leaves when bootstrap refused.
    result = CliRunner().invoke(
        app,
        ["keys", "whoami"],
        env={"QUORUM_ADDRESS": gateway.address, "QUORUM_API_KEY": "", "COLUMNS": "80"},
    )

    refused_before_calling(gateway, result)
    assert "QUORUM_API_KEY is set but empty" in result.stderr


def test_an_unreadable_ca_file_is_named_before_any_call(gateway: FakeGateway) -> None:
    result = CliRunner().invoke(
        app,
        ["--ca-file", "/nonexistent/ca.pem", "keys", "whoami"],
        env={"QUORUM_ADDRESS": gateway.address, "QUORUM_API_KEY": "qk_x", "COLUMNS": "200"},
    )

    refused_before_calling(gateway, result)
    assert "--ca-file / QUORUM_TLS_CA_FILE: cannot read /nonexistent/ca.pem" in result.stderr


def test_submit_prints_only_the_id_for_scripts(gateway: FakeGateway) -> None:
    gateway.answers["SubmitIdea"] = lambda request, context: gateway_pb2.SubmitIdeaResponse(
        idea=an_idea()
    )

    result = quorum(
        gateway, "ideas", "submit", "Title", "--problem", "P", "--area", "a", "--id-only"
    )

    assert result.exit_code == 0, result.output
    assert result.stdout == f"{IDEA_ID}\n"


# --- notifications ------------------------------------------------------------------


def test_subscribe_a_team_to_a_webhook_shows_the_secret_once(gateway: FakeGateway) -> None:
    def made(request: Any, context: grpc.ServicerContext) -> Any:
        subscription = notifications_pb2.Subscription()
        subscription.CopyFrom(request.subscription)
        subscription.subscription_id = "sub-1"
        subscription.webhook.secret = "s3cret-generated-value"
        return gateway_pb2.CreateSubscriptionResponse(subscription=subscription)

    gateway.answers["CreateSubscription"] = made

    result = quorum(
        gateway,
        "notifications",
        "subscribe",
        "--team",
        "product",
        "--webhook",
        "http://127.0.0.1:8090/product",
        "--kind",
        "gate-opened",
    )

    assert result.exit_code == 0, result.output
    sent = gateway.request("CreateSubscription").subscription
    assert sent.subscriber.team == domain_pb2.TEAM_PRODUCT
    assert sent.webhook.url == "http://127.0.0.1:8090/product"
    assert list(sent.kinds) == [domain_pb2.NOTIFICATION_KIND_GATE_OPENED]
    assert "Subscribed sub-1." in result.stdout
    assert "s3cret-generated-value" in result.stdout


def test_subscribe_needs_exactly_one_channel(gateway: FakeGateway) -> None:
    result = quorum(gateway, "notifications", "subscribe", "--org", "bakery")

    refused_before_calling(gateway, result)


def test_the_delivery_log_at_80_columns(gateway: FakeGateway) -> None:
    gateway.answers["ListDeliveries"] = lambda request, context: gateway_pb2.ListDeliveriesResponse(
        deliveries=[
            notifications_pb2.Delivery(
                delivery_id="d1",
                recipient=domain_pb2.Subscriber(team=domain_pb2.TEAM_PRODUCT),
                target="http://127.0.0.1:8090/product",
                kind=domain_pb2.NOTIFICATION_KIND_GATE_OPENED,
                idea_id=IDEA_ID,
                status=notifications_pb2.DELIVERY_STATUS_DELIVERED,
                attempts=[notifications_pb2.DeliveryAttempt()],
            )
        ]
    )

    result = narrow(gateway, "notifications", "deliveries", "--idea", IDEA_ID)

    assert gateway.request("ListDeliveries").idea_id == IDEA_ID
    assert "gate-opened" in result.stdout
    assert "delivered" in result.stdout


def test_unsubscribe_says_what_was_cancelled(gateway: FakeGateway) -> None:
    gateway.answers["DeleteSubscription"] = lambda request, context: (
        gateway_pb2.DeleteSubscriptionResponse(cancelled_deliveries=2)
    )

    result = quorum(gateway, "notifications", "unsubscribe", "sub-1")

    assert result.exit_code == 0, result.output
    assert gateway.request("DeleteSubscription").subscription_id == "sub-1"
    assert "2 pending deliveries cancelled" in result.stdout


# --- tables at 80 columns, piped -----------------------------------------------------


def narrow(gateway: FakeGateway, *args: str) -> Result:
    """The command as a pipe at 80 columns sees it: every id whole, no line too long."""
    result = CliRunner().invoke(
        app,
        ["--address", gateway.address, "--api-key", "qk_test", *args],
        env={"COLUMNS": "80", "QUORUM_ADDRESS": None, "QUORUM_API_KEY": None},
    )
    assert result.exit_code == 0, result.output
    assert all(len(line) <= 80 for line in result.stdout.splitlines()), result.stdout
    for identifier in re.findall(r"[0-9a-f]{8}-[0-9a-f-]+", result.stdout):
        assert identifier == IDEA_ID, result.stdout  # never cut over two lines
    return result


def test_ideas_list_keeps_ids_whole_and_fills_the_next_gate(gateway: FakeGateway) -> None:
    gateway.answers["ListIdeas"] = lambda request, context: gateway_pb2.ListIdeasResponse(
        ideas=[an_idea(title="Export gate reports to CSV for the portfolio board")] * 2
    )

    result = narrow(gateway, "ideas", "list")

    assert result.stdout.count(IDEA_ID) == 2
    # Nothing cropped: every word of the next gate and the title is there, whole.
    words = result.stdout.split()
    for word in ("DISCOVERY:", "does", "not", "hold", "Export", "portfolio", "board"):
        assert words.count(word) == 2, result.stdout


def test_keys_list_fits_80_columns(gateway: FakeGateway) -> None:
    gateway.answers["ListApiKeys"] = lambda request, context: gateway_pb2.ListApiKeysResponse(
        keys=[
            gateway_pb2.ApiKey(
                key_id="895222ac991f45e1",
                principal_id="morgan@megacorp",
                display_name="morgan@megacorp",
                role=gateway_pb2.ROLE_CUSTOMER,
                organization_id="megacorp",
                member_id="morgan",
            ),
            gateway_pb2.ApiKey(
                key_id="1234567890abcdef",
                principal_id="pat-lee",
                display_name="Pat Lee",
                role=gateway_pb2.ROLE_PRODUCT_MANAGER,
            ),
        ]
    )

    result = narrow(gateway, "keys", "list")

    for whole in ("895222ac991f45e1", "1234567890abcdef", "product-manager", "morgan@megacorp"):
        assert whole in result.stdout


def test_policies_show_never_breaks_a_word(gateway: FakeGateway) -> None:
    policy = domain_pb2.GatePolicy(
        stage="BUILD",
        version=1,
        min_customers=6,
        min_segments=3,
        max_share=0.35,
        weighting=domain_pb2.WEIGHTING_ARR_LINEAR,
        affiliates_count_once=True,
        council_approval=domain_pb2.CouncilRequirement(quorum=0.5),
    )
    gateway.answers["GetPipeline"] = lambda request, context: gateway_pb2.GetPipelineResponse(
        pipeline=domain_pb2.Pipeline(stages=["IDEATION", "DISCOVERY", "BUILD"], policies=[policy])
    )

    result = narrow(gateway, "policies", "show")

    text = " ".join(result.stdout.split())
    for words in ("Weighting", "arr-linear", "affiliates once", "6 customers", "every council"):
        assert words in text, result.stdout


# --- events watch -------------------------------------------------------------------


def test_a_watch_says_what_it_watches_and_takes_json_after_the_subcommand(
    gateway: FakeGateway,
) -> None:
    gateway.answers["WatchEvents"] = lambda request, context: iter(
        [gateway_pb2.WatchEventsResponse(cursor="7")]
    )

    result = quorum(gateway, "events", "watch", "--idea", IDEA_ID, "--limit", "1", "--json")

    assert result.exit_code == 0, result.output
    assert f"watching idea {IDEA_ID}'s events at {gateway.address}, from now" in " ".join(
        result.stderr.split()
    )
    assert json.loads(result.stdout)["cursor"] == "7"


def test_a_watch_resumes_without_a_gap_however_often_the_stream_drops(
    gateway: FakeGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(events_cli, "RECONNECT_DELAYS", (0.0,))
    drops = 8  # more than any fixed number of retries would survive

    def watch(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        context.send_initial_metadata((("quorum-watch", "open"), ("quorum-watch-cursor", "41")))
        if len(gateway.requests("WatchEvents")) <= drops:
            context.abort(grpc.StatusCode.UNAVAILABLE, "the gateway is restarting")
        yield gateway_pb2.WatchEventsResponse(cursor="42")

    gateway.answers["WatchEvents"] = watch

    result = quorum(gateway, "events", "watch", "--limit", "1")

    assert result.exit_code == 0, result.output
    cursors = [r.cursor for r in gateway.requests("WatchEvents")]
    assert cursors == ["", *["41"] * drops]  # from now, then after where "now" was
    assert "cursor=42" in result.stdout
    assert result.stderr.count("reconnecting in") == drops


def test_submit_asks_for_the_product_area_the_server_requires(gateway: FakeGateway) -> None:
    result = quorum(gateway, "ideas", "submit", "Title", "--problem", "P")

    refused_before_calling(gateway, result)
    assert "--area" in result.stderr


def test_the_clients_default_importance_is_one_the_server_accepts(gateway: FakeGateway) -> None:
    from quorum_client import Client

    gateway.answers["SubmitIdea"] = lambda request, context: gateway_pb2.SubmitIdeaResponse(
        idea=an_idea()
    )
    with Client(gateway.address, api_key="qk_k_s") as client:
        client.submit_idea("Title", "Problem", product_area="reporting")
    sent = gateway.calls[-1][1]
    assert sent.importance == domain_pb2.IMPORTANCE_IMPORTANT

"""The `quorum` command tree, where it calls and as whom, and --json."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from quorum.gateway.v1 import gateway_pb2
from quorum_client.cli import app
from support.fake_gateway import (
    IDEA_ID,
    FakeGateway,
    an_idea,
    quorum,
    refused_before_calling,
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

    refused_before_calling(gateway, result)
    assert "urgent" in result.output


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

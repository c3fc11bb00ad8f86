"""What a newcomer's shell needs from the CLI: scripts capture ids, empty keys are named."""

from __future__ import annotations

from typer.testing import CliRunner

from quorum.gateway.v1 import gateway_pb2
from quorum_client.cli import app
from support.fake_gateway import IDEA_ID, FakeGateway, an_idea, quorum


def test_an_empty_key_variable_is_named_before_any_call(gateway: FakeGateway) -> None:
    # What `export QUORUM_API_KEY=$(bootstrap …)` leaves when bootstrap refused.
    result = CliRunner().invoke(
        app,
        ["keys", "whoami"],
        env={"QUORUM_ADDRESS": gateway.address, "QUORUM_API_KEY": "", "COLUMNS": "80"},
    )

    assert result.exit_code == 2
    assert "QUORUM_API_KEY is set but empty" in result.stderr
    assert gateway.calls == []


def test_submit_prints_only_the_id_for_scripts(gateway: FakeGateway) -> None:
    gateway.answers["SubmitIdea"] = lambda request, context: gateway_pb2.SubmitIdeaResponse(
        idea=an_idea()
    )

    result = quorum(gateway, "ideas", "submit", "Title", "--problem", "P", "--id-only")

    assert result.exit_code == 0, result.output
    assert result.stdout == f"{IDEA_ID}\n"

"""The `quorum` CLI and `make demo`'s story against the four services as processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner, Result

from quorum_client import Client
from quorum_client.cli import app
from quorum_devtools import platform

pytestmark = pytest.mark.e2e

SMALL = [
    ("northwind", "Northwind Retail", "retail", "48000000"),
    ("bluebird", "Bluebird Clinics", "healthcare", "42000000"),
    ("harborline", "Harborline Logistics", "logistics", "36000000"),
]


def cli(running: platform.Platform, key: str, *args: str) -> Result:
    return CliRunner().invoke(
        app,
        list(args),
        env={
            "QUORUM_ADDRESS": running.address("gateway"),
            "QUORUM_API_KEY": key,
            "COLUMNS": "200",
        },
    )


def ok(result: Result) -> Result:
    assert result.exit_code == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result


def test_a_pdp_tool_session_through_the_cli(running: platform.Platform, admin_key: str) -> None:
    assert "vendor-admin" in ok(cli(running, admin_key, "keys", "whoami")).stdout

    ok(
        cli(
            running,
            admin_key,
            "orgs",
            "upsert",
            "megacorp",
            "--name",
            "MegaCorp",
            "--segment",
            "banking",
            "--arr",
            "480000000",
        )
    )
    for org, name, segment, arr in SMALL:
        ok(cli(running, admin_key, "orgs", "upsert", org, "--name", name, "--segment", segment))
        # Only the given field changes; name and segment stay.
        ok(cli(running, admin_key, "orgs", "upsert", org, "--arr", arr))
    listed = ok(cli(running, admin_key, "orgs", "list")).stdout
    assert "Harborline Logistics" in listed
    assert "48,000,000" in listed

    secret = ok(
        cli(
            running,
            admin_key,
            "keys",
            "create",
            "--role",
            "customer",
            "--org",
            "megacorp",
            "--member",
            "morgan",
            "--name",
            "Morgan",
            "--secret-only",
        )
    ).stdout.strip()
    pm = ok(cli(running, admin_key, "keys", "create", "--role", "product-manager", "--name", "Pat"))
    assert "shown only now" in pm.stdout
    assert "Morgan" in ok(cli(running, admin_key, "keys", "list")).stdout

    submitted = ok(
        cli(
            running,
            secret,
            "--json",
            "ideas",
            "submit",
            "Industry-wide regulatory reporting hub",
            "--problem",
            "We assemble the consolidated filing by hand every quarter.",
            "--area",
            "reporting",
            "--importance",
            "critical",
        )
    )
    idea_id = json.loads(submitted.stdout)["idea"]["id"]
    with Client(running.address("gateway"), admin_key) as client:
        client.wait_for_idea(idea_id, lambda idea: idea.stage == "IDEATION")

    refused = cli(running, admin_key, "gates", "advance", idea_id, "discovery")
    assert refused.exit_code == 1
    assert "Error (FAILED_PRECONDITION)" in refused.stderr
    assert (
        "needs 2 more customers from 1 more segment; "
        "MegaCorp holds 100% of the weight, over the 50% cap"
    ) in refused.stderr
    assert "Unmet criteria" in refused.stderr

    report = ok(cli(running, admin_key, "gates", "report", idea_id)).stdout
    assert "Gate into DISCOVERY" in report
    assert "does not hold" in report
    assert "IDEATION" in ok(cli(running, admin_key, "ideas", "get", idea_id)).stdout
    assert "DISCOVERY" in ok(cli(running, admin_key, "policies", "show")).stdout

    draft = ok(
        cli(running, admin_key, "policies", "set", "DISCOVERY", "--max-share", "1", "--what-if")
    ).stdout
    assert "The draft gate into DISCOVERY" in draft
    with Client(running.address("gateway"), admin_key) as client:
        discovery = [p for p in client.get_pipeline().policies if p.stage == "DISCOVERY"]
    assert [p.version for p in discovery] == [1]  # --what-if stored nothing
    assert (
        "Single-customer ideas stopped"
        in ok(cli(running, admin_key, "scorecards", "tenant")).stdout
    )

    watched = ok(
        cli(
            running,
            admin_key,
            "events",
            "watch",
            "--idea",
            idea_id,
            "--cursor",
            "0",
            "--limit",
            "2",
        )
    )
    lines = watched.stdout.splitlines()
    assert len(lines) == 2
    assert all(line.startswith("cursor=") and idea_id in line for line in lines)
    assert "IdeaSubmitted" in lines[0]


def test_bad_input_and_bad_keys_are_one_clear_message(
    running: platform.Platform, admin_key: str
) -> None:
    bad = cli(running, admin_key, "ideas", "submit", "", "--problem", "", "--area", "")
    assert bad.exit_code == 1
    assert bad.stderr.startswith("Error (INVALID_ARGUMENT)")
    assert "  • title:" in bad.stderr
    assert "Traceback" not in bad.output

    unknown = cli(running, "qk_not_a_key", "keys", "whoami")
    assert unknown.exit_code == 1
    assert "Error (UNAUTHENTICATED)" in unknown.stderr


def test_the_demo_tells_the_newcomer_story(running: platform.Platform) -> None:
    env = {**running.env(), "QUORUM_ADDRESS": running.address("gateway")}
    env.pop("QUORUM_API_KEY", None)  # the demo bootstraps a tenant of its own

    done = subprocess.run(
        [sys.executable, "-m", "quorum_devtools.demo"],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
        cwd=os.getcwd(),
    )

    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    story = done.stdout
    assert "Refused (FAILED_PRECONDITION)" in story
    assert "MegaCorp holds 100% of the weight, over the 50% cap" in story
    assert "IDEATION → DISCOVERY: allowed" in story
    assert "DISCOVERY → DESIGN: allowed" in story
    assert "Who is told" in story
    assert "$100M lesson" in story
    assert "Council criterion:" in story
    assert "met. The BUILD gate" in story
    assert "although min_customers" in story  # the override, with what did not hold
    assert "1 override(s)" in story

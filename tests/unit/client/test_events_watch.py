"""`quorum events watch`: one line per event, cursor first, and its refusals."""

from __future__ import annotations

import json

from google.rpc import code_pb2

from quorum.domain.v1 import domain_pb2
from quorum.events.v1 import events_pb2
from quorum.gateway.v1 import gateway_pb2
from support.fake_gateway import (
    IDEA_ID,
    FakeGateway,
    abort,
    quorum,
    refused_before_calling,
)

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

    refused_before_calling(gateway, result)
    assert "GateOpened" in result.output


def test_watch_reports_a_refused_stream(gateway: FakeGateway) -> None:
    gateway.answers["WatchEvents"] = abort(
        code_pb2.PERMISSION_DENIED, "a CUSTOMER key may not call EventsService/WatchEvents"
    )

    result = quorum(gateway, "events", "watch")

    assert result.exit_code == 1
    assert "Error (PERMISSION_DENIED)" in result.stderr
    assert "keys whoami" in result.stderr

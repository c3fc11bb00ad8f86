"""The public API over HTTP/JSON, against the real gateway: same answers as gRPC."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from google.protobuf import json_format
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2

from quorum.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from quorum_devtools import platform
from support.auth import channel

pytestmark = pytest.mark.e2e

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()
V1 = "quorum.gateway.v1"
# The details' types must be known to json_format to print them.
DETAIL_TYPES = (error_details_pb2.BadRequest, error_details_pb2.PreconditionFailure)


def curl_examples() -> str:
    """The README's runnable curl block (the one that sets QUORUM_HTTP)."""
    blocks = re.findall(r"```bash\n(.*?)```", README, flags=re.DOTALL)
    return str(next(block for block in blocks if block.startswith("QUORUM_HTTP=")))


@pytest.fixture
async def http(running: platform.Platform, admin_key: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=running.http_url, headers={"authorization": f"Bearer {admin_key}"}
    ) as client:
        yield client


async def call(client: httpx.AsyncClient, method: str, body: Any) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return await client.post(
        f"/{V1}.{method}", content=content, headers={"content-type": "application/json"}
    )


def grpc_status(error: grpc.aio.AioRpcError) -> dict[str, Any]:
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            return json_format.MessageToDict(status_pb2.Status.FromString(value))
    raise AssertionError("no status details")


def untimed(value: Any) -> Any:
    """An answer without `evaluatedAt`: each call evaluates the gate at its own moment."""
    if isinstance(value, dict):
        return {k: untimed(v) for k, v in value.items() if k != "evaluatedAt"}
    if isinstance(value, list):
        return [untimed(v) for v in value]
    return value


async def seed(client: httpx.AsyncClient) -> str:
    organization = {
        "organization": {
            "organizationId": "megacorp",
            "name": "MegaCorp",
            "segment": "manufacturing",
            "arr": 500000000,
            "relationship": "RELATIONSHIP_ACTIVE",
        }
    }
    assert (await call(client, "DirectoryService/UpsertOrganization", organization)).is_success
    submitted = await call(
        client,
        "IdeasService/SubmitIdea",
        {
            "title": "Export gate reports to CSV",
            "problem": "Our board reviews gate decisions in spreadsheets.",
            "productArea": "reporting",
            "sourceChannel": "SOURCE_CHANNEL_PORTAL",
            "submittedBy": {"organizationId": "megacorp", "memberId": "ana"},
            "importance": "IMPORTANCE_CRITICAL",
        },
    )
    assert submitted.status_code == 200, submitted.text
    return str(submitted.json()["idea"]["id"])


def test_the_readmes_curl_examples_run_literally(
    running: platform.Platform, admin_key: str
) -> None:
    env = {**os.environ, "QUORUM_HTTP": running.http_url, "QUORUM_API_KEY": admin_key}
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", curl_examples()],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("Quorum public API (HTTP/JSON)\n"), out
    # The refused advance: 400 with the gate's unmet criteria as JSON details.
    refusal = out.rsplit("\nHTTP ", 1)
    assert refusal[1].strip() == "400", out
    status = json.loads(refusal[0].splitlines()[-1])
    assert status["code"] == grpc.StatusCode.FAILED_PRECONDITION.value[0]
    types = {detail["@type"] for detail in status["details"]}
    assert "type.googleapis.com/google.rpc.PreconditionFailure" in types, status
    assert "type.googleapis.com/quorum.domain.v1.GateReport" in types, status
    assert "GetGateReportResponse" not in out  # answers are JSON, not type names
    assert '"report"' in out


async def test_http_and_grpc_give_the_same_answers_and_errors(
    running: platform.Platform, admin_key: str, http: httpx.AsyncClient
) -> None:
    idea = await seed(http)
    async with channel(running.address("gateway"), admin_key) as rpc:
        gates = gateway_pb2_grpc.GatesServiceStub(rpc)
        over_grpc = await gates.GetGateReport(gateway_pb2.GetGateReportRequest(idea_id=idea))
        over_http = await call(http, "GatesService/GetGateReport", {"ideaId": idea})
        assert untimed(over_http.json()) == untimed(json_format.MessageToDict(over_grpc))

        async def both_doors_refuse(
            method: str, body: dict[str, str], request: Message
        ) -> tuple[httpx.Response, dict[str, Any]]:
            """The HTTP door's answer to `body`, and the gRPC door's refusal as JSON."""
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await getattr(gates, method)(json_format.ParseDict(body, request))
            answer = await call(http, f"GatesService/{method}", body)
            return answer, grpc_status(refused.value)

        advance = {"idea_id": idea, "target_stage": "DISCOVERY"}
        answer, status = await both_doors_refuse(
            "AdvanceStage", advance, gateway_pb2.AdvanceStageRequest()
        )
        assert answer.status_code == 400
        assert untimed(answer.json()) == untimed(status)

        missing = {"idea_id": idea[:-1] + ("0" if idea[-1] != "0" else "1")}
        answer, status = await both_doors_refuse(
            "GetGateReport", missing, gateway_pb2.GetGateReportRequest()
        )
        assert answer.status_code == 404
        assert answer.json() == status

        invalid = {"idea_id": idea, "target_stage": "x" * 5000}
        answer, status = await both_doors_refuse(
            "AdvanceStage", invalid, gateway_pb2.AdvanceStageRequest()
        )
        assert answer.status_code == 400
        assert answer.json() == status


async def test_who_may_call_is_the_grpc_doors_rule(
    running: platform.Platform, http: httpx.AsyncClient
) -> None:
    async with httpx.AsyncClient(base_url=running.http_url) as anonymous:
        answer = await call(anonymous, "IdeasService/ListIdeas", {})
        assert answer.status_code == 401
        assert answer.json()["code"] == grpc.StatusCode.UNAUTHENTICATED.value[0]
        # Without a key, a broken body is still a 401 first, as over gRPC.
        assert (await call(anonymous, "IdeasService/ListIdeas", b"{nope")).status_code == 401
    created = await call(
        http,
        "AccessService/CreateApiKey",
        {
            "principalId": "ana",
            "displayName": "Ana",
            "role": "ROLE_CUSTOMER",
            "organizationId": "megacorp",
            "memberId": "ana",
        },
    )
    assert created.status_code == 200, created.text
    customer = {"authorization": f"Bearer {created.json()['secret']}"}
    async with httpx.AsyncClient(base_url=running.http_url, headers=customer) as client:
        answer = await call(client, "AccessService/ListApiKeys", {})
        assert answer.status_code == 403
        assert answer.json()["code"] == grpc.StatusCode.PERMISSION_DENIED.value[0]


async def test_bad_requests_are_400s_naming_what_is_wrong(http: httpx.AsyncClient) -> None:
    answer = await call(http, "IdeasService/GetIdea", b"{not json")
    assert answer.status_code == 400
    assert answer.json()["details"][0]["fieldViolations"][0]["field"] == "body"
    answer = await call(http, "IdeasService/GetIdea", {"ideaId": 5, "colour": "red"})
    assert answer.status_code == 400
    assert "GetIdeaRequest" in answer.json()["message"]
    assert (await call(http, "IdeasService/GetIdea", b"\xff\xfe")).status_code == 400
    assert (await call(http, "IdeasService/GetIdea", b"[" * 100_000)).status_code == 400
    huge = await call(http, "IdeasService/GetIdea", b" " * (2 * 1024 * 1024))
    assert huge.status_code == 413
    form = await http.post(
        f"/{V1}.IdeasService/GetIdea",
        content=b"a=b",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert form.status_code == 415
    assert (await call(http, "IdeasService/NoSuchMethod", {})).status_code == 404
    assert (await http.get(f"/{V1}.IdeasService/GetIdea")).status_code == 405
    document = (await http.get("/openapi.json")).json()
    assert document["openapi"].startswith("3.1")


async def read_events(response: httpx.Response, count: int) -> list[tuple[str, dict[str, Any]]]:
    """The first `count` server-sent events of a stream, as (id, data)."""
    events: list[tuple[str, dict[str, Any]]] = []
    event_id, data = "", ""
    async for line in response.aiter_lines():
        if line.startswith("id: "):
            event_id = line[4:]
        elif line.startswith("data: "):
            data = line[6:]
        elif line == "" and data:
            events.append((event_id, json.loads(data)))
            event_id, data = "", ""
            if len(events) == count:
                break
    return events


async def test_watch_events_streams_and_resumes_from_a_cursor(
    running: platform.Platform, http: httpx.AsyncClient
) -> None:
    ideas = [await seed(http) for _ in range(3)]
    watch = {"cursor": "0", "kinds": ["IdeaSubmitted"]}
    async with http.stream(
        "POST", f"/{V1}.EventsService/WatchEvents", json=watch, timeout=None
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        first = await read_events(response, 3)
    assert [data["event"]["envelope"]["ideaId"] for _, data in first] == ideas
    assert [event_id for event_id, _ in first] == [data["cursor"] for _, data in first]
    fourth = await seed(http)
    # Resume after the first event: the second, third and then the new one, once each.
    resumed_watch = {**watch, "cursor": first[0][0]}
    async with http.stream(
        "POST", f"/{V1}.EventsService/WatchEvents", json=resumed_watch, timeout=None
    ) as response:
        resumed = await read_events(response, 3)
    assert [data["event"]["envelope"]["ideaId"] for _, data in resumed] == [*ideas[1:], fourth]
    assert resumed[:2] == first[1:]
    # The SSE way: a Last-Event-ID header resumes the same.
    async with http.stream(
        "POST",
        f"/{V1}.EventsService/WatchEvents",
        json=watch,
        timeout=None,
        headers={"last-event-id": first[1][0]},
    ) as response:
        assert (await read_events(response, 2)) == resumed[1:]
    async with httpx.AsyncClient(base_url=running.http_url) as anonymous:
        refused = await anonymous.post(f"/{V1}.EventsService/WatchEvents", json=watch)
        assert refused.status_code == 401
        assert refused.json()["code"] == grpc.StatusCode.UNAUTHENTICATED.value[0]


def test_schemathesis_finds_no_5xx_and_answers_match_the_document(
    running: platform.Platform, admin_key: str, tmp_path: Path
) -> None:
    """Generated calls to every unary operation; the stream has no JSON answer to check."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "--no-color",
            "run",
            f"{running.http_url}/openapi.json",
            "--header",
            f"Authorization: Bearer {admin_key}",
            "--max-examples",
            "4",
            "--phases",
            "examples,fuzzing",
            "--exclude-operation-id",
            "EventsService_WatchEvents",
            "--checks",
            "not_a_server_error,status_code_conformance,"
            "content_type_conformance,response_schema_conformance",
            "--seed",
            "1",
            "--workers",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]

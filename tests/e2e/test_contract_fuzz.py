"""Whatever bytes arrive at the public API, a clear error: a contract fuzz test.

Every RPC of quorum.gateway.v1 (from the descriptor pool: a new RPC is covered without
a change here) gets the cases of support/fuzz.py as raw bytes, with and without a key,
against one platform for the whole module. Each call must end within its deadline with
a status that says what was wrong: never UNKNOWN, INTERNAL or DATA_LOSS, never
DEADLINE_EXCEEDED (a hang), never UNAVAILABLE (the platform is up: that is a backend
failure relayed); INVALID_ARGUMENT always with a google.rpc.BadRequest naming a field;
no key always UNAUTHENTICATED. Afterwards no service has logged a traceback and the
platform still evaluates its ideas.

`QUORUM_FUZZ_LONG=1` (or `pytest --long`) adds byte-level scrambles of every baseline
and calls with every key allowed to call the RPC (admin, customer, integration).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from conftest import Isolation
from google.rpc import error_details_pb2, status_pb2
from pymongo import AsyncMongoClient

from quorum.domain.v1 import domain_pb2
from quorum.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from quorum_devtools import platform
from quorum_gateway.api import WATCH_HEADER
from support.auth import bootstrap_tenant, channel
from support.fuzz import Case, Rpc, Seeds, cases, rpcs, scrambled
from support.ledger import customers_counted
from support.newcomer import submission
from support.platforms import own_platform
from support.servers import Servers
from support.waiting import until

pytestmark = pytest.mark.e2e

# Generous for a loaded 2-core machine; a call that needs it has hung.
DEADLINE = 30.0
IN_FLIGHT = 4
FORBIDDEN = {
    grpc.StatusCode.UNKNOWN,
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.DATA_LOSS,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.UNAVAILABLE,
}
TRACES = ("Traceback", "unhandled error")
SCRAMBLES = 1_000


def _long(config: pytest.Config) -> bool:
    return bool(os.environ.get("QUORUM_FUZZ_LONG")) or bool(config.getoption("--long"))


@dataclass
class Fuzzed:
    settings: platform.Platform
    logs: Path
    # The tenant's admin first, then a customer's and an integration's key: each RPC is
    # fuzzed with the first one allowed to call it.
    secrets: list[str]
    seeds: Seeds

    @property
    def admin(self) -> str:
        return self.secrets[0]


@pytest.fixture(scope="module")
def fuzz_platform(infra: Servers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    """One platform for the module: own ports, topics and databases; logs kept to scan."""
    isolation = Isolation(uuid.uuid4().hex[:12])
    logs = tmp_path_factory.mktemp("fuzz-logs")
    # The fuzz test calls far faster than any client may; the limit is not under test.
    unlimited = {"GATEWAY_RATE_LIMIT_PER_SECOND": "1000000", "GATEWAY_RATE_LIMIT_BURST": "1000000"}
    try:
        with own_platform(
            infra, isolation.topic_prefix, isolation.database_prefix, logs, unlimited
        ) as (settings, _):
            secret = bootstrap_tenant(settings.env(), "fuzz-software")
            seeds, others = asyncio.run(_populate(settings.address("gateway"), secret))
            yield Fuzzed(settings, logs, [secret, *others], seeds)
    finally:
        asyncio.run(_drop(infra.mongodb_uri, isolation.database_prefix))


async def _drop(uri: str, prefix: str) -> None:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(uri)
    try:
        for name in await client.list_database_names():
            if name.startswith(prefix):
                await client.drop_database(name)
    finally:
        await client.close()


async def _populate(address: str, secret: str) -> tuple[Seeds, list[str]]:
    """A directory, a council, two recorded ideas and keys for the requests to name."""
    async with channel(address, secret) as admin:
        directory = gateway_pb2_grpc.DirectoryServiceStub(admin)
        for org_id, segment, peer in (("bakery", "retail", False), ("shop", "health", True)):
            await directory.UpsertOrganization(
                gateway_pb2.UpsertOrganizationRequest(
                    organization=domain_pb2.Organization(
                        organization_id=org_id,
                        name=org_id.title(),
                        segment=segment,
                        arr=5_000_000,
                        relationship=domain_pb2.RELATIONSHIP_ACTIVE,
                        peer_visible=peer,
                    )
                )
            )
        await directory.UpsertCouncil(
            gateway_pb2.UpsertCouncilRequest(
                council=domain_pb2.Council(
                    council_id="cab", name="CAB", member_organization_ids=["bakery", "shop"]
                )
            )
        )
        ideas = gateway_pb2_grpc.IdeasServiceStub(admin)
        gates = gateway_pb2_grpc.GatesServiceStub(admin)
        found = []
        for title in ("Export gate reports to CSV", "Single sign-on for the portal"):
            submitted = await ideas.SubmitIdea(submission(title, by=("bakery", "m1")))
            found.append(submitted.idea.id)
        for idea_id in found:

            async def recorded(idea_id: str = idea_id) -> bool:
                return await customers_counted(gates, idea_id) is not None

            await until(recorded, f"idea {idea_id} in the ledger")  # it comes through Kafka
        access = gateway_pb2_grpc.AccessServiceStub(admin)
        customer = await access.CreateApiKey(
            gateway_pb2.CreateApiKeyRequest(
                principal_id="m1",
                display_name="Bakery member",
                role=gateway_pb2.ROLE_CUSTOMER,
                organization_id="bakery",
                member_id="m1",
            )
        )
        integration = await access.CreateApiKey(
            gateway_pb2.CreateApiKeyRequest(
                principal_id="helpdesk",
                display_name="Help desk",
                role=gateway_pb2.ROLE_INTEGRATION,
                organization_ids=["bakery", "shop"],
            )
        )
    seeds = Seeds(
        idea_id=found[0],
        kept_idea_id=found[1],
        organization_id="bakery",
        peer_organization_id="shop",
        council_id="cab",
    )
    return seeds, [customer.secret, integration.secret]


@dataclass(frozen=True)
class Outcome:
    code: grpc.StatusCode
    details: str
    trailers: tuple[tuple[str, str | bytes], ...]


async def _call(raw_channel: grpc.aio.Channel, case: Case, secret: str) -> Outcome:
    metadata = (("authorization", f"Bearer {secret}"),) if case.keyed else ()
    try:
        if not case.rpc.streaming:
            unary: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = raw_channel.unary_unary(
                case.rpc.path, request_serializer=None, response_deserializer=None
            )
            await unary(case.raw, timeout=DEADLINE, metadata=metadata)
            return Outcome(grpc.StatusCode.OK, "", ())
        stream: grpc.aio.UnaryStreamMultiCallable[bytes, bytes] = raw_channel.unary_stream(
            case.rpc.path, request_serializer=None, response_deserializer=None
        )
        call = stream(case.raw, timeout=DEADLINE, metadata=metadata)
        # An accepted watch sends its headers at once; a refused one only its status.
        headers = await call.initial_metadata()
        if dict(headers or ()).get(WATCH_HEADER) == "open":
            call.cancel()
            return Outcome(grpc.StatusCode.OK, "accepted", ())
        async for _ in call:
            pass
        return Outcome(await call.code(), await call.details() or "", ())
    except grpc.aio.AioRpcError as error:
        return Outcome(error.code(), error.details() or "", tuple(error.trailing_metadata() or ()))


def _problem(case: Case, outcome: Outcome) -> str | None:
    """What is wrong with this answer to this case, or None."""
    code = outcome.code
    if code in FORBIDDEN:
        return f"{code.name}: {outcome.details}"
    if not case.keyed and code != grpc.StatusCode.UNAUTHENTICATED:
        return f"{code.name} without a key (expected UNAUTHENTICATED)"
    if case.label.startswith("undecodable") and case.keyed:
        expected = f"the request is not a valid {case.rpc.request.DESCRIPTOR.full_name}"
        if code != grpc.StatusCode.INVALID_ARGUMENT or outcome.details != expected:
            return f"{code.name} {outcome.details!r} (expected INVALID_ARGUMENT {expected!r})"
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        raw = dict(outcome.trailers).get("grpc-status-details-bin")
        if not isinstance(raw, bytes):
            return f"INVALID_ARGUMENT without details: {outcome.details}"
        status = status_pb2.Status.FromString(raw)
        bad = error_details_pb2.BadRequest()
        if not any(d.Unpack(bad) for d in status.details) or not all(
            v.field for v in bad.field_violations
        ):
            return f"INVALID_ARGUMENT without a BadRequest naming a field: {outcome.details}"
        if not bad.field_violations:
            return f"INVALID_ARGUMENT with an empty BadRequest: {outcome.details}"
    return None


async def _run(fuzzed: Fuzzed, found: list[Case], every_key: bool) -> list[str]:
    """Problems with the answers, calling with the first key allowed (or each allowed)."""
    gate = asyncio.Semaphore(IN_FLIGHT)
    problems: list[str] = []
    # No interceptor: the raw bytes go out as they are, the key only where the case has it.
    async with grpc.aio.insecure_channel(fuzzed.settings.address("gateway")) as raw_channel:
        baseline = next(c for c in found if c.label == "baseline" and c.keyed)
        allowed = []
        for candidate in fuzzed.secrets:
            answer = await _call(raw_channel, baseline, candidate)
            if answer.code != grpc.StatusCode.PERMISSION_DENIED:
                allowed.append(candidate)
        keys = (allowed if every_key else allowed[:1]) or [fuzzed.admin]

        async def one(case: Case, secret: str) -> None:
            async with gate:
                outcome = await _call(raw_channel, case, secret)
            if os.environ.get("QUORUM_FUZZ_SHOW"):
                print(f"{case} -> {outcome.code.name} {outcome.details[:150]}")
            problem = _problem(case, outcome)
            if problem is not None:
                problems.append(f"{case}: {problem}")

        await asyncio.gather(*(one(case, secret) for case in found for secret in keys))
    return problems


@pytest.fixture(scope="module")
def long_run(request: pytest.FixtureRequest) -> bool:
    return _long(request.config)


@pytest.mark.parametrize("rpc", rpcs(), ids=lambda rpc: rpc.name)
async def test_every_rpc_answers_hostile_requests_clearly(
    fuzz_platform: Fuzzed, long_run: bool, rpc: Rpc
) -> None:
    found = cases(rpc, fuzz_platform.seeds)
    if long_run:
        found += scrambled(rpc, fuzz_platform.seeds, SCRAMBLES, seed=len(rpc.path))
    problems = await _run(fuzz_platform, found, every_key=long_run)
    assert not problems, "\n".join(sorted(problems))


@pytest.fixture
async def admin(fuzz_platform: Fuzzed) -> AsyncIterator[grpc.aio.Channel]:
    async with channel(fuzz_platform.settings.address("gateway"), fuzz_platform.admin) as open_:
        yield open_


async def test_afterwards_the_platform_still_evaluates(
    fuzz_platform: Fuzzed, admin: grpc.aio.Channel
) -> None:
    gates = gateway_pb2_grpc.GatesServiceStub(admin)
    ideas = gateway_pb2_grpc.IdeasServiceStub(admin)
    insights = gateway_pb2_grpc.InsightsServiceStub(admin)
    listed = await ideas.ListIdeas(gateway_pb2.ListIdeasRequest(page_size=100))
    assert fuzz_platform.seeds.kept_idea_id in {i.id for i in listed.ideas}
    report = await gates.GetGateReport(
        gateway_pb2.GetGateReportRequest(idea_id=fuzz_platform.seeds.kept_idea_id)
    )
    assert report.idea_id == fuzz_platform.seeds.kept_idea_id
    for idea in listed.ideas:
        if idea.status == domain_pb2.IDEA_STATUS_OPEN:
            await gates.GetGateReport(gateway_pb2.GetGateReportRequest(idea_id=idea.id))
    pipeline = await gateway_pb2_grpc.PolicyServiceStub(admin).GetPipeline(
        gateway_pb2.GetPipelineRequest()
    )
    for policy in pipeline.pipeline.policies:
        draft = domain_pb2.GatePolicy()
        draft.CopyFrom(policy)
        answer = await insights.WhatIf(gateway_pb2.WhatIfRequest(draft=draft))
        assert answer.stage == policy.stage


def test_no_service_logged_a_traceback(fuzz_platform: Fuzzed) -> None:
    found = []
    for log in sorted(fuzz_platform.logs.glob("*.log")):
        lines = log.read_text(errors="replace").splitlines()
        for index, line in enumerate(lines):
            if any(trace in line for trace in TRACES):
                found.append(f"{log.name}:{index + 1}: " + "\n".join(lines[index : index + 25]))
    assert not found, "\n\n".join(found[:5])

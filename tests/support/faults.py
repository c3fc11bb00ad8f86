"""Fault injection against the real platform: a known load, SIGKILLs, exact counts.

The load is a fixed plan of endorsements (idea, organization), each a distinct
organization on its idea, sent through the gateway by a few concurrent clients. A call
that fails with UNAVAILABLE or DEADLINE_EXCEEDED is sent again, the same request (the
endorsement of the same member is idempotent), until it is acknowledged. Any other
answer is recorded and fails the run.

Faults are injected at boundaries of the plan: the clients stop taking new
endorsements at a boundary until its fault is injected, so every fault hits calls in
flight and the calls sent during the outage, wherever the machine's speed puts them.

Afterwards every planned endorsement must be counted once, through the public API
only: in the ideas service (ListEndorsements), in the ledger of the validation service
(the gate report's organization weights) and in the gateway's event stream
(WatchEvents from cursor "0"); and no consumer may have dead-lettered anything.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import grpc
from aiokafka import AIOKafkaConsumer, TopicPartition

from quorum.domain.v1 import domain_pb2
from quorum.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from quorum_common.events import Topics
from quorum_common.kafka import PARTITIONS
from quorum_devtools import platform
from quorum_devtools.bench_platform import ORGANIZATIONS, Caller, Tenant, organization_id
from support import waiting
from support.fault_diagnosis import why_the_ledger_is_behind

RETRYABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
CALL_TIMEOUT = 10.0
# A client's pause before it sends a failed call again (a client's back-off, not a wait
# for anything in the test).
RETRY_PAUSE = 0.2


@dataclass
class Plan:
    """Which organization endorses which idea: `per_idea` distinct organizations each."""

    ideas: list[str]
    per_idea: int
    submitters: dict[str, str] = field(default_factory=dict)

    @property
    def endorsements(self) -> list[tuple[str, str]]:
        # Interleaved across ideas, so that every idea sees endorsements during each fault.
        return [
            (idea_id, organization_id(index + 1 + round_))
            for round_ in range(self.per_idea)
            for index, idea_id in enumerate(self.ideas)
        ]

    def organizations(self, idea_id: str) -> set[str]:
        index = self.ideas.index(idea_id)
        endorsers = {organization_id(index + 1 + r) for r in range(self.per_idea)}
        return endorsers | {self.submitters[idea_id]}


async def make_plan(tenant: Tenant, ideas: int, per_idea: int) -> Plan:
    assert per_idea < ORGANIZATIONS, "each endorsement needs an organization of its own"
    plan = Plan([], per_idea)
    for index in range(ideas):
        submitter = organization_id(index)
        answer = await tenant.admin.ideas.SubmitIdea(
            gateway_pb2.SubmitIdeaRequest(
                title=f"Fault idea {index}: export gate reports",
                problem=f"Board {index} reviews gate decisions in spreadsheets every week.",
                product_area="reporting",
                source_channel=domain_pb2.SOURCE_CHANNEL_PORTAL,
                submitted_by=domain_pb2.MemberRef(organization_id=submitter, member_id="pm"),
                importance=domain_pb2.IMPORTANCE_IMPORTANT,
                request_id=f"fault-idea-{index}",
            ),
            metadata=tenant.admin.metadata,
            timeout=CALL_TIMEOUT,
        )
        plan.ideas.append(answer.idea.id)
        plan.submitters[answer.idea.id] = submitter
    return plan


@dataclass
class Load:
    """Sends the plan; `boundaries[k]` waits for `injected[k]`."""

    callers: Sequence[Caller]
    plan: Plan
    boundaries: list[int]
    injected: list[asyncio.Event] = field(init=False)
    taken: int = 0
    acknowledged: int = 0
    retries: collections.Counter[str] = field(default_factory=collections.Counter)
    refused: list[str] = field(default_factory=list)
    reached: asyncio.Event = field(default_factory=asyncio.Event)
    _acked: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.injected = [asyncio.Event() for _ in self.boundaries]

    async def run(self) -> None:
        work = self.plan.endorsements
        await asyncio.gather(*(self._client(caller, work) for caller in self.callers))

    async def _client(self, caller: Caller, work: list[tuple[str, str]]) -> None:
        while self.taken < len(work):
            for boundary, injected in zip(self.boundaries, self.injected, strict=True):
                if self.taken >= boundary and not injected.is_set():
                    self.reached.set()
                    await injected.wait()
            if self.taken >= len(work):
                return
            idea_id, organization = work[self.taken]
            self.taken += 1
            await self._endorse(caller, idea_id, organization)

    async def _endorse(self, caller: Caller, idea_id: str, organization: str) -> None:
        request = gateway_pb2.EndorseIdeaRequest(
            idea_id=idea_id,
            member=domain_pb2.MemberRef(organization_id=organization, member_id="endorser"),
            importance=domain_pb2.IMPORTANCE_IMPORTANT,
        )
        while True:
            try:
                await caller.ideas.EndorseIdea(
                    request, metadata=caller.metadata, timeout=CALL_TIMEOUT
                )
            except grpc.aio.AioRpcError as error:
                if error.code() in RETRYABLE:
                    self.retries[error.code().name] += 1
                    await asyncio.sleep(RETRY_PAUSE)
                    continue
                self.refused.append(
                    f"{idea_id}/{organization}: {error.code().name} {error.details()}"
                )
                return
            self.acknowledged += 1
            self._acked.set()
            return

    async def progressed(self, within: float = 1.0) -> None:
        """Return after the next acknowledgement, or after `within` seconds without one."""
        self._acked.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._acked.wait(), within)

    async def at_boundary(self, index: int) -> None:
        """Wait until the clients reached boundary `index` (or ran out of work)."""
        while self.taken < min(self.boundaries[index], len(self.plan.endorsements)):
            self.reached.clear()
            await self.reached.wait()


async def converge(
    check: Callable[[], Awaitable[dict[str, object]]], within: float
) -> dict[str, object]:
    """What is still wrong (by name) once `check` finds nothing, or when time runs out."""

    async def wrong() -> dict[str, object]:
        try:
            return await check()
        except grpc.aio.AioRpcError as error:
            if error.code() not in RETRYABLE:
                raise
            return {"call": error.code().name}

    found: dict[str, object] = await waiting.settled(wrong, within)
    return found


async def ideas_wrong(caller: Caller, plan: Plan) -> dict[str, object]:
    """Ideas whose endorsing organizations differ from the plan."""
    wrong: dict[str, object] = {}
    for idea_id in plan.ideas:
        answer = await caller.ideas.ListEndorsements(
            gateway_pb2.ListEndorsementsRequest(idea_id=idea_id, page_size=100),
            metadata=caller.metadata,
            timeout=CALL_TIMEOUT,
        )
        _note_difference(wrong, plan, idea_id, [e.organization_id for e in answer.endorsements])
    return wrong


async def ledger_wrong(caller: Caller, plan: Plan) -> dict[str, object]:
    """Ideas whose gate report weighs other organizations than the plan, or some twice."""
    gates = gateway_pb2_grpc.GatesServiceStub(caller.channel)
    wrong: dict[str, object] = {}
    for idea_id in plan.ideas:
        answer = await gates.GetGateReport(
            gateway_pb2.GetGateReportRequest(idea_id=idea_id),
            metadata=caller.metadata,
            timeout=CALL_TIMEOUT,
        )
        _note_difference(wrong, plan, idea_id, [w.organization_id for w in answer.report.weights])
    return wrong


def _note_difference(wrong: dict[str, object], plan: Plan, idea_id: str, found: list[str]) -> None:
    """Note under the idea's id the organizations found but not planned or planned but
    not found, or, when those are the same set, every one found (some came twice)."""
    if sorted(found) != sorted(plan.organizations(idea_id)):
        wrong[idea_id] = sorted(set(found) ^ plan.organizations(idea_id)) or found


async def stream_wrong(caller: Caller, plan: Plan, within: float) -> dict[str, object]:
    """Read IdeaEndorsed from the start of the stream until each planned one came once."""
    wanted = collections.Counter(plan.endorsements)
    seen: collections.Counter[tuple[str, str]] = collections.Counter()
    ideas = set(plan.ideas)
    stream = caller.events.WatchEvents(
        gateway_pb2.WatchEventsRequest(kinds=["IdeaEndorsed"], cursor="0"),
        metadata=caller.metadata,
        timeout=within,
    )
    try:
        async for answer in stream:
            event = answer.event
            if event.envelope.idea_id not in ideas:
                continue
            seen[(event.envelope.idea_id, event.idea_endorsed.member.organization_id)] += 1
            if set(seen) >= set(wanted):
                break
    except grpc.aio.AioRpcError as error:
        if error.code() != grpc.StatusCode.DEADLINE_EXCEEDED:
            raise
    finally:
        stream.cancel()
    missing = sorted(set(wanted) - set(seen))
    doubled = sorted(key for key, count in seen.items() if count > 1)
    return {name: value for name, value in (("missing", missing), ("doubled", doubled)) if value}


async def dead_lettered(bootstrap_servers: str, prefix: str) -> dict[str, int]:
    """Records on each consumer's dead-letter topic (a good event must never be there)."""
    topics = Topics(prefix)
    names = [topics.dead_letter(name) for name in platform.SERVICES]
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, group_id=None)
    await reader.start()
    try:
        ends = await reader.end_offsets(
            [TopicPartition(name, p) for name in names for p in range(PARTITIONS)]
        )
    finally:
        await reader.stop()
    counts = collections.Counter[str]()
    for tp, end in ends.items():
        counts[tp.topic] += end
    return {name: count for name, count in counts.items() if count}


async def what_is_wrong(
    tenant: Tenant, plan: Plan, settings: platform.Platform, within: float
) -> dict[str, object]:
    """What the platform lost, doubled or dead-lettered of the plan, by where it shows,
    once it has had up to `within` seconds to converge; each entry empty when all is well.
    A ledger still wrong comes with why (fault_diagnosis), under "ledger diagnosis"."""
    caller = tenant.admin
    wrong = {
        "ideas": await converge(lambda: ideas_wrong(caller, plan), within),
        "ledger": await converge(lambda: ledger_wrong(caller, plan), within),
        "stream": await stream_wrong(caller, plan, within),
        "dead letters": await dead_lettered(
            settings.kafka_bootstrap_servers, settings.topic_prefix
        ),
    }
    if wrong["ledger"]:
        wrong["ledger diagnosis"] = await why_the_ledger_is_behind(
            caller, tenant.tenant_id, plan.ideas, settings
        )
    return wrong


@dataclass
class Watcher:
    """A WatchEvents client that stays subscribed through the faults.

    When its stream breaks (the gateway was killed, a backend is down) it subscribes
    again with the cursor of the last event it received, as a client should: it must
    then see every planned endorsement exactly once, with no gap and no duplicate.
    """

    caller: Caller
    plan: Plan
    cursor: str = "0"
    seen: collections.Counter[tuple[str, str]] = field(default_factory=collections.Counter)
    resumed: int = 0
    refused: list[str] = field(default_factory=list)

    async def run(self) -> None:
        wanted = set(self.plan.endorsements)
        ideas = set(self.plan.ideas)
        while not wanted <= set(self.seen):
            stream = self.caller.events.WatchEvents(
                gateway_pb2.WatchEventsRequest(kinds=["IdeaEndorsed"], cursor=self.cursor),
                metadata=self.caller.metadata,
            )
            try:
                async for answer in stream:
                    self.cursor = answer.cursor
                    event = answer.event
                    if event.envelope.idea_id in ideas:
                        key = (event.envelope.idea_id, event.idea_endorsed.member.organization_id)
                        self.seen[key] += 1
                        if wanted <= set(self.seen):
                            return
            except grpc.aio.AioRpcError as error:
                if error.code() not in RETRYABLE:
                    self.refused.append(f"WatchEvents: {error.code().name} {error.details()}")
                    return
            finally:
                stream.cancel()
            self.resumed += 1
            await asyncio.sleep(RETRY_PAUSE)

    def wrong(self) -> dict[str, object]:
        wanted = set(self.plan.endorsements)
        missing = sorted(wanted - set(self.seen))
        doubled = sorted(key for key, count in self.seen.items() if count > 1)
        return {
            name: value
            for name, value in (
                ("missing", missing),
                ("doubled", doubled),
                ("refused", self.refused),
            )
            if value
        }


async def pinned(settings: platform.Platform, tenant: Tenant) -> None:
    """Give each of the tenant's clients a gateway replica of its own to prefer.

    Client k names every gateway replica, starting with the k-th: gRPC's default
    pick_first policy keeps one connection to the first that answers and moves to the
    next when that one dies, as a client behind a list of gateway addresses would. So
    clients spread over the replicas, keep their replica (and the reads of their own
    writes through it) while it lives, and go on through another when it is killed.
    """
    ports = [settings.port(name) for name in settings.replicas("gateway")]
    clients = [tenant.admin, *tenant.callers]
    renewed = []
    for index, client in enumerate(clients):
        order = ports[index % len(ports) :] + ports[: index % len(ports)]
        target = "ipv4:" + ",".join(f"127.0.0.1:{port}" for port in order)
        channel = grpc.aio.insecure_channel(target, options=[("grpc.use_local_subchannel_pool", 1)])
        renewed.append(Caller(channel, client.metadata))
    tenant.admin, *tenant.callers = renewed
    for client in clients:
        await client.channel.close()

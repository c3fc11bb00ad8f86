"""One SubmitIdea, one trace: gateway → ideas → Kafka → validation → Kafka → consumers.

The four services run as processes (as in tests/e2e) with OTEL_EXPORTER_OTLP_ENDPOINT
pointing at a small OTLP/gRPC receiver in this test (support/otlp.py), which keeps
every exported span and metric.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from conftest import Isolation

from quorum.domain.v1 import domain_pb2
from quorum.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from quorum_devtools import platform
from support.auth import bootstrap_tenant, channel
from support.otlp import (
    CLIENT,
    CONSUMER,
    PRODUCER,
    SERVER,
    Collected,
    Receiver,
    eventually,
    receiving,
    submission,
    submit_idea,
)
from support.platforms import on_free_ports
from support.servers import Servers


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """An OTLP/gRPC endpoint in this test's event loop."""
    async with receiving() as collected:
        yield collected


@contextlib.asynccontextmanager
async def _exporting(
    infra: Servers, isolation: Isolation, tmp_path: Path, receiver: Receiver, write_ratio: str
) -> AsyncIterator[platform.Platform]:
    """A whole Quorum exporting to `receiver`, quickly (short batch and metric intervals)."""
    settings = on_free_ports(
        infra.kafka_bootstrap_servers,
        infra.mongodb_uri,
        isolation.topic_prefix,
        isolation.database_prefix,
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{receiver.port}",
            "OTEL_BSP_SCHEDULE_DELAY": "100",
            "OTEL_METRIC_EXPORT_INTERVAL": "500",
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_METRICS_EXPORTER": "otlp",
            "OTEL_SDK_DISABLED": "false",
            "QUORUM_WRITE_TRACES_RATIO": write_ratio,
            "LOG_FORMAT": "json",
        },
    )
    logs = {service: (tmp_path / f"{service}.log").open("wb") for service in platform.SERVICES}
    processes = platform.start(settings, output=logs)
    try:
        # Off the event loop: the receiver in this loop must keep answering meanwhile.
        await asyncio.to_thread(platform.wait_serving, settings, processes, 60)
        yield settings
    except platform.StartFailedError:
        for service in platform.SERVICES:
            print(f"--- {service} log ---\n{(tmp_path / f'{service}.log').read_text()}")
        raise
    finally:
        codes = await asyncio.to_thread(platform.stop, processes)
        for handle in logs.values():
            handle.close()
    assert codes == dict.fromkeys(platform.SERVICES, 0), codes


@pytest.fixture
async def traced(
    infra: Servers, isolation: Isolation, tmp_path: Path, receiver: Receiver
) -> AsyncIterator[platform.Platform]:
    """Every write traced (QUORUM_WRITE_TRACES_RATIO=1)."""
    async with _exporting(infra, isolation, tmp_path, receiver, "1") as settings:
        yield settings


@pytest.fixture
async def traced_on_request(
    infra: Servers, isolation: Isolation, tmp_path: Path, receiver: Receiver
) -> AsyncIterator[platform.Platform]:
    """No write traced unless its caller's traceparent asks (QUORUM_WRITE_TRACES_RATIO=0)."""
    async with _exporting(infra, isolation, tmp_path, receiver, "0") as settings:
        yield settings


def _one(spans: list[Collected], service: str, kind: int, name: str) -> Collected | None:
    found = [s for s in spans if s.service == service and s.kind == kind and s.name == name]
    return found[0] if found else None


@pytest.mark.e2e
async def test_submit_idea_is_one_connected_trace_across_kafka(
    traced: platform.Platform, receiver: Receiver
) -> None:
    await submit_idea(traced)

    ideas_topic = f"{traced.topic_prefix}quorum.ideas.v1"
    validation_topic = f"{traced.topic_prefix}quorum.validation.v1"
    submit = "/quorum.gateway.v1.IdeasService/SubmitIdea"
    internal_submit = "/quorum.ideas.v1.IdeasService/SubmitIdea"

    def root() -> Collected | None:
        return _one(receiver.spans, "quorum-gateway", SERVER, submit)

    # Each span is (service, kind, name, service of its parent, name of its parent).
    expected = [
        ("quorum-gateway", CLIENT, internal_submit, "quorum-gateway", submit),
        ("quorum-ideas", SERVER, internal_submit, "quorum-gateway", internal_submit),
        ("quorum-ideas", PRODUCER, f"send {ideas_topic}", "quorum-ideas", internal_submit),
        # Across Kafka: the consumers' spans are children of the producer's span.
        ("quorum-validation", CONSUMER, f"process {ideas_topic}", "quorum-ideas", ""),
        ("quorum-notifications", CONSUMER, f"process {ideas_topic}", "quorum-ideas", ""),
        # The validation service's own event (the idea entered IDEATION) continues it.
        ("quorum-validation", PRODUCER, f"send {validation_topic}", "quorum-validation", ""),
        ("quorum-ideas", CONSUMER, f"process {validation_topic}", "quorum-validation", ""),
        ("quorum-notifications", CONSUMER, f"process {validation_topic}", "quorum-validation", ""),
    ]

    def missing() -> str:
        top = root()
        if top is None:
            return f"no {submit} server span from the gateway"
        if top.parent_id:
            return "the gateway's SubmitIdea span is not the root of its trace"
        spans = receiver.trace(top.trace_id)
        by_id = {span.span_id: span for span in spans}
        for service, kind, name, parent_service, parent_name in expected:
            span = _one(spans, service, kind, name)
            if span is None:
                return f"{service} {name} not in the trace; have {_names(spans)}"
            parent = by_id.get(span.parent_id)
            if parent is None or parent.service != parent_service:
                return f"{service} {name}: parent {span.parent_id} is not a {parent_service} span"
            if parent_name and parent.name != parent_name:
                return f"{service} {name}: parent is {parent.name}, not {parent_name}"
        orphans = [s for s in spans if s is not top and s.parent_id not in by_id]
        if orphans:
            return f"spans not connected to the trace: {_names(orphans)}"
        for service in ("quorum-ideas", "quorum-validation", "quorum-notifications"):
            if not any(s.service == service and _is_mongo(s) for s in spans):
                return f"no MongoDB span from {service} in the trace"
        return ""

    await eventually(missing)

    top = root()
    assert top is not None
    spans = receiver.trace(top.trace_id)
    # Kafka spans name the event they carry.
    sent = _one(spans, "quorum-ideas", PRODUCER, f"send {ideas_topic}")
    assert sent is not None
    assert sent.attributes["quorum.event.type"] == "IdeaSubmitted"
    assert sent.attributes["messaging.system"] == "kafka"
    processed = _one(spans, "quorum-validation", CONSUMER, f"process {ideas_topic}")
    assert processed is not None
    assert processed.parent_id == sent.span_id
    assert processed.attributes["messaging.message.id"] == sent.attributes["messaging.message.id"]
    assert processed.attributes["messaging.consumer.group.name"] == (
        f"{traced.topic_prefix}quorum-validation"
    )
    assert processed.attributes["quorum.outcome"] == "applied"
    # Health checks (the gateway watches its backends) never make traces.
    assert not [s for s in receiver.spans if "grpc.health" in s.name]


@pytest.mark.e2e
async def test_a_trace_not_sampled_costs_no_span_anywhere_and_a_sampled_caller_is_followed(
    traced_on_request: platform.Platform, receiver: Receiver
) -> None:
    running = traced_on_request
    key = await asyncio.to_thread(bootstrap_tenant, running.env(), "acme-software")
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    sampled = (("traceparent", f"00-{trace_id}-00f067aa0ba902b7-01"),)
    ideas_topic = f"{running.topic_prefix}quorum.ideas.v1"
    async with channel(running.address("gateway"), key) as gateway:
        ideas = gateway_pb2_grpc.IdeasServiceStub(gateway)
        # Not sampled (ratio 0, no traceparent): the gateway, ideas, the relay and every
        # consumer must agree and make no span for it.
        idea = (await ideas.SubmitIdea(submission())).idea
        # Sampled by its caller: followed through every process. Same idea, so the same
        # partition: once its records are processed, the submission's were before them.
        await ideas.EndorseIdea(
            gateway_pb2.EndorseIdeaRequest(
                idea_id=idea.id,
                member=domain_pb2.MemberRef(organization_id="globex", member_id="gil"),
                importance=domain_pb2.IMPORTANCE_IMPORTANT,
            ),
            metadata=sampled,
        )
    endorse = "/quorum.gateway.v1.IdeasService/EndorseIdea"
    expected = [
        ("quorum-gateway", SERVER, endorse),
        ("quorum-gateway", CLIENT, "/quorum.ideas.v1.IdeasService/EndorseIdea"),
        ("quorum-ideas", SERVER, "/quorum.ideas.v1.IdeasService/EndorseIdea"),
        ("quorum-ideas", PRODUCER, f"send {ideas_topic}"),
        ("quorum-validation", CONSUMER, f"process {ideas_topic}"),
        ("quorum-notifications", CONSUMER, f"process {ideas_topic}"),
        ("quorum-gateway", CONSUMER, f"process {ideas_topic}"),
    ]

    def missing() -> str:
        spans = receiver.trace(trace_id)
        for service, kind, name in expected:
            if _one(spans, service, kind, name) is None:
                return f"{service} {name} not in the sampled trace; have {_names(spans)}"
        return ""

    await eventually(missing)
    top = _one(receiver.trace(trace_id), "quorum-gateway", SERVER, endorse)
    assert top is not None
    assert top.parent_id == "00f067aa0ba902b7"
    others = [s for s in receiver.spans if s.trace_id != trace_id]
    assert not others, f"spans of a trace nobody sampled: {_names(others)}"


def _is_mongo(span: Collected) -> bool:
    system = span.attributes.get("db.system.name", span.attributes.get("db.system"))
    return span.kind == CLIENT and system == "mongodb"


def _names(spans: list[Collected]) -> str:
    return ", ".join(sorted({f"{s.service}:{s.name}" for s in spans}))


@pytest.mark.e2e
async def test_services_export_rpc_consumer_and_outbox_metrics(
    traced: platform.Platform, receiver: Receiver
) -> None:
    await submit_idea(traced)
    ideas_topic = f"{traced.topic_prefix}quorum.ideas.v1"

    def missing() -> str:
        seen = receiver.metrics
        wanted: list[tuple[str, str, dict[str, object]]] = [
            (
                "quorum-gateway",
                "rpc.server.call.duration",
                {
                    "rpc.method": "quorum.gateway.v1.IdeasService/SubmitIdea",
                    "rpc.response.status_code": "OK",
                },
            ),
            (
                "quorum-ideas",
                "rpc.server.call.duration",
                {"rpc.method": "quorum.ideas.v1.IdeasService/SubmitIdea"},
            ),
            (
                "quorum-validation",
                "messaging.process.duration",
                {
                    "messaging.destination.name": ideas_topic,
                    "messaging.consumer.group.name": f"{traced.topic_prefix}quorum-validation",
                    "quorum.outcome": "applied",
                },
            ),
            (
                "quorum-validation",
                "quorum.consumer.lag",
                {"messaging.destination.name": ideas_topic},
            ),
            (
                "quorum-ideas",
                "quorum.outbox.backlog",
                {"db.namespace": traced.database_prefix + "ideas"},
            ),
            ("quorum-validation", "quorum.outbox.backlog", {}),
        ]
        for service, name, attributes in wanted:
            if not any(
                s == service and n == name and attributes.items() <= a.items() for s, n, a in seen
            ):
                names = sorted({n for s, n, _ in seen if s == service})
                return f"{service} exported no {name} with {attributes}; it has {names}"
        if any(n == "rpc.server.call.duration" and "grpc.health" in str(a) for _, n, a in seen):
            return "health checks are counted as RPCs"
        return ""

    await eventually(missing)

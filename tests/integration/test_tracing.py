"""One SubmitIdea, one trace: gateway → ideas → Kafka → validation → Kafka → consumers.

The four services run as processes (as in tests/e2e) with OTEL_EXPORTER_OTLP_ENDPOINT
pointing at a small OTLP/gRPC receiver in this test, which keeps every exported span
and metric. The configuration rules of the OTEL_* variables are checked without
processes at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
from conftest import Isolation
from opentelemetry.proto.collector.metrics.v1 import (
    metrics_service_pb2,
    metrics_service_pb2_grpc,
)
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from quorum.domain.v1 import domain_pb2
from quorum.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from quorum_devtools import platform
from support.auth import bootstrap_tenant, channel
from support.platforms import on_free_ports, own_platform
from support.servers import Servers

SERVER = trace_pb2.Span.SPAN_KIND_SERVER
CLIENT = trace_pb2.Span.SPAN_KIND_CLIENT
PRODUCER = trace_pb2.Span.SPAN_KIND_PRODUCER
CONSUMER = trace_pb2.Span.SPAN_KIND_CONSUMER


def _value(value: common_pb2.AnyValue) -> object:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


def _attributes(pairs: Any) -> dict[str, object]:
    return {pair.key: _value(pair.value) for pair in pairs}


@dataclass(frozen=True)
class Collected:
    service: str
    trace_id: str
    span_id: str
    parent_id: str
    name: str
    kind: int
    attributes: Mapping[str, object]


@dataclass
class Receiver:
    """What the services exported: spans, and (service, metric, attributes) readings."""

    port: int = 0
    spans: list[Collected] = field(default_factory=list)
    metrics: list[tuple[str, str, dict[str, object]]] = field(default_factory=list)

    def trace(self, trace_id: str) -> list[Collected]:
        return [span for span in self.spans if span.trace_id == trace_id]


class _Traces(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, receiver: Receiver) -> None:
        self._receiver = receiver

    async def Export(
        self, request: trace_service_pb2.ExportTraceServiceRequest, context: Any
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        for resource_spans in request.resource_spans:
            service = str(_attributes(resource_spans.resource.attributes)["service.name"])
            for scope in resource_spans.scope_spans:
                self._receiver.spans.extend(
                    Collected(
                        service=service,
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_id=span.parent_span_id.hex(),
                        name=span.name,
                        kind=span.kind,
                        attributes=_attributes(span.attributes),
                    )
                    for span in scope.spans
                )
        return trace_service_pb2.ExportTraceServiceResponse()


class _Metrics(metrics_service_pb2_grpc.MetricsServiceServicer):
    def __init__(self, receiver: Receiver) -> None:
        self._receiver = receiver

    async def Export(
        self, request: metrics_service_pb2.ExportMetricsServiceRequest, context: Any
    ) -> metrics_service_pb2.ExportMetricsServiceResponse:
        for resource_metrics in request.resource_metrics:
            service = str(_attributes(resource_metrics.resource.attributes)["service.name"])
            for scope in resource_metrics.scope_metrics:
                for metric in scope.metrics:
                    data = getattr(metric, metric.WhichOneof("data") or "gauge")
                    self._receiver.metrics.extend(
                        (service, metric.name, _attributes(point.attributes))
                        for point in data.data_points
                    )
        return metrics_service_pb2.ExportMetricsServiceResponse()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """An OTLP/gRPC endpoint in this test's event loop."""
    collected = Receiver()
    server = grpc.aio.server()
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_Traces(collected), server)  # type: ignore[no-untyped-call]
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(_Metrics(collected), server)  # type: ignore[no-untyped-call]
    collected.port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield collected
    finally:
        await server.stop(grace=None)


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


async def _eventually(check: Callable[[], str], within: float = 30.0) -> None:
    """Wait until `check` returns "" (nothing missing); fail with what is still missing."""
    deadline = time.monotonic() + within
    while missing := check():
        if time.monotonic() > deadline:
            pytest.fail(missing)
        await asyncio.sleep(0.1)


def _submission() -> gateway_pb2.SubmitIdeaRequest:
    return gateway_pb2.SubmitIdeaRequest(
        title="Export gate reports to CSV",
        problem="Our portfolio board reviews gate decisions in spreadsheets every week.",
        product_area="reporting",
        tags=["export"],
        source_channel=domain_pb2.SOURCE_CHANNEL_PORTAL,
        submitted_by=domain_pb2.MemberRef(organization_id="acme", member_id="ana"),
        importance=domain_pb2.IMPORTANCE_IMPORTANT,
    )


async def _submit_idea(running: platform.Platform) -> None:
    # The key is made before the call, so its own database work is not in the trace.
    key = await asyncio.to_thread(bootstrap_tenant, running.env(), "acme-software")
    async with channel(running.address("gateway"), key) as gateway:
        await gateway_pb2_grpc.IdeasServiceStub(gateway).SubmitIdea(_submission())


def _one(spans: list[Collected], service: str, kind: int, name: str) -> Collected | None:
    found = [s for s in spans if s.service == service and s.kind == kind and s.name == name]
    return found[0] if found else None


@pytest.mark.e2e
async def test_submit_idea_is_one_connected_trace_across_kafka(
    traced: platform.Platform, receiver: Receiver
) -> None:
    await _submit_idea(traced)

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

    await _eventually(missing)

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
        idea = (await ideas.SubmitIdea(_submission())).idea
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

    await _eventually(missing)
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
    await _submit_idea(traced)
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

    await _eventually(missing)


# OTLP over HTTP, to a receiver that takes traces only (as many hosted tracing backends).


@dataclass
class HttpReceiver:
    port: int = 0
    spans: list[str] = field(default_factory=list)
    refused_metrics: int = 0


@pytest.fixture
async def traces_only() -> AsyncIterator[HttpReceiver]:
    from aiohttp import web

    collected = HttpReceiver()

    async def traces(request: web.Request) -> web.Response:
        export = trace_service_pb2.ExportTraceServiceRequest.FromString(await request.read())
        collected.spans.extend(
            span.name
            for resource in export.resource_spans
            for scope in resource.scope_spans
            for span in scope.spans
        )
        body = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
        return web.Response(body=body, content_type="application/x-protobuf")

    async def metrics(request: web.Request) -> web.Response:
        collected.refused_metrics += 1
        return web.Response(status=404, text="traces only")

    app = web.Application()
    app.router.add_post("/v1/traces", traces)
    app.router.add_post("/v1/metrics", metrics)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    collected.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield collected
    finally:
        await runner.cleanup()


@pytest.mark.e2e
async def test_http_protobuf_to_a_traces_only_receiver_exports_and_complains_once(
    infra: Servers, isolation: Isolation, tmp_path: Path, traces_only: HttpReceiver
) -> None:
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{traces_only.port}",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "OTEL_METRIC_EXPORT_INTERVAL": "200",
        "OTEL_SDK_DISABLED": "false",
        "QUORUM_WRITE_TRACES_RATIO": "1",
    }
    with contextlib.ExitStack() as stack:
        # Off the event loop: the receiver in this loop must keep answering meanwhile.
        running, _ = await asyncio.to_thread(
            stack.enter_context,
            own_platform(infra, isolation.topic_prefix, isolation.database_prefix, tmp_path, env),
        )
        try:
            await _submit_idea(running)
            key = await asyncio.to_thread(bootstrap_tenant, running.env(), "watchers")
            async with channel(running.address("gateway"), key) as gateway:
                # A watch the client ends early: no error, no traceback in the gateway.
                watch = gateway_pb2_grpc.EventsServiceStub(gateway).WatchEvents(
                    gateway_pb2.WatchEventsRequest(cursor="0")
                )
                await watch.initial_metadata()
                watch.cancel()

            def missing() -> str:
                if "/quorum.gateway.v1.IdeasService/SubmitIdea" not in traces_only.spans:
                    return "no SubmitIdea span over http/protobuf"
                # Several metric exports refused by every service: enough to repeat.
                return "" if traces_only.refused_metrics >= 20 else "too few metric exports"

            await _eventually(missing)
        finally:
            await asyncio.to_thread(stack.close)
    for service in platform.SERVICES:
        log = (tmp_path / f"{service}.log").read_text()
        assert "Traceback" not in log, service
        assert "Failed to detach context" not in log, service
        # The refused signal is said once, not at every export.
        refusals = [line for line in log.splitlines() if "Failed to export metrics" in line]
        assert len(refusals) <= 1, (service, refusals)
        assert "telemetry: traces otlp" in log, service  # said at INFO once serving

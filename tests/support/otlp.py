"""A small OTLP/gRPC receiver in the test's event loop, which keeps every span and metric
reading the services export, and the one traced call the tracing tests make."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from opentelemetry.proto.collector.metrics.v1 import (
    metrics_service_pb2,
    metrics_service_pb2_grpc,
)
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from quorum.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from quorum_devtools import platform
from support import newcomer, waiting
from support.auth import bootstrap_tenant, channel

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


@dataclass
class _Exporting:
    """What an OTLP service's Export receives goes to the test's receiver."""

    _receiver: Receiver


class _Traces(_Exporting, trace_service_pb2_grpc.TraceServiceServicer):
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


class _Metrics(_Exporting, metrics_service_pb2_grpc.MetricsServiceServicer):
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


@contextlib.asynccontextmanager
async def receiving() -> AsyncIterator[Receiver]:
    """An OTLP/gRPC endpoint in this event loop, stopped afterwards."""
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


async def eventually(check: Callable[[], str], within: float = 30.0) -> None:
    """Wait until `check` returns "" (nothing missing); fail with what is still missing."""
    missing: str = await waiting.settled(check, within)
    if missing:
        pytest.fail(missing)


def submission() -> gateway_pb2.SubmitIdeaRequest:
    """The traced write: the newcomer scenario's idea, submitted by acme's Ana."""
    return newcomer.submission(by=("acme", "ana"))


async def submit_idea(running: platform.Platform) -> None:
    # The key is made before the call, so its own database work is not in the trace.
    key = await asyncio.to_thread(bootstrap_tenant, running.env(), "acme-software")
    async with channel(running.address("gateway"), key) as gateway:
        await gateway_pb2_grpc.IdeasServiceStub(gateway).SubmitIdea(submission())

"""OTLP over HTTP, to a receiver that takes traces only (as many hosted tracing backends):
the services export their spans and say the refused metrics once, not at every export.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import Isolation
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from quorum.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from quorum_devtools import platform
from support.auth import bootstrap_tenant, channel
from support.otlp import eventually, submit_idea
from support.platforms import own_platform
from support.servers import Servers


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
            await submit_idea(running)
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

            await eventually(missing)
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

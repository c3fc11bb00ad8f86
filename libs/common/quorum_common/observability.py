"""Structured logs that carry the trace id, and OpenTelemetry traces and metrics over OTLP.

Telemetry is configured only by the standard OTEL_* environment variables and the
two sampling ratios (`configure_telemetry`). Nothing is exported unless an OTLP
endpoint is set, but sampled spans are created either way: their trace ids then
still reach the logs and the Kafka headers, so a request can be followed through
the logs alone. Which calls are traced and the spans Quorum makes itself are in
`tracing`; the metrics in `meters`.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

import grpc
from opentelemetry import metrics, trace

from quorum_common import meters, tracing
from quorum_common.telemetry_plan import TelemetryPlan, telemetry_plan

# ----------------------------------------------------------------------------- logs


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the current trace and span ids."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self._service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            entry["trace_id"] = f"{context.trace_id:032x}"
            entry["span_id"] = f"{context.span_id:016x}"
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """Short lines for a person watching `make run`."""

    def format(self, record: logging.LogRecord) -> str:
        clock = datetime.fromtimestamp(record.created, UTC).strftime("%H:%M:%S.%f")[:-3]
        line = f"{clock} {record.levelname:<7} {record.getMessage()}"
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            line += f"  trace={context.trace_id:032x}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure_logging(service: str, level: str, style: str = "json") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service) if style == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Libraries' chatter at INFO buries the service's own lines.
    for noisy in ("aiokafka", "pymongo", "grpc", "faststream", "opentelemetry"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


@dataclass
class Telemetry:
    """The configured providers; `shutdown` flushes what is still buffered."""

    plan: TelemetryPlan
    _shutdown: list[Callable[[], Any]] = field(default_factory=list)

    def shutdown(self) -> None:
        for step in self._shutdown:
            try:
                step()
            except Exception as error:  # a collector gone at exit must not fail the exit
                logging.getLogger(__name__).warning("telemetry shutdown: %r", error)
        self._shutdown.clear()


def configure_telemetry(service: str) -> Telemetry:
    """Tracing, metrics and instrumentation for one service process.

    `service` is the short name ("ideas"); `service.name` is "quorum-<service>"
    unless OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES says otherwise.
    """
    plan = telemetry_plan()
    telemetry = Telemetry(plan)
    if plan.disabled:
        return telemetry
    from opentelemetry.instrumentation.pymongo import PymongoInstrumentor
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    resource = _resource(service)
    # OTEL_TRACES_SAMPLER, when set, replaces Quorum's choice (the SDK reads it).
    sampler = (
        None
        if os.environ.get("OTEL_TRACES_SAMPLER")
        else tracing.root_sampler(tracing.write_traces_ratio())
    )
    # Spans that go nowhere are not made at all (tracing.export_spans): no provider, no
    # interceptors, no context carried.
    if plan.traces:
        tracer_provider = TracerProvider(resource=resource, sampler=sampler, shutdown_on_exit=False)
        for name in plan.traces:
            if name == "otlp":
                tracer_provider.add_span_processor(
                    BatchSpanProcessor(_otlp_span_exporter(plan.traces_protocol))
                )
            else:
                tracer_provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
        trace.set_tracer_provider(tracer_provider)
        telemetry._shutdown.append(tracer_provider.shutdown)

    if plan.metrics:
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import (
            ConsoleMetricExporter,
            MetricExporter,
            PeriodicExportingMetricReader,
        )

        exporters: list[MetricExporter] = []
        for name in plan.metrics:
            if name == "otlp":
                exporters.append(_otlp_metric_exporter(plan.metrics_protocol))
            else:
                exporters.append(ConsoleMetricExporter())
        # The reader's interval comes from OTEL_METRIC_EXPORT_INTERVAL (default 60 s).
        meter_provider = MeterProvider(
            resource=resource,
            metric_readers=[PeriodicExportingMetricReader(e) for e in exporters],
            shutdown_on_exit=False,
        )
        metrics.set_meter_provider(meter_provider)
        telemetry._shutdown.insert(0, meter_provider.shutdown)

    _quiet_exporters()
    # Incoming calls: server_interceptors(), which every GrpcServer asks for. Outgoing
    # calls: `tracing.client_call`, where the gateway calls its backends.
    # MongoDB: a span per transaction (`transaction_span`), and one per command only when
    # asked for: the driver's command listener builds an event for every command, which
    # cost 1.0 of the 4.3 ms of CPU per endorsement of the whole platform (measured,
    # docs/benchmarks.md).
    if plan.traces and tracing.mongodb_command_spans():
        PymongoInstrumentor().instrument()
    _configured.traces = bool(plan.traces)
    tracing.export_spans(bool(plan.traces))
    meters.exported = bool(plan.metrics)
    return telemetry


def server_interceptors() -> list[grpc.aio.ServerInterceptor]:
    """What telemetry adds to every gRPC server, outermost first: the server span (when
    traced), then the call's duration in rpc.server.call.duration (when metrics are
    exported), so the recorded duration belongs to the span."""
    kept: list[grpc.aio.ServerInterceptor] = []
    if _configured.traces:
        kept += tracing.server_interceptors()
    if meters.exported:
        kept.append(meters.RpcMetricsInterceptor())
    return kept


@dataclass
class _Configured:
    """What configure_telemetry set up in this process (nothing, until it runs)."""

    traces: bool = False


_configured = _Configured()


def _otlp_span_exporter(protocol: str) -> Any:
    # No arguments: each exporter reads the OTEL_EXPORTER_OTLP_* variables itself
    # (endpoint, per-signal endpoint, headers, timeout, compression, certificates).
    if protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
            OTLPSpanExporter as HttpSpanExporter,
        )

        return HttpSpanExporter()
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()


def _otlp_metric_exporter(protocol: str) -> Any:
    if protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
            OTLPMetricExporter as HttpMetricExporter,
        )

        return HttpMetricExporter()
    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter

    return OTLPMetricExporter()


class OncePerInterval(logging.Filter):
    """Lets each distinct message through once per interval: an exporter whose receiver
    refuses a signal (a traces-only collector) says so, not every export interval."""

    def __init__(self, seconds: float = 600.0) -> None:
        super().__init__()
        self._seconds = seconds
        self._last: dict[str, float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        # The exporters' messages carry the endpoint and the failure, not a timestamp.
        key = f"{record.name}:{record.msg}"
        now = time.monotonic()
        if now - self._last.get(key, -self._seconds) < self._seconds:
            return False
        self._last[key] = now
        return True


EXPORTER_LOGGERS = (
    "opentelemetry.exporter.otlp.proto.grpc",
    "opentelemetry.exporter.otlp.proto.http",
)


def _quiet_exporters() -> None:
    once = OncePerInterval()
    for name in EXPORTER_LOGGERS:
        for logger in (logging.getLogger(name), *_children(name)):
            logger.addFilter(once)


def _children(name: str) -> list[logging.Logger]:
    # Filters do not inherit: the exporters log through their modules' own loggers.
    return [
        logger
        for key, logger in logging.Logger.manager.loggerDict.items()
        if key.startswith(f"{name}.") and isinstance(logger, logging.Logger)
    ]


def _resource(service: str) -> Any:
    from opentelemetry.sdk.resources import (
        SERVICE_INSTANCE_ID,
        SERVICE_NAME,
        SERVICE_VERSION,
        OTELResourceDetector,
        Resource,
    )

    try:
        version = metadata.version(f"quorum-{service}")
    except metadata.PackageNotFoundError:
        version = "unknown"
    defaults = {
        SERVICE_NAME: f"quorum-{service}",
        "service.namespace": "quorum",
        SERVICE_VERSION: version,
        # Tells replicas apart; on Kubernetes OTEL_RESOURCE_ATTRIBUTES names the pod.
        SERVICE_INSTANCE_ID: str(uuid.uuid4()),
    }
    # Resource.create lets explicit attributes win over the environment; the operator's
    # OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES must win over our defaults instead.
    configured = OTELResourceDetector().detect().attributes
    return Resource.create({k: v for k, v in defaults.items() if k not in configured})

"""Structured logs that carry the trace id, and OpenTelemetry traces and metrics over OTLP.

Telemetry is configured only by the standard OTEL_* environment variables
(`configure_telemetry`). Nothing is exported unless an OTLP endpoint is set, but
spans are created either way: trace ids then still reach the logs and the Kafka
headers, so a request can be followed through the logs alone.

Kafka has no instrumentation here on purpose: the outbox stores the writer's trace
context with each entry and the relay publishes it (`start_send_span`), the consumer
continues it (`processing`). An auto-instrumented producer would only see the relay's
background task, never the request that caused the event.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import sys
import threading
import time
import uuid
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

import grpc
from opentelemetry import context as otel_context
from opentelemetry import metrics, propagate, trace
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from quorum_common.errors import StartupError
from quorum_common.grpc_server import WrappingInterceptor

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


# ----------------------------------------------------------- configuration (OTEL_*)

_EXPORTERS = {"otlp", "console", "none"}


@dataclass(frozen=True)
class TelemetryPlan:
    """What the OTEL_* variables ask for; computed without side effects."""

    disabled: bool = False
    traces: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()
    traces_endpoint: str = ""
    metrics_endpoint: str = ""
    traces_protocol: str = "grpc"
    metrics_protocol: str = "grpc"

    def describe(self) -> str:
        if self.disabled:
            return "disabled (OTEL_SDK_DISABLED)"

        def one(exporters: tuple[str, ...], endpoint: str, protocol: str) -> str:
            if not exporters:
                return "not exported"
            return ", ".join(
                f"otlp {endpoint} ({protocol})" if e == "otlp" else e for e in exporters
            )

        return (
            f"traces {one(self.traces, self.traces_endpoint, self.traces_protocol)}; "
            f"metrics {one(self.metrics, self.metrics_endpoint, self.metrics_protocol)}"
        )


def _exporters(env: Mapping[str, str], variable: str, endpoint: str) -> tuple[str, ...]:
    names = [n.strip().lower() for n in env.get(variable, "otlp").split(",") if n.strip()]
    unknown = sorted(set(names) - _EXPORTERS)
    if unknown:
        raise StartupError(f"{variable}: {', '.join(unknown)} not supported (otlp, console, none)")
    # An OTLP exporter without an endpoint would send to localhost:4317 by the spec's
    # default; here "no endpoint" means "export nothing", so a laptop stays quiet.
    return tuple(n for n in dict.fromkeys(names) if n != "none" and (n != "otlp" or endpoint))


def _endpoint(env: Mapping[str, str], signal: str) -> str:
    for variable in (f"OTEL_EXPORTER_OTLP_{signal}_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"):
        value = env.get(variable, "").strip()
        if value:
            # The gRPC exporter reads "host:port" as a TLS target, which fails
            # against a plaintext collector with nothing but timeouts in the log.
            if not value.startswith(("http://", "https://")):
                raise StartupError(
                    f"{variable}: must be a URL such as http://otel-collector:4317, not {value!r}"
                )
            return value
    return ""


def telemetry_plan(env: Mapping[str, str] | None = None) -> TelemetryPlan:
    """Read the OTEL_* variables; raise StartupError naming a bad one."""
    env = os.environ if env is None else env
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return TelemetryPlan(disabled=True)
    traces_endpoint = _endpoint(env, "TRACES")
    metrics_endpoint = _endpoint(env, "METRICS")
    return TelemetryPlan(
        traces=_exporters(env, "OTEL_TRACES_EXPORTER", traces_endpoint),
        metrics=_exporters(env, "OTEL_METRICS_EXPORTER", metrics_endpoint),
        traces_endpoint=traces_endpoint,
        metrics_endpoint=metrics_endpoint,
        traces_protocol=_protocol(env, "TRACES"),
        metrics_protocol=_protocol(env, "METRICS"),
    )


_PROTOCOLS = ("grpc", "http/protobuf")


def _protocol(env: Mapping[str, str], signal: str) -> str:
    """The signal's OTLP protocol: its own variable, else the general one, else grpc.

    The specification's default is http/protobuf; grpc stays the default here because
    the deployments (and collectors' port 4317) were configured for it first.
    """
    for variable in (f"OTEL_EXPORTER_OTLP_{signal}_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"):
        protocol = env.get(variable, "").strip()
        if protocol:
            if protocol not in _PROTOCOLS:
                raise StartupError(
                    f"{variable}: {protocol!r} is not supported (grpc or http/protobuf)"
                )
            return protocol
    return "grpc"


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
    from opentelemetry.instrumentation.grpc import GrpcAioInstrumentorServer
    from opentelemetry.instrumentation.pymongo import PymongoInstrumentor
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    resource = _resource(service)
    sampler = None if os.environ.get("OTEL_TRACES_SAMPLER") else _sampler()
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
    # Outgoing calls: `client_call`, where the gateway calls its backends.
    GrpcAioInstrumentorServer(filter_=traced_calls(read_traces_ratio())).instrument()  # type: ignore[no-untyped-call]
    # MongoDB: a span per transaction (`transaction_span`), and one per command only when
    # asked for: the driver's command listener builds an event for every command, which
    # cost 1.0 of the 4.3 ms of CPU per endorsement of the whole platform (measured,
    # docs/benchmarks.md).
    if mongodb_command_spans():
        PymongoInstrumentor().instrument()
    if plan.metrics:
        # After the tracing instrumentor, so the metrics interceptor ends up inside
        # the server span (see _instrument_rpc_metrics).
        _instrument_rpc_metrics()
    return telemetry


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


MONGODB_COMMAND_SPANS_VARIABLE = "QUORUM_MONGODB_COMMAND_SPANS"


def mongodb_command_spans(env: Mapping[str, str] | None = None) -> bool:
    """Whether every MongoDB command gets a span (the pymongo instrumentation)."""
    raw = (os.environ if env is None else env).get(MONGODB_COMMAND_SPANS_VARIABLE, "")
    if raw.lower() in ("", "0", "false", "no"):
        return False
    if raw.lower() in ("1", "true", "yes"):
        return True
    raise StartupError(f"{MONGODB_COMMAND_SPANS_VARIABLE}: must be true or false")


# Calls that only read, by method name, are traced at this ratio (see traced_calls).
READ_TRACES_RATIO_VARIABLE = "QUORUM_READ_TRACES_RATIO"
READ_TRACES_RATIO_DEFAULT = 0.01
_READS = ("Get", "List", "Find", "Watch", "WhoAmI")
_PLUMBING = ("/grpc.health.v1.", "/grpc.reflection.")


def is_read(method: str) -> bool:
    """'/quorum.gateway.v1.IdeasService/GetIdea' (a gRPC method, or its span) is a read."""
    return method.rpartition("/")[2].startswith(_READS)


def read_traces_ratio(env: Mapping[str, str] | None = None) -> float:
    raw = (os.environ if env is None else env).get(READ_TRACES_RATIO_VARIABLE, "")
    if not raw:
        return READ_TRACES_RATIO_DEFAULT
    try:
        ratio = float(raw)
    except ValueError:
        ratio = -1.0
    if not 0.0 <= ratio <= 1.0:
        raise StartupError(f"{READ_TRACES_RATIO_VARIABLE}: must be a number from 0 to 1")
    return ratio


def traced_calls(read_ratio: float) -> Callable[[grpc.HandlerCallDetails], bool]:
    """Which incoming calls get a server span: every write, a sample of reads, no plumbing.

    Reads (GetIdea, List..., WatchEvents) come by the thousand a second and each trace
    says little on its own; building even a span that is not recorded costs about a
    third of what serving a cached GetIdea does, so the choice is made here, before the
    instrumentation does anything: a read is traced when its caller's trace is (the
    sampled flag of its traceparent), else at `read_ratio`. Every call is still counted
    and timed in rpc.server.call.duration. Writes, and everything that follows them
    through Kafka, are always traced.
    """

    def traced(details: grpc.HandlerCallDetails) -> bool:
        method = details.method
        if method.startswith(_PLUMBING):
            return False
        if method.rpartition("/")[2].startswith("Watch"):
            # A watch lasts minutes to days: its span would say nothing, and when the
            # client ends it the instrumentation detaches its context from another
            # task (an ERROR with a traceback). The events it carries are traced.
            return False
        if not is_read(method):
            return True
        for key, value in details.invocation_metadata or ():
            if key == "traceparent":
                return isinstance(value, str) and value.endswith("-01")
        return random.random() < read_ratio

    return traced


def _sampler() -> Any:
    from opentelemetry.sdk.trace.sampling import (
        ALWAYS_ON,
        Decision,
        ParentBased,
        Sampler,
        SamplingResult,
    )

    class SkipOrphanClientSpans(Sampler):
        """Keep every trace except those rooted in a client call.

        A database or RPC call made outside any request or event (the outbox sweep
        every second, the validation service's re-evaluation sweep, index creation)
        would otherwise be a one-span trace every few seconds per process. Calls made
        while serving a request or an event have a parent and are always kept.
        """

        def should_sample(
            self,
            parent_context: otel_context.Context | None,
            trace_id: int,
            name: str,
            kind: SpanKind | None = None,
            attributes: Any = None,
            links: Sequence[trace.Link] | None = None,
            trace_state: trace.TraceState | None = None,
        ) -> SamplingResult:
            if kind is SpanKind.CLIENT:
                return SamplingResult(Decision.DROP)
            return ALWAYS_ON.should_sample(
                parent_context, trace_id, name, kind, attributes, links, trace_state
            )

        def get_description(self) -> str:
            return "SkipOrphanClientSpans"

    return ParentBased(root=SkipOrphanClientSpans())


# --------------------------------------------------------------------------- metrics

_meter = metrics.get_meter("quorum_common")
# Boundaries the semantic conventions recommend for durations in seconds.
_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]

RPC_DURATION = "rpc.server.call.duration"
PROCESS_DURATION = "messaging.process.duration"
CONSUMER_LAG = "quorum.consumer.lag"
OUTBOX_BACKLOG = "quorum.outbox.backlog"
DELIVERIES = "quorum.notifications.deliveries"
DELIVERY_DURATION = "quorum.notifications.delivery.duration"

_rpc_duration = _meter.create_histogram(
    RPC_DURATION,
    unit="s",
    description="Duration of each incoming gRPC call, by method and status code",
    explicit_bucket_boundaries_advisory=_SECONDS,
)
_process_duration = _meter.create_histogram(
    PROCESS_DURATION,
    unit="s",
    description="Time a consumer spent on one event (decode, transaction, dead-lettering)",
    explicit_bucket_boundaries_advisory=_SECONDS,
)
_deliveries = _meter.create_counter(
    DELIVERIES,
    unit="{delivery}",
    description="Notification delivery attempts, by channel and outcome",
)
_delivery_duration = _meter.create_histogram(
    DELIVERY_DURATION,
    unit="s",
    description="Duration of one notification delivery attempt",
    explicit_bucket_boundaries_advisory=_SECONDS,
)


def record_delivery(
    *, channel: str, outcome: str, event_type: str = "", seconds: float | None = None
) -> None:
    """Count one delivery attempt of the notifications service.

    channel: "webhook" or "email"; outcome: "delivered", "failed" (will be retried),
    "dead_lettered" (retries exhausted) or "skipped"; event_type: e.g. "StageAdvanced".
    Exported as `quorum.notifications.deliveries` (and `.delivery.duration` when
    `seconds` is given).
    """
    attributes = {
        "quorum.delivery.channel": channel,
        "quorum.delivery.outcome": outcome,
        "quorum.event.type": event_type,
    }
    _deliveries.add(1, attributes)
    if seconds is not None:
        _delivery_duration.record(seconds, attributes)


class _Gauges:
    """Values observed by the metric reader's thread, written by the event loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lag: dict[tuple[str, str, int], int] = {}
        self._backlogs: dict[int, tuple[asyncio.AbstractEventLoop, Any, dict[str, str]]] = {}

    def set_lag(self, group: str, topic: str, partition: int, lag: int) -> None:
        with self._lock:
            self._lag[(group, topic, partition)] = lag

    def observe_lag(self, _: CallbackOptions) -> Iterable[Observation]:
        with self._lock:
            values = list(self._lag.items())
        return [
            Observation(
                lag,
                {
                    "messaging.system": "kafka",
                    "messaging.consumer.group.name": group,
                    "messaging.destination.name": topic,
                    "messaging.destination.partition.id": str(partition),
                },
            )
            for (group, topic, partition), lag in values
        ]

    def add_backlog(
        self, count: Callable[[], Awaitable[int]], attributes: dict[str, str]
    ) -> Callable[[], None]:
        key = id(count)
        with self._lock:
            self._backlogs[key] = (asyncio.get_running_loop(), count, attributes)

        def remove() -> None:
            with self._lock:
                self._backlogs.pop(key, None)

        return remove

    def observe_backlog(self, options: CallbackOptions) -> Iterable[Observation]:
        with self._lock:
            backlogs = list(self._backlogs.values())
        observations = []
        for loop, count, attributes in backlogs:
            # Counting needs the loop that owns the MongoDB client; the reader runs in
            # its own thread, so it asks that loop and waits a little. A loop that is
            # gone (shutdown) or is this very thread (a flush from inside) is skipped.
            if loop.is_closed() or not loop.is_running() or _running_loop() is loop:
                continue
            future = asyncio.run_coroutine_threadsafe(count(), loop)
            try:
                value = future.result(timeout=min(2.0, options.timeout_millis / 1000))
            except Exception:
                future.cancel()
                continue
            observations.append(Observation(value, attributes))
        return observations


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


_gauges = _Gauges()
_meter.create_observable_gauge(
    CONSUMER_LAG,
    callbacks=[_gauges.observe_lag],
    unit="{message}",
    description="Records behind the partition's high watermark after the last processed one",
)
_meter.create_observable_gauge(
    OUTBOX_BACKLOG,
    callbacks=[_gauges.observe_backlog],
    unit="{entry}",
    description="Outbox entries written but not yet published to Kafka",
)


def observe_outbox_backlog(
    database: str, pending_count: Callable[[], Awaitable[int]]
) -> Callable[[], None]:
    """Report `pending_count()` as quorum.outbox.backlog; call from the owning loop.

    Returns the function that stops reporting it.
    """
    return _gauges.add_backlog(pending_count, {"db.namespace": database})


# ------------------------------------------------------------- Kafka trace context


@contextmanager
def client_call(method: str) -> Iterator[tuple[tuple[str, str], ...] | None]:
    """The CLIENT span of an outgoing gRPC call, and the metadata that carries it.

    Yields None (no span, no metadata) when nothing is being traced. The OpenTelemetry
    client instrumentation does the same through a grpc.aio client interceptor, whose
    machinery cost the gateway more per call than the call's own work (measured); the
    one place that calls other services (the gateway's backends) uses this instead.
    `method` is the full name, "/quorum.ideas.v1.IdeasService/EndorseIdea".
    """
    parent = trace.get_current_span()
    if not parent.is_recording():
        yield None
        return
    service, _, name = method.lstrip("/").rpartition("/")
    span = _tracer.start_span(
        method,
        kind=SpanKind.CLIENT,
        attributes={"rpc.system": "grpc", "rpc.service": service, "rpc.method": name},
    )
    carrier: dict[str, str] = {}
    propagate.inject(carrier, context=trace.set_span_in_context(span))
    try:
        yield tuple(carrier.items())
    except grpc.aio.AioRpcError as error:
        code = error.code()
        span.set_attribute("rpc.grpc.status_code", code.value[0])
        span.set_status(Status(StatusCode.ERROR, code.name))
        raise
    except BaseException as error:
        span.record_exception(error)
        span.set_status(Status(StatusCode.ERROR, type(error).__name__))
        raise
    else:
        span.set_attribute("rpc.grpc.status_code", 0)
    finally:
        span.end()


@contextmanager
def transaction_span(database: str) -> Iterator[Span | None]:
    """The CLIENT span of one MongoDB transaction, from its start to its commit.

    What a trace shows of the database by default: which transactions a request or an
    event took, how long each, how many attempts (write conflicts retry it). None when
    nothing is being traced.
    """
    if not trace.get_current_span().is_recording():
        yield None
        return
    with _tracer.start_as_current_span(
        f"{database} transaction" if database else "transaction",
        kind=SpanKind.CLIENT,
        attributes={
            "db.system.name": "mongodb",
            "db.namespace": database,
            "db.operation.name": "transaction",
        },
    ) as span:
        yield span


def current_context() -> otel_context.Context:
    return otel_context.get_current()


@contextmanager
def within(context: otel_context.Context) -> Iterator[None]:
    """Make `context` (captured in another task) the current one for the block."""
    token = otel_context.attach(context)
    try:
        yield
    finally:
        otel_context.detach(token)


def current_trace_context() -> dict[str, str]:
    """The current span's W3C trace context (traceparent, tracestate, baggage).

    Stored with work that continues later in another task or process; empty when
    there is no span.
    """
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


_tracer = trace.get_tracer("quorum_common")


def start_send_span(
    topic: str, parent: Mapping[str, str], *, key: str, event_id: str, event_type: str
) -> tuple[Span, dict[str, str]]:
    """A PRODUCER span, child of the stored `parent` context, and the headers carrying it.

    The caller ends the span once the broker has acknowledged the record.
    """
    parent_context = propagate.extract(parent)
    span = _tracer.start_span(
        f"send {topic}",
        context=parent_context,
        kind=SpanKind.PRODUCER,
        attributes={
            "messaging.system": "kafka",
            "messaging.operation.type": "send",
            "messaging.operation.name": "send",
            "messaging.destination.name": topic,
            "messaging.kafka.message.key": key,
            "messaging.message.id": event_id,
            "quorum.event.type": event_type,
        },
    )
    headers: dict[str, str] = {}
    propagate.inject(headers, context=trace.set_span_in_context(span, parent_context))
    return span, headers


def end_with_error(span: Span, error: BaseException) -> None:
    span.record_exception(error)
    span.set_status(Status(StatusCode.ERROR, type(error).__name__))
    span.end()


@dataclass
class Processing:
    """The CONSUMER span of one record, child of the producer's context in its headers.

    `context` carries this span for the events the record causes; `end` records
    messaging.process.duration with the outcome.
    """

    span: Span
    context: dict[str, str]
    group: str
    topic: str
    started: float

    def describe(self, *, event_id: str, event_type: str, tenant_id: str) -> None:
        self.span.set_attributes(
            {
                "messaging.message.id": event_id,
                "quorum.event.type": event_type,
                "quorum.tenant.id": tenant_id,
            }
        )

    def end(
        self, outcome: str, error: BaseException | None = None, record_error: bool = True
    ) -> None:
        self.span.set_attribute("quorum.outcome", outcome)
        attributes = {
            "messaging.system": "kafka",
            "messaging.consumer.group.name": self.group,
            "messaging.destination.name": self.topic,
            "quorum.outcome": outcome,
        }
        if error is not None:
            attributes["error.type"] = type(error).__name__
            if record_error:
                self.span.record_exception(error)
            self.span.set_status(Status(StatusCode.ERROR, type(error).__name__))
        self.span.end()
        _process_duration.record(time.perf_counter() - self.started, attributes)


def start_processing(
    *,
    group: str,
    topic: str,
    partition: int,
    offset: int,
    headers: Mapping[str, str],
) -> Processing:
    """Start the CONSUMER span of one record; the caller ends it (`Processing.end`)."""
    started = time.perf_counter()
    parent = propagate.extract(headers)
    span = _tracer.start_span(
        f"process {topic}",
        context=parent,
        kind=SpanKind.CONSUMER,
        attributes={
            "messaging.system": "kafka",
            "messaging.operation.type": "process",
            "messaging.operation.name": "process",
            "messaging.destination.name": topic,
            "messaging.consumer.group.name": group,
            "messaging.destination.partition.id": str(partition),
            "messaging.kafka.offset": offset,
        },
    )
    context: dict[str, str] = {}
    if span.get_span_context().is_valid:
        propagate.inject(context, context=trace.set_span_in_context(span, parent))
    return Processing(span, context, group, topic, started)


def record_consumer_lag(group: str, topic: str, partition: int, lag: int) -> None:
    _gauges.set_lag(group, topic, partition, max(0, lag))


# ------------------------------------------------------------------ gRPC metrics


def _code_name(code: Any) -> str:
    if isinstance(code, grpc.StatusCode):
        return code.name
    return "UNKNOWN" if code is None else str(code)


class RpcMetricsInterceptor(WrappingInterceptor):
    """rpc.server.call.duration per method and status code (the count is its count).

    The OpenTelemetry gRPC instrumentation records spans only, no metrics.
    """

    def wrap(
        self, full_method: str, handler: grpc.RpcMethodHandler[Any, Any]
    ) -> grpc.RpcMethodHandler[Any, Any]:
        method = full_method.lstrip("/")
        if method.startswith(("grpc.health.", "grpc.reflection.")):
            return handler
        base = {"rpc.system.name": "grpc", "rpc.method": method}

        def record(started: float, code: str) -> None:
            _rpc_duration.record(
                time.perf_counter() - started, {**base, "rpc.response.status_code": code}
            )

        def final_code(context: grpc.aio.ServicerContext[Any, Any], error: Any) -> str:
            if isinstance(error, asyncio.CancelledError):
                return "CANCELLED"
            code = context.code()
            if error is not None and code in (None, grpc.StatusCode.OK):
                return "UNKNOWN"
            return "OK" if code is None else _code_name(code)

        if handler.unary_unary is not None:
            inner: Any = handler.unary_unary

            async def unary_unary(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
                started, error = time.perf_counter(), None
                try:
                    return await inner(request, context)
                except BaseException as caught:
                    error = caught
                    raise
                finally:
                    record(started, final_code(context, error))

            return grpc.unary_unary_rpc_method_handler(
                unary_unary,
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            inner_stream: Any = handler.unary_stream

            async def unary_stream(
                request: Any, context: grpc.aio.ServicerContext[Any, Any]
            ) -> AsyncIterator[Any]:
                started, error = time.perf_counter(), None
                try:
                    async for item in inner_stream(request, context):
                        yield item
                except BaseException as caught:
                    error = caught
                    raise
                finally:
                    record(started, final_code(context, error))

            return grpc.unary_stream_rpc_method_handler(
                unary_stream,
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler


_rpc_metrics_installed = False


def _instrument_rpc_metrics() -> None:
    """Add RpcMetricsInterceptor to every grpc.aio server created from now on.

    The same technique as the OpenTelemetry gRPC instrumentor (wrap grpc.aio.server),
    so no service has to change; it goes right after the tracing interceptor, so the
    recorded duration belongs to the server span.
    """
    global _rpc_metrics_installed
    if _rpc_metrics_installed:
        return
    _rpc_metrics_installed = True
    original = grpc.aio.server

    def server(*args: Any, **kwargs: Any) -> grpc.aio.Server:
        kwargs["interceptors"] = [RpcMetricsInterceptor(), *(kwargs.get("interceptors") or ())]
        return original(*args, **kwargs)

    grpc.aio.server = server

"""Traces: which calls and events are traced, and the spans Quorum makes itself.

Head sampling, decided once where a trace starts and carried with it: a write or an
event starts a trace at QUORUM_WRITE_TRACES_RATIO, a read at QUORUM_READ_TRACES_RATIO,
and a call whose `traceparent` says sampled (or not) is traced (or not) all the way
through the gateway, the services, the outbox and Kafka. A trace not sampled costs
no span anywhere: only its context travels, so every process makes the same choice.

A process whose spans go nowhere (no exporter configured: `export_spans` is told by
observability.configure_telemetry) makes none and carries no trace context at all:
no span, no context per call, outbox row or record. Building and dropping them cost
a fifth or more of the platform's CPU per endorsement (docs/benchmarks.md). So every
service of one deployment gets the same OTEL_* settings (deploy/ gives them).

Kafka's spans are in `record_spans`.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import grpc
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from quorum_common.errors import StartupError
from quorum_common.interceptors import Continuation, Handler, WrappingInterceptor, replaced

MONGODB_COMMAND_SPANS_VARIABLE = "QUORUM_MONGODB_COMMAND_SPANS"


@dataclass
class _Export:
    spans: bool = False


_export = _Export()


def export_spans(on: bool) -> None:
    """Whether this process's spans go to an exporter (see the module); off by default."""
    _export.spans = on


def exporting_spans() -> bool:
    return _export.spans


def mongodb_command_spans(env: Mapping[str, str] | None = None) -> bool:
    """Whether every MongoDB command gets a span (the pymongo instrumentation)."""
    raw = (os.environ if env is None else env).get(MONGODB_COMMAND_SPANS_VARIABLE, "")
    if raw.lower() in ("", "0", "false", "no"):
        return False
    if raw.lower() in ("1", "true", "yes"):
        return True
    raise StartupError(f"{MONGODB_COMMAND_SPANS_VARIABLE}: must be true or false")


# Where a trace starts, it is kept at one of these ratios (see traced_calls, _sampler).
READ_TRACES_RATIO_VARIABLE = "QUORUM_READ_TRACES_RATIO"
READ_TRACES_RATIO_DEFAULT = 0.01
WRITE_TRACES_RATIO_VARIABLE = "QUORUM_WRITE_TRACES_RATIO"
WRITE_TRACES_RATIO_DEFAULT = 0.1
_READS = ("Get", "List", "Find", "Watch", "WhoAmI")
_PLUMBING = ("/grpc.health.v1.", "/grpc.reflection.")


def is_read(method: str) -> bool:
    """'/quorum.gateway.v1.IdeasService/GetIdea' (a gRPC method, or its span) is a read."""
    return method.rpartition("/")[2].startswith(_READS)


def _ratio(variable: str, default: float, env: Mapping[str, str] | None) -> float:
    raw = (os.environ if env is None else env).get(variable, "")
    if not raw:
        return default
    try:
        ratio = float(raw)
    except ValueError:
        ratio = -1.0
    if not 0.0 <= ratio <= 1.0:
        raise StartupError(f"{variable}: must be a number from 0 to 1")
    return ratio


def read_traces_ratio(env: Mapping[str, str] | None = None) -> float:
    return _ratio(READ_TRACES_RATIO_VARIABLE, READ_TRACES_RATIO_DEFAULT, env)


def write_traces_ratio(env: Mapping[str, str] | None = None) -> float:
    return _ratio(WRITE_TRACES_RATIO_VARIABLE, WRITE_TRACES_RATIO_DEFAULT, env)


def _caller_sampled(details: grpc.HandlerCallDetails) -> bool | None:
    """The sampled flag of the call's traceparent; None when it has none."""
    for key, value in details.invocation_metadata or ():
        if key == "traceparent":
            return isinstance(value, str) and sampled_flag(value)
    return None


def sampled_flag(traceparent: str) -> bool:
    """Whether a W3C traceparent says its trace is sampled."""
    # The flags are the last two hex digits; bit 0 is "sampled" (the SDK also sets
    # bit 1, "random", so "-03" is as sampled as "-01").
    try:
        return bool(int(traceparent[-2:], 16) & 1)
    except ValueError:
        return False


def traced_calls(
    read_ratio: float, write_ratio: float = 1.0
) -> Callable[[grpc.HandlerCallDetails], bool]:
    """Which incoming calls get a server span: a sample of calls, no plumbing.

    A call is traced when its caller's trace is (the sampled flag of its traceparent),
    else at `read_ratio` for reads and `write_ratio` for writes. The choice is made
    here, before the instrumentation does anything: building even a span that is not
    recorded costs about a third of what serving a cached GetIdea does, and tracing
    every write cost about a fifth of the platform's CPU per endorsement (measured,
    docs/benchmarks.md). A write not traced still carries a context saying so
    (TracingInterceptor), so the services and consumers after it trace nothing
    either. Every call is still counted and timed in rpc.server.call.duration.
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
        sampled = _caller_sampled(details)
        if sampled is not None:
            return sampled
        return random.random() < (read_ratio if is_read(method) else write_ratio)

    return traced


class TracingInterceptor(WrappingInterceptor):
    """Every incoming call's tracing, decided once, in one interceptor.

    A call `traced` picks gets its server span from the OpenTelemetry instrumentation's
    interceptor (`instrumentation`). A write it does not pick still runs in a trace
    context, one that says "not sampled" (the caller's, from its traceparent, or a new
    one), so the calls, outbox entries and Kafka records the write causes carry that
    choice on and nothing after it starts a trace of its own. Reads not picked stay
    without a context: they cause nothing downstream worth the few microseconds.
    """

    def __init__(
        self,
        traced: Callable[[grpc.HandlerCallDetails], bool],
        instrumentation: grpc.aio.ServerInterceptor,
    ) -> None:
        super().__init__()
        self._traced = traced
        self._instrumentation = instrumentation

    async def intercept_service(
        self, continuation: Continuation, handler_call_details: grpc.HandlerCallDetails
    ) -> Handler | None:
        if self._traced(handler_call_details):
            return await self._instrumentation.intercept_service(continuation, handler_call_details)
        return await super().intercept_service(continuation, handler_call_details)

    def wrap(
        self, method: str, handler: grpc.RpcMethodHandler[Any, Any]
    ) -> grpc.RpcMethodHandler[Any, Any]:
        if handler.unary_unary is None or is_read(method) or method.startswith(_PLUMBING):
            return handler
        return _in_unsampled_context(handler)


def _in_unsampled_context(
    handler: grpc.RpcMethodHandler[Any, Any],
) -> grpc.RpcMethodHandler[Any, Any]:
    inner: Any = handler.unary_unary

    async def unary_unary(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        token = otel_context.attach(_unsampled_context(context.invocation_metadata()))
        try:
            return await inner(request, context)
        finally:
            otel_context.detach(token)

    return replaced(handler, unary_unary=unary_unary)


def _unsampled_context(metadata: Any) -> otel_context.Context:
    carrier = {k: v for k, v in metadata or () if k in ("traceparent", "tracestate")}
    if "traceparent" in carrier:
        return propagate.extract(carrier)
    span_context = trace.SpanContext(
        trace_id=random.getrandbits(128) or 1,
        span_id=random.getrandbits(64) or 1,
        is_remote=False,
        trace_flags=trace.TraceFlags(trace.TraceFlags.DEFAULT),
    )
    return trace.set_span_in_context(trace.NonRecordingSpan(span_context))


def root_sampler(root_ratio: float) -> Any:
    from opentelemetry.sdk.trace.sampling import (
        ALWAYS_ON,
        Decision,
        ParentBased,
        Sampler,
        SamplingResult,
        TraceIdRatioBased,
    )

    by_ratio = TraceIdRatioBased(root_ratio)

    class Roots(Sampler):
        """Where a trace starts without a parent.

        A gRPC server span was already chosen by traced_calls: kept. A record consumed
        or published without a stored context (an entry written before tracing, a
        migration) starts a trace at `root_ratio`, as a write would. A database or RPC
        call made outside any request or event (the outbox sweep, the validation
        service's re-evaluation sweep, index creation) is dropped: it would otherwise
        be a one-span trace every few seconds per process.
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
            chooser = ALWAYS_ON if kind is SpanKind.SERVER else by_ratio
            return chooser.should_sample(
                parent_context, trace_id, name, kind, attributes, links, trace_state
            )

        def get_description(self) -> str:
            return f"QuorumRoots({root_ratio})"

    return ParentBased(root=Roots())


def server_interceptors() -> list[grpc.aio.ServerInterceptor]:
    """The tracing interceptors of a Quorum server, outermost first."""
    from opentelemetry.instrumentation.grpc import aio_server_interceptor

    chosen = traced_calls(read_traces_ratio(), write_traces_ratio())
    instrumentation = aio_server_interceptor()  # type: ignore[no-untyped-call]
    return [TracingInterceptor(chosen, instrumentation)]


# ------------------------------------------------------------- spans of outgoing work


@contextmanager
def client_call(method: str) -> Iterator[tuple[tuple[str, str], ...] | None]:
    """The CLIENT span of an outgoing gRPC call, and the metadata that carries it.

    Yields None (no span, no metadata) outside any trace, and only the metadata (no
    span) inside a trace that is not sampled. The OpenTelemetry
    client instrumentation does the same through a grpc.aio client interceptor, whose
    machinery cost the gateway more per call than the call's own work (measured); the
    one place that calls other services (the gateway's backends) uses this instead.
    `method` is the full name, "/quorum.ideas.v1.IdeasService/EndorseIdea".
    """
    if not _export.spans:
        yield None
        return
    parent = trace.get_current_span()
    if not parent.is_recording():
        if not parent.get_span_context().is_valid:
            yield None
            return
        # A trace not sampled: no span, but the callee must know not to start one.
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        yield tuple(carrier.items())
        return
    service, _, name = method.lstrip("/").rpartition("/")
    span = _tracer.start_span(
        method,
        kind=SpanKind.CLIENT,
        attributes={"rpc.system": "grpc", "rpc.service": service, "rpc.method": name},
    )
    carrier = {}
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
    if not _export.spans:
        return {}
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


_tracer = trace.get_tracer("quorum_common")

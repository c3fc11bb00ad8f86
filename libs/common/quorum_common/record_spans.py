"""Trace context through Kafka: the PRODUCER span of a published record, the CONSUMER
span of a processed one.

Kafka has no instrumentation here on purpose: the outbox stores the writer's trace
context with each entry and the relay publishes it (`start_send_span`), the consumer
continues it (`start_processing`). An auto-instrumented producer would only see the
relay's background task, never the request that caused the event. A process whose
spans go nowhere (`tracing.exporting_spans`) makes none of these and carries no context.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from quorum_common import meters
from quorum_common.meters import record_process_duration
from quorum_common.tracing import exporting_spans, sampled_flag

_tracer = trace.get_tracer("quorum_common")


def _not_sampled(carrier: Mapping[str, str]) -> dict[str, str] | None:
    """The trace context in `carrier` when its trace is not sampled (else None).

    Such a trace gets no span, here or anywhere after: what it causes carries this
    context on as it came, so nothing downstream starts a trace of its own either.
    """
    traceparent = carrier.get("traceparent", "")
    if not traceparent or sampled_flag(traceparent):
        return None
    return {k: v for k, v in carrier.items() if k in ("traceparent", "tracestate")}


def start_send_span(
    topic: str, parent: Mapping[str, str], *, key: str, event_id: str, event_type: str
) -> tuple[Span, dict[str, str]]:
    """A PRODUCER span, child of the stored `parent` context, and the headers carrying it.

    The caller ends the span once the broker has acknowledged the record.
    """
    if not exporting_spans():
        return trace.INVALID_SPAN, {}
    unsampled = _not_sampled(parent)
    if unsampled is not None:
        return trace.INVALID_SPAN, unsampled
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

    @contextmanager
    def current(self) -> Iterator[None]:
        """This record's span (or, not sampled, its context) is the current one."""
        if not self.context:
            yield  # nothing traced: no context to make current
            return
        if self.span.get_span_context().is_valid:
            with trace.use_span(self.span, end_on_exit=False):
                yield
            return
        token = otel_context.attach(propagate.extract(self.context))
        try:
            yield
        finally:
            otel_context.detach(token)

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
        if not self.context and not meters.exported:
            return  # neither a span nor a duration goes anywhere
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
        record_process_duration(time.perf_counter() - self.started, attributes)


def start_processing(
    *,
    group: str,
    topic: str,
    partition: int,
    offset: int,
    record_headers: Sequence[tuple[str, bytes]],
) -> Processing:
    """Start the CONSUMER span of one record (its headers as Kafka gives them); the
    caller ends it (`Processing.end`)."""
    started = time.perf_counter()
    if not exporting_spans():
        return Processing(trace.INVALID_SPAN, {}, group, topic, started)
    headers = {k: v.decode(errors="replace") for k, v in record_headers}
    unsampled = _not_sampled(headers)
    if unsampled is not None:
        return Processing(trace.INVALID_SPAN, unsampled, group, topic, started)
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

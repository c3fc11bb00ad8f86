"""Trace context through Kafka records, with and without spans that go somewhere."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import trace

from quorum_common import tracing
from quorum_common.record_spans import Processing, start_processing, start_send_span

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
SAMPLED = f"00-{TRACE_ID}-00f067aa0ba902b7-01"
NOT_SAMPLED = f"00-{TRACE_ID}-00f067aa0ba902b7-00"


@pytest.fixture
def exporting() -> Iterator[None]:
    tracing.export_spans(True)
    try:
        yield
    finally:
        tracing.export_spans(False)


def _processing(traceparent: str) -> Processing:
    return start_processing(
        group="g",
        topic="quorum.ideas.v1",
        partition=0,
        offset=7,
        record_headers=[("traceparent", traceparent.encode())],
    )


def test_a_process_whose_spans_go_nowhere_makes_none_and_carries_no_context() -> None:
    assert not tracing.exporting_spans()
    span, headers = start_send_span(
        "quorum.ideas.v1", {"traceparent": SAMPLED}, key="idea", event_id="e", event_type="x"
    )
    assert span is trace.INVALID_SPAN
    assert headers == {}
    assert tracing.current_trace_context() == {}
    processing = _processing(SAMPLED)
    assert processing.context == {}
    with processing.current():
        assert not trace.get_current_span().get_span_context().is_valid
    processing.end("applied")


def test_an_exporting_process_continues_the_trace_a_record_carries(exporting: None) -> None:
    processing = _processing(SAMPLED)
    assert TRACE_ID in processing.context["traceparent"]
    with processing.current():
        context = trace.get_current_span().get_span_context()
        assert f"{context.trace_id:032x}" == TRACE_ID
    processing.end("applied")


def test_an_exporting_process_carries_a_trace_not_sampled_on_as_it_came(exporting: None) -> None:
    span, headers = start_send_span(
        "quorum.ideas.v1", {"traceparent": NOT_SAMPLED}, key="idea", event_id="e", event_type="x"
    )
    assert span is trace.INVALID_SPAN
    assert headers == {"traceparent": NOT_SAMPLED}
    assert _processing(NOT_SAMPLED).context == {"traceparent": NOT_SAMPLED}

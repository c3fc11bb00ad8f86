"""Quorum's metrics: the instruments every service records, and what feeds them.

Exported only when an OTLP endpoint (or the console) is configured for metrics
(`observability.configure_telemetry`); otherwise the global meter is a no-op and
recording costs next to nothing.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterable
from typing import Any

import grpc
from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

from quorum_common.interceptors import WrappingInterceptor, replaced

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
        # Per outbox database: its owed entries when its relay last counted them.
        self._backlogs: dict[str, int] = {}

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

    def set_backlog(self, database: str, entries: int | None) -> None:
        with self._lock:
            if entries is None:
                self._backlogs.pop(database, None)
            else:
                self._backlogs[database] = entries

    def observe_backlog(self, _: CallbackOptions) -> Iterable[Observation]:
        with self._lock:
            backlogs = list(self._backlogs.items())
        return [Observation(n, {"db.namespace": database}) for database, n in backlogs]


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


# Whether metrics leave the process (observability.configure_telemetry says so); what is
# only worth measuring for an exported metric (a count in MongoDB) is skipped otherwise.
exported = False


def set_outbox_backlog(database: str, entries: int | None) -> None:
    """quorum.outbox.backlog of `database` is now `entries` (None: no longer reported).

    The relay counts its owed entries itself, on its own loop; the metric reader's
    thread only reads the number.
    """
    _gauges.set_backlog(database, entries)


def record_process_duration(seconds: float, attributes: dict[str, str]) -> None:
    _process_duration.record(seconds, attributes)


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

        inner: Any = handler.unary_unary
        inner_stream: Any = handler.unary_stream

        async def unary_unary(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            started, error = time.perf_counter(), None
            try:
                return await inner(request, context)
            except BaseException as caught:
                error = caught
                raise
            finally:
                record(started, final_code(context, error))

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

        return replaced(handler, unary_unary=unary_unary, unary_stream=unary_stream)

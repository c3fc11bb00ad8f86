"""The OTEL_* rules, without processes: what gets exported, and bad values caught early."""

from __future__ import annotations

import pytest

from quorum_common.errors import StartupError
from quorum_common.telemetry_plan import telemetry_plan


def test_nothing_is_exported_without_an_endpoint() -> None:
    plan = telemetry_plan({})
    assert (plan.traces, plan.metrics) == ((), ())
    assert plan.describe() == "traces not exported; metrics not exported"


def test_the_standard_variables_choose_exporters_per_signal() -> None:
    plan = telemetry_plan(
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317",
            "OTEL_METRICS_EXPORTER": "none",
        }
    )
    assert (plan.traces, plan.metrics) == (("otlp",), ())
    only_metrics = telemetry_plan({"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "https://metrics:4317"})
    assert (only_metrics.traces, only_metrics.metrics) == ((), ("otlp",))
    per_signal = telemetry_plan(
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "grpc",
        }
    )
    assert (per_signal.traces_protocol, per_signal.metrics_protocol) == ("http/protobuf", "grpc")
    console = telemetry_plan({"OTEL_TRACES_EXPORTER": "console"})
    assert console.traces == ("console",)
    assert telemetry_plan({"OTEL_SDK_DISABLED": "true"}).disabled


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4317"}, "OTEL_EXPORTER_OTLP_ENDPOINT"),
        ({"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, "OTEL_EXPORTER_OTLP_PROTOCOL"),
        ({"OTEL_TRACES_EXPORTER": "zipkin"}, "OTEL_TRACES_EXPORTER"),
    ],
)
def test_a_bad_value_names_its_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(StartupError, match=f"^{variable}: "):
        telemetry_plan(env)

"""What the standard OTEL_* variables ask of telemetry: read without side effects.

`telemetry_plan()` names a bad variable (StartupError) before anything is set up;
`observability.configure_telemetry` then builds what the plan says.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from quorum_common.errors import StartupError

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

"""What one bench run does: its sections, their sizes (full and smoke), its servers, its names."""

from __future__ import annotations

from dataclasses import dataclass, field

SECTIONS = (
    "reference", "pipeline", "hot_idea", "latency", "gateway", "growth", "gate_scaling", "memory",
    "cli", "unit_costs",
)  # fmt: skip
# The sections that need Quorum's four services running.
PLATFORM_SECTIONS = {"pipeline", "hot_idea", "latency", "gateway", "growth", "memory", "cli"}
# The sections repeated, interleaved, in every repetition (the reference among them).
ROUNDS = ("reference", "pipeline", "hot_idea", "latency")


@dataclass(frozen=True)
class Config:
    repetitions: int
    # pipeline: closed loop, each client on its own ideas
    clients: int
    pipeline_seconds: float
    ideas_per_client: int
    # hot idea: closed loop, every client on one idea
    hot_clients: int
    hot_seconds: float
    # latency: open loop at each load, each endorsement opening a gate
    latency_loads: tuple[float, ...]
    latency_seconds: float
    # A light load runs longer than latency_seconds, so its percentiles rest on this many.
    latency_min_samples: int
    # the reference pipeline (its closed loop has `clients` clients, as the pipeline)
    reference_seconds: float
    reference_rate: float
    reference_rate_seconds: float
    # growth: one idea at each size, `growth_samples` endorsements measured at each
    growth_sizes: tuple[int, ...]
    growth_samples: int
    growth_clients: int
    # How long the pipeline may take to consume one step of growth before the section stops.
    growth_drain_timeout: float
    gateway_concurrency: int
    gateway_seconds: float
    gate_sizes: tuple[int, ...]
    gate_repetitions: int
    drain_timeout: float
    idle_seconds: float
    # unit costs: MongoDB calls priced, and seconds of gRPC round trips
    unit_mongo_calls: int
    unit_grpc_seconds: float


FULL = Config(
    repetitions=3,
    clients=32,
    pipeline_seconds=10.0,
    ideas_per_client=4,
    hot_clients=16,
    hot_seconds=10.0,
    latency_loads=(10.0, 25.0, 50.0, 100.0, 200.0),
    latency_seconds=3.0,
    latency_min_samples=40,
    reference_seconds=10.0,
    reference_rate=200.0,
    reference_rate_seconds=5.0,
    growth_sizes=(10, 1_000, 10_000, 50_000),
    growth_samples=40,
    growth_clients=32,
    growth_drain_timeout=600.0,
    gateway_concurrency=32,
    gateway_seconds=4.0,
    gate_sizes=(10, 100, 1_000, 10_000),
    gate_repetitions=9,
    drain_timeout=120.0,
    idle_seconds=10.0,
    unit_mongo_calls=800,
    unit_grpc_seconds=4.0,
)
# Seconds, not minutes: proves every section still runs (make test), measures nothing.
SMOKE = Config(
    repetitions=1,
    clients=4,
    pipeline_seconds=0.8,
    ideas_per_client=2,
    hot_clients=16,
    hot_seconds=1.0,
    latency_loads=(10.0, 20.0),
    latency_seconds=0.5,
    latency_min_samples=1,
    reference_seconds=1.0,
    reference_rate=20.0,
    reference_rate_seconds=1.0,
    growth_sizes=(10, 100),
    growth_samples=5,
    growth_clients=8,
    growth_drain_timeout=60.0,
    gateway_concurrency=4,
    gateway_seconds=0.4,
    gate_sizes=(10, 100, 1_000, 10_000),
    gate_repetitions=1,
    drain_timeout=30.0,
    idle_seconds=0.5,
    unit_mongo_calls=40,
    unit_grpc_seconds=0.3,
)


@dataclass(frozen=True)
class Servers:
    kafka_bootstrap_servers: str
    mongodb_uri: str
    source: str
    # Their processes when we know them (local servers), for CPU accounting.
    pids: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Names:
    """What this run owns on the shared broker and MongoDB; nobody else uses the tag."""

    tag: str

    @property
    def topic_prefix(self) -> str:
        return f"bench{self.tag}."

    @property
    def database_prefix(self) -> str:
        return f"bench{self.tag}_"

    @property
    def tenant(self) -> str:
        return f"bench-{self.tag}"

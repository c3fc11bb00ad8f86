from __future__ import annotations

from pydantic import Field

from quorum_common.settings import ServiceSettings, listen_host, listen_port, own_database


class IdeasSettings(ServiceSettings):
    ideas_grpc_host: str = listen_host("ideas API")
    ideas_grpc_port: int = listen_port("ideas API", 50061)
    ideas_mongodb_database: str = own_database("quorum_ideas", "The ideas service's own database")
    ideas_group_commit_window_ms: float = Field(
        default=20,
        ge=0,
        le=1000,
        description="Concurrent write calls share one transaction; after a group of several "
        "calls the next starts at least this long after it, so a busy service's groups are "
        "larger (fewer commands per endorsement) for at most this much latency; a quiet "
        "service, or one caller writing call after call, never waits",
    )

from __future__ import annotations

from pydantic import Field

from quorum_common.settings import ServiceSettings


class IdeasSettings(ServiceSettings):
    ideas_grpc_host: str = Field(default="127.0.0.1", description="Address the ideas API binds")
    ideas_grpc_port: int = Field(default=50061, ge=0, le=65535, description="Port of the ideas API")
    ideas_mongodb_database: str = Field(
        default="quorum_ideas", min_length=1, description="The ideas service's own database"
    )
    ideas_group_commit_window_ms: float = Field(
        default=0,
        ge=0,
        le=1000,
        description="Concurrent write calls share one transaction; under load groups also "
        "start at least this long after one another, so they are larger (fewer commands per "
        "endorsement) for at most this much latency; a quiet process never waits",
    )

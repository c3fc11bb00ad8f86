from __future__ import annotations

from pydantic import Field

from quorum_common.settings import ServiceSettings


class NotificationsSettings(ServiceSettings):
    notifications_grpc_host: str = Field(
        default="127.0.0.1", description="Address the notifications API binds"
    )
    notifications_grpc_port: int = Field(
        default=50063, ge=0, le=65535, description="Port of the notifications API"
    )
    notifications_mongodb_database: str = Field(
        default="quorum_notifications",
        min_length=1,
        description="The notifications service's own database",
    )

from __future__ import annotations

from pydantic import Field

from quorum_common.settings import ServiceSettings


class ValidationSettings(ServiceSettings):
    validation_grpc_host: str = Field(
        default="127.0.0.1", description="Address the validation API binds"
    )
    validation_grpc_port: int = Field(
        default=50062, ge=0, le=65535, description="Port of the validation API"
    )
    validation_mongodb_database: str = Field(
        default="quorum_validation",
        min_length=1,
        description="The validation service's own database",
    )

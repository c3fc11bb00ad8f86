from __future__ import annotations

from pydantic import Field

from quorum_common.settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    gateway_grpc_host: str = Field(default="127.0.0.1", description="Address the public API binds")
    gateway_grpc_port: int = Field(
        default=50051, ge=0, le=65535, description="Port of the public API"
    )
    ideas_address: str = Field(
        default="127.0.0.1:50061", description="The ideas service's gRPC address"
    )
    validation_address: str = Field(
        default="127.0.0.1:50062", description="The validation service's gRPC address"
    )
    gateway_default_tenant: str = Field(
        default="default",
        min_length=1,
        description="Tenant for calls without x-quorum-tenant metadata (until API keys land)",
    )
    gateway_backend_timeout_seconds: float = Field(
        default=5.0, gt=0, description="Deadline for each call to a backend service"
    )

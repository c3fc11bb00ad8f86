from __future__ import annotations

from pydantic import Field, SecretStr, ValidationInfo, field_validator

from quorum_common.settings import (
    FernetKeys,
    ServiceSettings,
    listen_host,
    listen_port,
    own_database,
)


class GatewaySettings(ServiceSettings):
    gateway_grpc_host: str = listen_host("public API")
    gateway_grpc_port: int = listen_port("public API", 50051)
    gateway_mongodb_database: str = own_database(
        "quorum_gateway", "The gateway's own database (keys, events)"
    )
    ideas_address: str = Field(
        default="127.0.0.1:50061", description="The ideas service's gRPC address"
    )
    validation_address: str = Field(
        default="127.0.0.1:50062", description="The validation service's gRPC address"
    )
    notifications_address: str = Field(
        default="127.0.0.1:50063", description="The notifications service's gRPC address"
    )
    gateway_backend_timeout_seconds: float = Field(
        default=5.0, gt=0, description="Deadline for each call to a backend service"
    )
    gateway_rate_limit_per_second: float = Field(
        default=100.0, gt=0, description="Calls per second each API key may sustain"
    )
    gateway_rate_limit_burst: int = Field(
        default=200, ge=1, description="Calls an API key may make at once before throttling"
    )
    gateway_key_cache_seconds: float = Field(
        default=5.0, ge=0, description="How long a verified key is trusted before re-reading it"
    )
    gateway_idea_cache_seconds: float = Field(
        default=30.0,
        ge=0,
        description="How long GetIdea may answer from the gateway's memory; any event or "
        "write about the idea ends it at once (0: always ask the backends)",
    )
    gateway_peer_visibility_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        description="How long the directory's answer whether an organization may be named "
        "to other customers is kept; a change through this gateway ends it at once (0: "
        "always ask)",
    )
    gateway_max_message_bytes: int = Field(
        default=1_048_576, ge=1024, description="Largest request message accepted"
    )
    gateway_http_host: str = listen_host("public HTTP/JSON API")
    gateway_http_port: int = listen_port("public HTTP/JSON API", 8080)
    gateway_http_max_body_bytes: int = Field(
        default=1_048_576, ge=1024, description="Largest HTTP request body accepted (413 above)"
    )
    gateway_tls_cert_file: str = Field(
        default="",
        description="Certificate chain (PEM) of the public gRPC and HTTP ports; empty: "
        "plaintext (local runs, or TLS ended in front of the gateway)",
    )
    gateway_tls_key_file: str = Field(
        default="",
        validate_default=True,
        description="Private key (PEM) of GATEWAY_TLS_CERT_FILE",
    )

    @field_validator("gateway_tls_key_file")
    @classmethod
    def _tls_whole(cls, value: str, info: ValidationInfo) -> str:
        if bool(value) != bool(info.data.get("gateway_tls_cert_file")):
            raise ValueError("GATEWAY_TLS_CERT_FILE and GATEWAY_TLS_KEY_FILE go together")
        return value

    gateway_secrets_key: FernetKeys = Field(
        default=SecretStr(""),
        description="Fernet key(s) that encrypt inbound endpoints' signing secrets at rest, "
        "comma separated: the first encrypts, all decrypt; empty: a public development key "
        "(a warning at start)",
    )

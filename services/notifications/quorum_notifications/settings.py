from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator

from quorum_common.settings import (
    FernetKeys,
    ServiceSettings,
    listen_host,
    listen_port,
    own_database,
)


class NotificationsSettings(ServiceSettings):
    notifications_grpc_host: str = listen_host("notifications API")
    notifications_grpc_port: int = listen_port("notifications API", 50063)
    notifications_mongodb_database: str = own_database(
        "quorum_notifications", "The notifications service's own database"
    )
    notifications_smtp_host: str = Field(
        default="127.0.0.1", min_length=1, description="SMTP server that relays the e-mail"
    )
    notifications_smtp_port: int = Field(
        default=25, ge=1, le=65535, description="Port of the SMTP server"
    )
    notifications_smtp_security: Literal["none", "starttls", "tls"] = Field(
        default="none", description="none, starttls (upgrade after connecting) or tls (implicit)"
    )
    notifications_smtp_username: str = Field(
        default="", description="SMTP login; empty: no authentication"
    )
    notifications_smtp_password: SecretStr = Field(
        default=SecretStr(""), description="SMTP password, with the username"
    )
    notifications_smtp_sender: str = Field(
        default="Quorum <notifications@quorum.localhost>",
        min_length=3,
        description="The From address of every e-mail",
    )
    notifications_smtp_timeout_seconds: float = Field(
        default=10.0, gt=0, description="How long one SMTP conversation may take"
    )
    notifications_webhook_timeout_seconds: float = Field(
        default=10.0, gt=0, description="A webhook must answer 2xx within this to succeed"
    )
    notifications_webhook_allow_private_networks: bool = Field(
        default=False,
        description="Allow webhooks to loopback and private addresses (never link-local "
        "or metadata ones)",
    )
    notifications_secrets_key: FernetKeys = Field(
        default=SecretStr(""),
        description="Fernet key(s) that encrypt webhook secrets at rest, comma separated: the "
        "first encrypts, all decrypt; empty: a public development key (a warning at start)",
    )
    notifications_max_attempts: int = Field(
        default=10, ge=1, le=100, description="Attempts per delivery before it is dead-lettered"
    )
    notifications_backoff_base_seconds: float = Field(
        default=5.0, gt=0, description="Wait after the first failed attempt; doubles each time"
    )
    notifications_backoff_max_seconds: float = Field(
        default=3600.0, gt=0, description="The longest wait between two attempts"
    )
    notifications_delivery_concurrency: int = Field(
        default=16, ge=1, le=1000, description="Deliveries in flight at once, per process"
    )
    notifications_endpoint_concurrency: int = Field(
        default=4,
        ge=1,
        le=1000,
        description="Deliveries in flight at once to one webhook host or e-mail domain",
    )
    notifications_recipients_wait_seconds: float = Field(
        default=10.0,
        ge=0,
        description="How long a notification waits for the endorsements it depends on",
    )

    @field_validator("notifications_backoff_max_seconds")
    @classmethod
    def _backoff_order(cls, value: float, info: ValidationInfo) -> float:
        base = info.data.get("notifications_backoff_base_seconds")
        if base is not None and value < base:
            raise ValueError("must be at least NOTIFICATIONS_BACKOFF_BASE_SECONDS")
        return value

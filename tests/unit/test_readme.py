"""The README documents every public RPC and every setting a service reads."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

from quorum.gateway.v1 import gateway_pb2
from quorum_gateway.settings import GatewaySettings
from quorum_ideas.settings import IdeasSettings
from quorum_notifications.settings import NotificationsSettings
from quorum_validation.settings import ValidationSettings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_every_public_rpc_is_in_the_readme() -> None:
    for service in gateway_pb2.DESCRIPTOR.services_by_name.values():
        assert f"`{service.name}`" in README, service.name
        for method in service.methods:
            assert f"`{method.name}`" in README, f"{service.name}/{method.name}"


@pytest.mark.parametrize(
    "settings", [GatewaySettings, IdeasSettings, ValidationSettings, NotificationsSettings]
)
def test_every_setting_is_in_the_configuration_table(settings: type[BaseSettings]) -> None:
    for name in settings.model_fields:
        assert f"`{name.upper()}`" in README, name

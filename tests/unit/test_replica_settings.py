"""Replicas on one machine (platform.py, run.py) and the fault-point setting, without servers."""

from __future__ import annotations

import pytest

from quorum_common import fault_points
from quorum_devtools import platform, run


def two_of_each() -> platform.Platform:
    settings = platform.Platform("127.0.0.1:19092", "mongodb://127.0.0.1:27027/?replicaSet=rs0")
    return run._replicated(settings, 2)


def test_one_replica_keeps_the_single_addresses() -> None:
    settings = platform.Platform("127.0.0.1:19092", "mongodb://127.0.0.1:27027/?replicaSet=rs0")
    assert settings.names == list(platform.SERVICES)
    assert settings.env()["IDEAS_ADDRESS"] == "127.0.0.1:50061"
    assert settings.env("gateway")["GATEWAY_HTTP_PORT"] == "8080"


def test_replicas_have_ports_of_their_own_and_the_gateway_names_them_all() -> None:
    settings = two_of_each()
    assert settings.replicas("ideas") == ["ideas", "ideas-2"]
    assert settings.address("validation-2") == "127.0.0.1:50162"
    env = settings.env("gateway-2")
    assert (env["GATEWAY_GRPC_PORT"], env["GATEWAY_HTTP_PORT"]) == ("50151", "8081")
    assert env["IDEAS_ADDRESS"] == "ipv4:127.0.0.1:50061,127.0.0.1:50161"
    assert settings.env("ideas-2")["IDEAS_GRPC_PORT"] == "50161"
    assert settings.env("ideas")["IDEAS_GRPC_PORT"] == "50061"


def test_a_replica_name_tells_its_service() -> None:
    assert platform.replica_of("notifications") == ("notifications", 0)
    assert platform.replica_of("notifications-3") == ("notifications", 2)


def test_a_fault_point_is_armed_only_when_named() -> None:
    assert fault_points._armed("") is None
    assert fault_points._armed("committed") == ("committed", 1)
    assert fault_points._armed("applied@7") == ("applied", 7)
    for bad in ("commited", "applied@x"):
        with pytest.raises(SystemExit, match="QUORUM_FAULT_POINT"):
            fault_points._armed(bad)

"""A wrong setting stops a service at start with one line naming it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from support.servers import Servers, free_port

pytestmark = pytest.mark.e2e


def start_ideas(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "quorum_ideas"],
        env={"PATH": "/usr/bin:/bin", "IDEAS_GRPC_PORT": str(free_port()), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("setting", "value", "expected"),
    [
        (
            "KAFKA_BOOTSTRAP_SERVERS",
            "127.0.0.1:{closed}",
            "KAFKA_BOOTSTRAP_SERVERS: no Kafka broker",
        ),
        (
            "KAFKA_BOOTSTRAP_SERVERS",
            "no-port-here",
            "KAFKA_BOOTSTRAP_SERVERS: 'no-port-here' is not",
        ),
        ("MONGODB_URI", "http://127.0.0.1:27017", "MONGODB_URI: must start with mongodb://"),
        ("MONGODB_URI", "mongodb://127.0.0.1:{closed}/?replicaSet=rs0", "MONGODB_URI: no MongoDB"),
        ("IDEAS_GRPC_PORT", "eighty", "IDEAS_GRPC_PORT: Input should be a valid integer"),
    ],
)
def test_wrong_setting_is_one_line_naming_it(
    infra: Servers, setting: str, value: str, expected: str
) -> None:
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap_servers,
        "MONGODB_URI": infra.mongodb_uri,
        "STARTUP_TIMEOUT_SECONDS": "2",
        setting: value.format(closed=free_port()),
    }
    result = start_ideas(env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"ideas: {expected}"), lines[0]

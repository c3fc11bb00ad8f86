"""TLS on the public gateway (gRPC and HTTP) and mutual TLS inside the platform.

A CA made for the test (trustme) signs the gateway's certificate and the one every
service presents to the others. Over TLS, a gRPC call, the CLI and an HTTP call
succeed, and the HTTP door's hop to the gRPC server works; a plaintext call to either
public port fails. The internal services take only clients with a certificate the CA
signed, so every call that reaches a backend here went over mutual TLS.
"""

from __future__ import annotations

import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest
import trustme
from conftest import Isolation
from grpc_health.v1 import health_pb2, health_pb2_grpc

from quorum.domain.v1 import domain_pb2
from quorum_client import Client, QuorumError
from quorum_devtools import platform
from support.auth import bootstrap_tenant
from support.platforms import own_platform
from support.servers import Servers


@pytest.fixture
def certificates(tmp_path: Path) -> dict[str, str]:
    ca = trustme.CA()
    files = {"ca": tmp_path / "ca.pem"}
    ca.cert_pem.write_to_path(str(files["ca"]))
    for name in ("gateway", "internal"):
        issued = ca.issue_cert("127.0.0.1", "localhost")
        files[f"{name}.pem"] = tmp_path / f"{name}.pem"
        files[f"{name}.key"] = tmp_path / f"{name}.key"
        for blob in issued.cert_chain_pems:
            blob.write_to_path(str(files[f"{name}.pem"]), append=True)
        issued.private_key_pem.write_to_path(str(files[f"{name}.key"]))
    return {name: str(path) for name, path in files.items()}


@pytest.fixture
def secured(
    infra: Servers, isolation: Isolation, tmp_path: Path, certificates: dict[str, str]
) -> Iterator[platform.Platform]:
    env = {
        "GATEWAY_TLS_CERT_FILE": certificates["gateway.pem"],
        "GATEWAY_TLS_KEY_FILE": certificates["gateway.key"],
        "GRPC_TLS_CA_FILE": certificates["ca"],
        "GRPC_TLS_CERT_FILE": certificates["internal.pem"],
        "GRPC_TLS_KEY_FILE": certificates["internal.key"],
    }
    with own_platform(
        infra,
        isolation.topic_prefix,
        isolation.database_prefix,
        tmp_path,
        env,
        gateway_ca_file=certificates["ca"],
    ) as (running, _):
        yield running


def test_the_public_ports_speak_tls_and_only_tls(
    secured: platform.Platform, certificates: dict[str, str]
) -> None:
    key = bootstrap_tenant(secured.env(), "acme-software")
    address = secured.address("gateway")
    # gRPC over TLS, through the client's CA option, reaches the backends (mutual TLS).
    with Client(address, key, timeout=10, ca_file=certificates["ca"]) as quorum:
        assert quorum.tls
        quorum.upsert_organization(
            domain_pb2.Organization(
                organization_id="megacorp",
                name="MegaCorp",
                segment="manufacturing",
                relationship=domain_pb2.RELATIONSHIP_ACTIVE,
            )
        )
        idea = quorum.submit_idea(
            "Export gate reports to CSV",
            "Our board reviews gate decisions in spreadsheets.",
            product_area="reporting",
            submitted_by=domain_pb2.MemberRef(organization_id="megacorp", member_id="ana"),
        ).idea
    # Plaintext to the TLS port: no answer at all.
    with Client(address, key, timeout=3, ca_file="") as plaintext:
        assert not plaintext.tls
        with pytest.raises(QuorumError) as refused:
            plaintext.who_am_i()
        assert refused.value.code == grpc.StatusCode.UNAVAILABLE
    # The CLI takes the CA from QUORUM_TLS_CA_FILE, or from --ca-file.
    quorum_command = str(Path(sys.executable).parent / "quorum")
    env = {**secured.env(), "QUORUM_ADDRESS": address, "QUORUM_API_KEY": key}
    for flags, ca_env in (
        ([], {"QUORUM_TLS_CA_FILE": certificates["ca"]}),
        (["--ca-file", certificates["ca"]], {}),
    ):
        cli = subprocess.run(
            [quorum_command, *flags, "keys", "whoami"],
            env={**env, **ca_env},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert cli.returncode == 0, cli.stderr
        assert "vendor-admin" in cli.stdout

    # HTTPS: the door forwards to the TLS gRPC server over its private port.
    assert secured.http_url.startswith("https://")
    auth = {"Authorization": f"Bearer {key}"}
    trusted = ssl.create_default_context(cafile=certificates["ca"])
    with httpx.Client(base_url=secured.http_url, verify=trusted, timeout=10) as http:
        answer = http.post(
            "/quorum.gateway.v1.GatesService/GetGateReport", json={"idea_id": idea.id}, headers=auth
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["report"]["stage"] == "DISCOVERY"
        bad = http.post(
            "/quorum.gateway.v1.GatesService/GetGateReport", json={"idea_id": "x"}, headers=auth
        )
        assert bad.status_code == 400
        assert bad.json()["details"][0]["fieldViolations"][0]["field"] == "idea_id"
    plain_url = secured.http_url.replace("https://", "http://")
    with httpx.Client(base_url=plain_url, timeout=3) as http, pytest.raises(httpx.HTTPError):
        http.post("/quorum.gateway.v1.AccessService/WhoAmI", json={}, headers=auth)


def _health(address: str, credentials: grpc.ChannelCredentials | None) -> grpc.StatusCode:
    with (
        grpc.secure_channel(address, credentials) if credentials else grpc.insecure_channel(address)
    ) as channel:
        try:
            health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=3)
        except grpc.RpcError as error:
            return error.code()
    return grpc.StatusCode.OK


def test_the_internal_services_take_only_clients_the_ca_signed(
    secured: platform.Platform, certificates: dict[str, str]
) -> None:
    ca = Path(certificates["ca"]).read_bytes()
    stranger = trustme.CA().issue_cert("127.0.0.1")
    for service in ("ideas", "validation", "notifications"):
        address = secured.address(service)
        assert _health(address, secured.credentials(service)) == grpc.StatusCode.OK
        assert _health(address, None) == grpc.StatusCode.UNAVAILABLE
        no_certificate = grpc.ssl_channel_credentials(root_certificates=ca)
        assert _health(address, no_certificate) == grpc.StatusCode.UNAVAILABLE
        signed_elsewhere = grpc.ssl_channel_credentials(
            root_certificates=ca,
            private_key=stranger.private_key_pem.bytes(),
            certificate_chain=stranger.cert_chain_pems[0].bytes(),
        )
        assert _health(address, signed_elsewhere) == grpc.StatusCode.UNAVAILABLE

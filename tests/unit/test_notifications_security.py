"""Webhook safety: the addresses Quorum refuses to call, and the signature scheme."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress

import pytest

from quorum_devtools.sinks import verify_signature as sink_verify
from quorum_notifications.addresses import check_url, refused_address
from quorum_notifications.signatures import sign, verify


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://169.254.170.2/v2/credentials",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://METADATA.google.internal./",
        "http://metadata/",
        "http://[fe80::1]/hook",
        "http://[fd00:ec2::254]/",
        "http://[::ffff:169.254.169.254]/",
        "http://[64:ff9b::a9fe:a9fe]/",
        "http://100.100.100.200/",
        "http://0.0.0.0:8080/",
        "http://[::]/",
    ],
)
def test_link_local_and_metadata_are_always_refused(url: str) -> None:
    assert check_url(url, allow_private=True) is not None
    assert check_url(url, allow_private=False) is not None


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8090/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/",
        "http://[::1]/",
        "http://[fd12:3456::1]/",
        "http://100.64.0.1/",
    ],
)
def test_private_networks_only_when_allowed(url: str) -> None:
    assert check_url(url, allow_private=True) is None
    problem = check_url(url, allow_private=False)
    assert problem is not None
    assert "loopback, private or reserved" in problem


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("", "is required"),
        ("ftp://files.example.com/", "http or https"),
        ("https:///nohost", "must name a host"),
        ("https://user:pw@hooks.example.com/", "credentials"),
        ("https://hooks.example.com:99999/", "not a URL"),
        ("https://hooks.example.com/" + "a" * 3000, "at most 2048"),
    ],
)
def test_malformed_urls(url: str, problem: str) -> None:
    found = check_url(url, allow_private=False)
    assert found is not None
    assert problem in found


def test_public_addresses_pass() -> None:
    assert check_url("https://hooks.example.com/quorum?x=1", allow_private=False) is None
    assert check_url("https://93.184.215.14/", allow_private=False) is None
    assert refused_address(ipaddress.ip_address("2606:4700::1111"), allow_private=False) is None


def test_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    body = b'{"id":"d-1","type":"idea.stage_advanced"}'
    expected = hmac.new(b"whsec_test", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert sign("whsec_test", 1700000000, body) == f"v1={expected}"


def test_verification_refuses_tampering_other_secrets_and_old_requests() -> None:
    body = b'{"id":"d-1"}'
    signature = sign("whsec_test", 1700000000, body)
    assert verify("whsec_test", "1700000000", body, signature, now=1700000100)
    assert not verify("whsec_test", "1700000000", body + b" ", signature, now=1700000100)
    assert not verify("whsec_other", "1700000000", body, signature, now=1700000100)
    assert not verify("whsec_test", "1700000001", body, signature, now=1700000100)
    assert not verify("whsec_test", "1700000000", body, signature, now=1700000000 + 301)
    assert not verify("whsec_test", "soon", body, signature, now=1700000000)
    # Several signatures (a secret being rotated): any one may match.
    assert verify("whsec_test", "1700000000", body, f"v1=00, {signature}", now=1700000000)


def test_the_local_receiver_agrees_with_the_service() -> None:
    body = '{"title":"Café"}'.encode()
    signature = sign("s3cret-s3cret-s3cret", 1700000000, body)
    assert sink_verify("s3cret-s3cret-s3cret", "1700000000", body, signature, now=1700000000)
    assert not sink_verify("s3cret-s3cret-s3cret", "1700000000", body, "v1=0", now=1700000000)

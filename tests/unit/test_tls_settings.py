"""TLS settings: half a configuration, or a file that is not what it should be, stops the
service at start with one line naming the setting (never a traceback, never plaintext)."""

from __future__ import annotations

from pathlib import Path

import pytest
import trustme

from quorum_common import tls
from quorum_common.errors import StartupError
from quorum_common.settings import load_settings
from quorum_gateway.settings import GatewaySettings
from quorum_ideas.settings import IdeasSettings


def test_a_certificate_without_its_key_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_TLS_CERT_FILE", "/etc/quorum/tls.crt")
    with pytest.raises(StartupError, match=r"^GATEWAY_TLS_KEY_FILE: GATEWAY_TLS_CERT_FILE and"):
        load_settings(GatewaySettings)


def test_internal_tls_needs_its_ca_certificate_and_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRPC_TLS_CA_FILE", "/etc/quorum/ca.crt")
    with pytest.raises(StartupError, match=r"^GRPC_TLS_KEY_FILE: GRPC_TLS_CA_FILE, GRPC_TLS_CERT"):
        load_settings(IdeasSettings)
    monkeypatch.delenv("GRPC_TLS_CA_FILE")
    assert tls.internal(load_settings(IdeasSettings)) is None  # plaintext by default


def test_unreadable_or_mismatched_files_name_the_setting(tmp_path: Path) -> None:
    ca = trustme.CA()
    issued, other = ca.issue_cert("localhost"), ca.issue_cert("localhost")
    cert, key, wrong_key = tmp_path / "tls.crt", tmp_path / "tls.key", tmp_path / "other.key"
    issued.cert_chain_pems[0].write_to_path(str(cert))
    issued.private_key_pem.write_to_path(str(key))
    other.private_key_pem.write_to_path(str(wrong_key))
    assert tls.Identity.load(str(cert), str(key), "GATEWAY_TLS").certificate == cert.read_bytes()
    with pytest.raises(StartupError, match=r"^GATEWAY_TLS_CERT_FILE: cannot read /nowhere"):
        tls.Identity.load("/nowhere", str(key), "GATEWAY_TLS")
    with pytest.raises(StartupError, match=r"^GATEWAY_TLS_CERT_FILE / GATEWAY_TLS_KEY_FILE: not"):
        tls.Identity.load(str(cert), str(wrong_key), "GATEWAY_TLS")
    (tmp_path / "empty.pem").write_text("")
    with pytest.raises(StartupError, match=r"^GRPC_TLS_CA_FILE: .* is empty"):
        tls.Internal.load(str(tmp_path / "empty.pem"), str(cert), str(key))

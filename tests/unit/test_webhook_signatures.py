"""Outbound webhook signatures, pure: both schemes, rollovers, and secrets sealed at rest."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.fernet import Fernet
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from quorum_common.secretbox import SecretBox, SecretUnreadable, check_keys
from quorum_notifications import signatures
from quorum_notifications.signatures import Scheme
from quorum_notifications.subscriptions import signing_of

BODY = b'{"type": "idea.stage_advanced", "idea_id": "i-1"}'


def test_standard_webhooks_signatures_verify_with_the_library() -> None:
    old, new = signatures.new_secret(Scheme.STANDARD), signatures.new_secret(Scheme.STANDARD)
    assert signatures.secret_problem(Scheme.STANDARD, new) is None
    stamp = int(time.time())
    headers = signatures.headers(Scheme.STANDARD, (new, old), "d-1", stamp, BODY)
    assert headers["webhook-id"] == "d-1"
    assert headers["webhook-timestamp"] == str(stamp)
    for secret in (old, new):
        assert Webhook(secret).verify(BODY, headers) == {
            "type": "idea.stage_advanced",
            "idea_id": "i-1",
        }
    with pytest.raises(WebhookVerificationError):
        Webhook(signatures.new_secret(Scheme.STANDARD)).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new).verify(BODY + b" ", headers)


def test_quorum_v1_signatures_stay_as_they_were() -> None:
    secret = "whsec_end_to_end_tests_only"
    stamp = int(time.time())
    headers = signatures.headers(
        Scheme.QUORUM_V1, (secret, "another-secret-16"), "d-1", stamp, BODY
    )
    assert headers["Quorum-Signature"].startswith(signatures.sign(secret, stamp, BODY) + ",")
    for key in (secret, "another-secret-16"):
        assert signatures.verify(
            key, headers["Quorum-Timestamp"], BODY, headers["Quorum-Signature"], time.time()
        )
    assert not signatures.verify(
        "nope-nope-nope-no",
        headers["Quorum-Timestamp"],
        BODY,
        headers["Quorum-Signature"],
        time.time(),
    )


@pytest.mark.parametrize(
    "secret",
    [
        "short",
        "whsec_" + "A" * 8,
        "whsec_not base64!",
        "no-prefix-" + "A" * 40,
        "whsec_" + "A" * 300,
    ],
)
def test_a_standard_secret_is_whsec_and_24_to_64_bytes(secret: str) -> None:
    assert signatures.secret_problem(Scheme.STANDARD, secret) is not None


def test_secrets_are_sealed_and_plain_ones_still_read() -> None:
    key = Fernet.generate_key().decode()
    box = SecretBox(key)
    sealed = box.seal("whsec_abc")
    assert sealed.startswith("fernet:")
    assert "whsec_abc" not in sealed
    assert box.open(sealed) == "whsec_abc"
    assert box.open("whsec_plain") == "whsec_plain"  # stored before encryption existed
    # A new key first, the old one after: both read, the new one seals.
    rotated = SecretBox(f"{Fernet.generate_key().decode()},{key}")
    assert rotated.open(sealed) == "whsec_abc"
    with pytest.raises(SecretUnreadable):
        SecretBox(Fernet.generate_key().decode()).open(sealed)
    with pytest.raises(ValueError, match="entry 2 is not a Fernet key"):
        check_keys(f"{key},nope")
    assert SecretBox("").development
    assert not box.development


def test_a_rollover_signs_with_both_until_it_ends() -> None:
    box = SecretBox("")
    at = datetime(2026, 12, 1, tzinfo=UTC)
    doc = {
        "secret": box.seal("new-secret-0123456"),
        "previous_secret": box.seal("old-secret-0123456"),
        "previous_secret_expires_at": at + timedelta(hours=1),
    }
    signing = signing_of(doc, box, at)
    assert signing.scheme is Scheme.QUORUM_V1  # no scheme stored: what it always was
    assert signing.secrets == ("new-secret-0123456", "old-secret-0123456")
    assert signing_of(doc, box, at + timedelta(hours=2)).secrets == ("new-secret-0123456",)
    # A previous secret sealed under a lost key is left out, the newest still signs.
    lost = {**doc, "previous_secret": SecretBox(Fernet.generate_key().decode()).seal("x")}
    assert signing_of(lost, box, at).secrets == ("new-secret-0123456",)
    assert signing_of({"secret": "plain-secret-01234", "scheme": "standard"}, box, at).secrets == (
        "plain-secret-01234",
    )

"""How a webhook receiver knows a request came from Quorum, unchanged and recent.

Two schemes, chosen per subscription:

- `quorum-v1` (every subscription made before the choice existed): `Quorum-Timestamp`
  (Unix seconds of this attempt) and `Quorum-Signature: v1=<hex>`, where <hex> is
  HMAC-SHA256 keyed with the secret's characters over `"<timestamp>.<raw body>"`.
  `verify` is the reference a receiver can copy.
- `standard` (Standard Webhooks, https://www.standardwebhooks.com): `webhook-id` (the
  delivery id), `webhook-timestamp` and `webhook-signature: v1,<base64>`, signed by the
  `standardwebhooks` library, so a receiver verifies with any of its libraries.

During a secret rollover every secret still valid signs: the signatures are listed
side by side (comma separated for quorum-v1, space separated for standard, as each
scheme specifies), and a receiver holding either secret finds its match.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum

from standardwebhooks.webhooks import Webhook

SCHEME = "v1"
EVENT_ID_HEADER = "Quorum-Event-Id"
EVENT_TYPE_HEADER = "Quorum-Event-Type"
TIMESTAMP_HEADER = "Quorum-Timestamp"
SIGNATURE_HEADER = "Quorum-Signature"
STANDARD_ID_HEADER = "webhook-id"
STANDARD_TIMESTAMP_HEADER = "webhook-timestamp"
STANDARD_SIGNATURE_HEADER = "webhook-signature"
# How old a timestamp a receiver should accept, in seconds.
TOLERANCE_SECONDS = 300
STANDARD_PREFIX = "whsec_"
# The Standard Webhooks specification's bounds for a secret's decoded key.
STANDARD_KEY_BYTES = (24, 64)


class Scheme(StrEnum):
    QUORUM_V1 = "quorum-v1"
    STANDARD = "standard"


def new_secret(scheme: Scheme) -> str:
    if scheme is Scheme.STANDARD:
        return STANDARD_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()
    return f"{STANDARD_PREFIX}{secrets.token_urlsafe(32)}"


def secret_problem(scheme: Scheme, secret: str) -> str | None:
    """What is wrong with a secret a caller chose for this scheme; None when it is fine."""
    if scheme is Scheme.QUORUM_V1:
        if not (16 <= len(secret) <= 256 and secret.isprintable()):
            return "must be 16-256 printable characters (or empty: one is generated)"
        return None
    wanted = (
        f"must be {STANDARD_PREFIX} and the base64 of {STANDARD_KEY_BYTES[0]}-"
        f"{STANDARD_KEY_BYTES[1]} bytes (or empty: one is generated)"
    )
    if not secret.startswith(STANDARD_PREFIX) or len(secret) > 256:
        return wanted
    try:
        key = base64.b64decode(secret.removeprefix(STANDARD_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        return wanted
    if not STANDARD_KEY_BYTES[0] <= len(key) <= STANDARD_KEY_BYTES[1]:
        return wanted
    return None


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """One quorum-v1 signature: `v1=<hex>`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"{SCHEME}={mac.hexdigest()}"


def headers(
    scheme: Scheme, secrets_: Sequence[str], delivery_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The signing headers of one attempt, one signature per valid secret."""
    if scheme is Scheme.STANDARD:
        moment = datetime.fromtimestamp(timestamp, tz=UTC)
        text = body.decode()
        return {
            STANDARD_ID_HEADER: delivery_id,
            STANDARD_TIMESTAMP_HEADER: str(timestamp),
            STANDARD_SIGNATURE_HEADER: " ".join(
                Webhook(s).sign(delivery_id, moment, text) for s in secrets_
            ),
        }
    return {
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: ",".join(sign(s, timestamp, body) for s in secrets_),
    }


def verify(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    now: float,
    tolerance: float = TOLERANCE_SECONDS,
) -> bool:
    """Whether headers and raw body are Quorum's (quorum-v1), signed at most `tolerance` s ago.

    Several comma-separated signatures are accepted (any one may match), so a
    receiver keeps working while Quorum signs with more than one secret.
    """
    try:
        stamp = int(timestamp)
    except ValueError:
        return False
    if abs(now - stamp) > tolerance:
        return False
    expected = sign(secret, stamp, body)
    return any(hmac.compare_digest(expected, s.strip()) for s in signature.split(","))

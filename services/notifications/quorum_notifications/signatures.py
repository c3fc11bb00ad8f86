"""How a webhook receiver knows a request came from Quorum, unchanged and recent.

Each POST carries `Quorum-Timestamp` (Unix seconds of this attempt) and
`Quorum-Signature: v1=<hex>`, where <hex> is HMAC-SHA256 keyed with the
subscription's secret over `"<timestamp>.<raw body>"`. Signing the timestamp with
the body lets a receiver refuse replays of an old request; `verify` is the
reference a receiver can copy.
"""

from __future__ import annotations

import hashlib
import hmac

SCHEME = "v1"
EVENT_ID_HEADER = "Quorum-Event-Id"
EVENT_TYPE_HEADER = "Quorum-Event-Type"
TIMESTAMP_HEADER = "Quorum-Timestamp"
SIGNATURE_HEADER = "Quorum-Signature"
# How old a timestamp a receiver should accept, in seconds.
TOLERANCE_SECONDS = 300


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The Quorum-Signature header value for one attempt."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"{SCHEME}={mac.hexdigest()}"


def verify(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    now: float,
    tolerance: float = TOLERANCE_SECONDS,
) -> bool:
    """Whether headers and raw body are Quorum's, signed at most `tolerance` s ago.

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

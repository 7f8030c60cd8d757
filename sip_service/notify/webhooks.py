"""Webhooks: the signature on a notification (the sender that POSTs it is `senders.WebhookSender`).

The signature is HMAC-SHA256 with the subscription's secret over `<t>.<body>`, where `t` is the
send time in Unix seconds, sent as `X-SIP-Signature: t=<t>,v1=<hex>` (the Stripe-style form): the
receiver recomputes it from the raw body, compares in constant time, and refuses a `t` further than
its tolerance (5 minutes) from its own clock, so a captured notification cannot be replayed later.
Each attempt is signed anew (a retry has a new `t`); `X-SIP-Delivery` is the same on every attempt
of one notification, for the receiver to drop a repeat (delivery is at least once, see the outbox).
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-SIP-Signature"
DELIVERY_HEADER = "X-SIP-Delivery"  # the outbox message's id: one per notification, the same on retries
TOLERANCE_S = 300
FHIR_JSON = "application/fhir+json"
# Headers a subscription's own may not replace (channel.header): the service's, and HTTP's framing.
RESERVED_HEADERS = frozenset(
    {"content-type", "content-length", "host", "transfer-encoding", "connection", "user-agent", "expect", "te"}
    | {SIGNATURE_HEADER.lower(), DELIVERY_HEADER.lower()}
)


def signature(secret: str, body: bytes, timestamp: int) -> str:
    """The header's value for `body` sent at `timestamp` (Unix seconds)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, header: str, body: bytes, *, now: float | None = None, tolerance_s: int = TOLERANCE_S) -> bool:
    """What a receiver does (a reference for integrators, and the tests): the header's `t` within
    the tolerance of `now`, and one of its `v1` values the HMAC of `<t>.<body>`."""
    parts = [p.partition("=") for p in header.split(",")]
    stamps = [v for k, _, v in parts if k.strip() == "t"]
    macs = [v.strip() for k, _, v in parts if k.strip() == "v1"]
    if len(stamps) != 1 or not stamps[0].strip().isdigit() or not macs:
        return False
    t = int(stamps[0])
    if abs((time.time() if now is None else now) - t) > tolerance_s:
        return False
    expected = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, m) for m in macs)

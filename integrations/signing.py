"""Webhook signatures, both ways: `Frontdesk-Signature: t=<unix seconds>,v1=<hex>` where v1 is
HMAC-SHA256(secret, f"{t}.{raw body}"), compared in constant time, within a 5-minute window."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterable

SIGNATURE_HEADER = "Frontdesk-Signature"
TOLERANCE_S = 300


class SignatureError(Exception):
    """Why a signature was refused; `code` is one of missing, malformed, stale, mismatch."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of f"{timestamp}." + body under `secret`."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secrets: str | Iterable[str], body: bytes, *, now: float | None = None) -> str:
    """The header value signing `body` now, with one `v1` per secret."""
    timestamp = int(time.time() if now is None else now)
    keys = [secrets] if isinstance(secrets, str) else list(secrets)
    return ",".join([f"t={timestamp}", *(f"v1={signature(k, timestamp, body)}" for k in keys)])


def parse(header: str | None) -> tuple[int, list[str]]:
    """The timestamp and the v1 values of a header; SignatureError when absent or malformed."""
    if not header or not header.strip():
        raise SignatureError("signature_missing", f"The {SIGNATURE_HEADER} header is missing.")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            raise SignatureError(
                "signature_malformed", f"{SIGNATURE_HEADER}: '{part.strip()[:40]}' is not key=value."
            )
        if key == "t":
            if not value.isdigit() or timestamp is not None:
                raise SignatureError(
                    "signature_malformed", f"{SIGNATURE_HEADER}: t must be one unix time in seconds."
                )
            timestamp = int(value)
        elif key == "v1":
            if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
                raise SignatureError(
                    "signature_malformed", f"{SIGNATURE_HEADER}: v1 must be 64 lower-case hex digits."
                )
            candidates.append(value)
    if timestamp is None or not candidates:
        raise SignatureError(
            "signature_malformed", f"{SIGNATURE_HEADER} needs t=<unix seconds> and at least one v1=<hex>."
        )
    return timestamp, candidates


def verify(
    header: str | None,
    body: bytes,
    secrets: Iterable[str],
    *,
    now: float | None = None,
    tolerance_s: int = TOLERANCE_S,
) -> None:
    """Accept the body if any v1 matches any secret within the time window; else SignatureError."""
    timestamp, candidates = parse(header)
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        raise SignatureError(
            "signature_stale",
            f"The signature's timestamp is more than {tolerance_s} seconds from the server's clock.",
        )
    matched = False
    for secret in secrets:
        expected = signature(secret, timestamp, body)
        for candidate in candidates:
            # Every comparison runs: the time taken does not tell which one matched.
            matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise SignatureError(
            "signature_mismatch", "The signature does not match the body and the channel's secret."
        )

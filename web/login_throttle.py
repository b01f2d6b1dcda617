"""Slows admin password guessing: failed logins per client IP and per account, in moving windows.

Each failure is counted against the client's address and the account name; once either is over
one of its limits, further tries are refused with a `Retry-After` until the window has room again.
The limits are tiered (a minute, then an hour, then a day), so a patient attacker backs off further
and further. Counting is done by the `limits` library in memory (one process, no timer thread:
integrations/ratelimit.py).
"""

from __future__ import annotations

import logging
import math
import time

from limits import RateLimitItem, parse_many
from limits.strategies import MovingWindowRateLimiter

from integrations.ratelimit import LazyMemoryStorage

log = logging.getLogger(__name__)

PER_CLIENT = "5/minute;20/hour;100/day"
# An account is shared by every client, so its limits are looser: a guesser on many addresses is
# slowed without locking the real administrator out after a handful of typos elsewhere.
PER_ACCOUNT = "20/minute;100/hour;500/day"


class LoginThrottle:
    """Counts failed logins; `retry_after` says how long a client or account must wait, if at all."""

    def __init__(self, *, per_client: str = PER_CLIENT, per_account: str = PER_ACCOUNT) -> None:
        self._limiter = MovingWindowRateLimiter(LazyMemoryStorage())
        self._client_limits = parse_many(per_client)
        self._account_limits = parse_many(per_account)

    def _keys(self, client: str, account: str) -> list[tuple[RateLimitItem, str, str]]:
        return [(item, "client", client) for item in self._client_limits] + [
            (item, "account", account) for item in self._account_limits
        ]

    def retry_after(self, client: str, account: str) -> int | None:
        """Whole seconds until the next try is allowed, or None when it is allowed now."""
        waits = []
        for item, kind, key in self._keys(client, account):
            if not self._limiter.test(item, kind, key):
                reset = self._limiter.get_window_stats(item, kind, key).reset_time
                waits.append(max(1, math.ceil(reset - time.time())))
        return max(waits) if waits else None

    def failed(self, client: str, account: str, *, where: str) -> None:
        """Count a wrong password (never logged) for this client and account."""
        log.warning("Failed admin login on %s for account %r from %s", where, account, client)
        for item, kind, key in self._keys(client, account):
            self._limiter.hit(item, kind, key)

    def succeeded(self, client: str) -> None:
        """A correct login clears the client's own failures (the account's stay counted)."""
        for item in self._client_limits:
            self._limiter.clear(item, "client", client)

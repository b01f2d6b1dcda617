"""Request rate limits for the public API, per API key, per conversation and per client address
(moving windows, counted in memory by the `limits` library; one process)."""

from __future__ import annotations

import math
import time

from limits import parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter


class RateLimited(Exception):
    """Over a limit: wait `retry_after` seconds."""

    def __init__(self, scope: str, retry_after: int) -> None:
        super().__init__(f"Too many requests for this {scope}; try again in {retry_after} seconds.")
        self.scope = scope
        self.retry_after = retry_after


class RateLimits:
    """`hit(scope, key)` counts one request and raises RateLimited once the scope's limit is passed.

    Limits are strings like "60/minute;1000/hour"; an empty string means no limit for that scope.
    """

    def __init__(self, *, per_key: str = "", per_session: str = "", per_ip: str = "") -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._limits = {
            scope: parse_many(spec) if spec.strip() else []
            for scope, spec in (
                ("API key", per_key),
                ("conversation", per_session),
                ("client address", per_ip),
            )
        }

    def hit(self, scope: str, key: str) -> None:
        for item in self._limits[scope]:
            if not self._limiter.hit(item, scope, key):
                reset = self._limiter.get_window_stats(item, scope, key).reset_time
                raise RateLimited(scope, max(1, math.ceil(reset - time.time())))

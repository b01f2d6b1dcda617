"""Request rate limits for the public API, per API key, per conversation and per client address
(moving windows, counted in memory by the `limits` library; one process). `LazyMemoryStorage` is
the in-memory storage these limits (and the admin login throttle) count in."""

from __future__ import annotations

import math
import threading
import time

from limits import parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

# How often expired windows are swept out of memory (a pass over every key, on a counting call).
SWEEP_EVERY_S = 30.0


class LazyMemoryStorage(MemoryStorage):
    """`limits`' MemoryStorage without its expiry thread.

    The stock storage starts a `threading.Timer` on a counting call whenever the last one has run
    out (10 ms after it started): under steady traffic, a new thread on almost every request, and
    `Thread.start` blocks its caller (the server's event loop, in the API gate) until the new
    thread has run. Counting needs no timer: a moving window ignores entries older than the
    window when it counts. Only memory needs them gone, so here an expiry pass runs inline, on a
    counting call, at most once every `SWEEP_EVERY_S`, and drops a key whose windows have all passed.
    """

    def __init__(self) -> None:
        super().__init__()
        self._sweep_lock = threading.Lock()
        self._next_sweep = time.monotonic() + SWEEP_EVERY_S

    # The stock storage calls this (name-mangled) hook before each count; see the class docstring.
    def _MemoryStorage__schedule_expiry(self) -> None:
        now = time.monotonic()
        if now < self._next_sweep or not self._sweep_lock.acquire(blocking=False):
            return
        try:
            self._next_sweep = now + SWEEP_EVERY_S
            self._sweep()
        finally:
            self._sweep_lock.release()

    def _sweep(self) -> None:
        """Drop expired counters and windows (the stock pass keeps a passed window's key, empty)."""
        wall = time.time()
        for key in list(self.events):
            with self.locks[key]:
                # Newest first: keep the entries not yet expired.
                live = [e for e in self.events.get(key, []) if e.expiry > wall]
                if live:
                    self.events[key] = live
                else:
                    self.events.pop(key, None)
                    self.locks.pop(key, None)
        for key, expiry in list(self.expirations.items()):
            if expiry <= wall:
                self.storage.pop(key, None)
                self.expirations.pop(key, None)
                self.locks.pop(key, None)

    def keys_held(self) -> int:
        """How many keys the storage holds in memory (counters and moving windows)."""
        return len(self.storage) + len(self.events)


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
        self._limiter = MovingWindowRateLimiter(LazyMemoryStorage())
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

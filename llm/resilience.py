"""Keeping turns quick when the model backend is slow or down: retries, deadlines, a circuit breaker.

- Transient failures (connection refused, 429, 5xx, timeouts) are retried with capped, jittered
  exponential backoff (tenacity) — only before the first token, so no answer text is ever repeated.
- A total deadline per model call (`asyncio.timeout` around each read of the stream, in
  llm/streaming.py); the first-token deadline is the HTTP read timeout (llm/factory.py).
- After `failures` calls in a row fail, the breaker opens: for `cooldown_s` every call fails at
  once instead of each customer waiting for a timeout; then one trial call decides.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_random_exponential,
)

T = TypeVar("T")


class CircuitOpenError(RuntimeError):
    """The backend failed repeatedly just now; calls fail fast until the cool-down ends."""


class CircuitBreaker:
    """Counts consecutive failures across all turns of the process (thread-safe)."""

    def __init__(self, *, failures: int = 3, cooldown_s: float = 30.0) -> None:
        self.failures = failures
        self.cooldown_s = cooldown_s
        self._lock = threading.Lock()
        self._consecutive = 0
        self._open_until = 0.0
        self._trial_running = False

    @property
    def is_open(self) -> bool:
        with self._lock:
            return self._consecutive >= self.failures and time.monotonic() < self._open_until

    def before_call(self) -> None:
        """Raise CircuitOpenError while open; after the cool-down let exactly one trial call through."""
        with self._lock:
            if self._consecutive < self.failures:
                return
            if time.monotonic() < self._open_until or self._trial_running:
                raise CircuitOpenError(
                    f"the model backend failed {self._consecutive} times in a row; "
                    f"not calling it for up to {self.cooldown_s:.0f} s"
                )
            self._trial_running = True

    def succeeded(self) -> None:
        with self._lock:
            self._consecutive = 0
            self._trial_running = False

    def failed(self) -> None:
        with self._lock:
            self._consecutive += 1
            self._trial_running = False
            if self._consecutive >= self.failures:
                self._open_until = time.monotonic() + self.cooldown_s


async def first_with_retries(
    start: Callable[[], AsyncIterator[T]],
    *,
    transient: tuple[type[BaseException], ...],
    attempts: int,
    max_wait_s: float,
) -> tuple[T | None, AsyncIterator[T]]:
    """Start a stream and read its first item, retrying transient failures; returns (first, rest).

    `first` is None when the stream ended without any item. Waits between tries are `asyncio.sleep`s:
    no thread is held while backing off.
    """
    retrying = AsyncRetrying(
        retry=retry_if_exception(lambda exc: isinstance(exc, transient)),
        stop=stop_after_attempt(attempts) | stop_after_delay(max_wait_s),
        wait=wait_random_exponential(multiplier=0.25, max=4.0),
        reraise=True,
    )
    async for attempt in retrying:
        with attempt:
            stream = aiter(start())
            first = await anext(stream, None)
    return first, stream

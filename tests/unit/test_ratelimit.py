"""The in-memory rate limits: counted without a timer thread per request, and still expiring."""

from __future__ import annotations

import threading
import time

import pytest
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from integrations import ratelimit
from integrations.ratelimit import LazyMemoryStorage, RateLimited, RateLimits


def _timers_started(monkeypatch: pytest.MonkeyPatch, storage: MemoryStorage) -> int:
    """Count the threads a storage starts over 20 requests 15 ms apart (longer than the stock
    storage's 10 ms timer, as under steady traffic)."""
    storage.timer.join()  # the one started at construction
    started = []
    original = threading.Timer

    def counting(*args: object, **kwargs: object) -> threading.Timer:
        started.append(1)
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(threading, "Timer", counting)
    limiter = MovingWindowRateLimiter(storage)
    item = parse("1000/minute")
    for n in range(20):
        assert limiter.hit(item, "conversation", f"c{n % 3}")
        time.sleep(0.015)
    monkeypatch.setattr(threading, "Timer", original)
    return len(started)


def test_counting_starts_no_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _timers_started(monkeypatch, MemoryStorage()) >= 10  # what the stock storage does
    assert _timers_started(monkeypatch, LazyMemoryStorage()) == 0


def test_a_limit_still_refuses_then_lets_through_once_its_window_passed() -> None:
    limits = RateLimits(per_session="3/second")
    for _ in range(3):
        limits.hit("conversation", "s1")
    with pytest.raises(RateLimited) as refused:
        limits.hit("conversation", "s1")
    assert refused.value.retry_after == 1
    limits.hit("conversation", "s2")  # another conversation has its own window
    time.sleep(1.1)
    limits.hit("conversation", "s1")


def test_expired_windows_are_swept_from_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ratelimit, "SWEEP_EVERY_S", 0.5)
    storage = LazyMemoryStorage()
    limiter = MovingWindowRateLimiter(storage)
    item = parse("5/second")
    for n in range(50):
        limiter.hit(item, "client address", f"10.0.0.{n}")
    assert storage.keys_held() == 50
    time.sleep(1.1)  # every window has passed, and the next sweep is due
    limiter.hit(item, "client address", "10.0.1.1")
    assert storage.keys_held() == 1

"""What counting one request against the API's rate limits costs its caller: the API gate, on the
server's event loop. `limits`' own MemoryStorage against ours (integrations/ratelimit.py), while
other threads keep the interpreter busy, as turns do under load.

    .venv/bin/python bench/rate_limits.py
    .venv/bin/python bench/rate_limits.py --hits 1000 --busy-threads 8

Each storage counts `--hits` requests spread over 50 conversations, `--gap-ms` apart (longer than the
stock storage's 10 ms expiry timer, as steady traffic is), while `--busy-threads` threads run pure
Python. Printed: the threads the storage started, and the time of one `hit`.
"""

from __future__ import annotations

import argparse
import threading
import time
from typing import Any

from _common import machine, percentile, table

from integrations.ratelimit import LazyMemoryStorage


def busy(stop: threading.Event) -> None:
    while not stop.is_set():
        sum(range(3000))


def measure(storage: Any, hits: int, gap_s: float, busy_threads: int) -> list[Any]:
    from limits import parse
    from limits.strategies import MovingWindowRateLimiter

    stop = threading.Event()
    workers = [threading.Thread(target=busy, args=(stop,), daemon=True) for _ in range(busy_threads)]
    for worker in workers:
        worker.start()
    limiter, item = MovingWindowRateLimiter(storage), parse("100000/minute")
    before = threading.active_count()
    started = 0
    micros = []
    for n in range(hits):
        now = time.perf_counter()
        limiter.hit(item, "conversation", f"session-{n % 50}")
        micros.append((time.perf_counter() - now) * 1e6)
        # A timer the storage started and that has not run yet is still alive here.
        started += max(0, threading.active_count() - before)
        time.sleep(gap_s)
    stop.set()
    for worker in workers:
        worker.join()
    return [started, percentile(micros, 50), percentile(micros, 99), max(micros)]


def main() -> None:
    from limits.storage import MemoryStorage

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hits", type=int, default=300)
    parser.add_argument("--gap-ms", type=float, default=12.0)
    parser.add_argument("--busy-threads", type=int, default=4)
    args = parser.parse_args()
    print(f"# rate limits — {machine()}")
    print(f"# {args.hits} hits {args.gap_ms:g} ms apart, {args.busy_threads} busy threads\n")
    rows = []
    for name, storage in (
        ("limits MemoryStorage", MemoryStorage()),
        ("LazyMemoryStorage", LazyMemoryStorage()),
    ):
        storage.timer.join()  # the one timer both start when created
        rows.append([name, *measure(storage, args.hits, args.gap_ms / 1000, args.busy_threads)])
    headers = ["storage", "timer threads seen", "hit p50 µs", "hit p99 µs", "hit max µs"]
    print(table(headers, rows))


if __name__ == "__main__":
    main()

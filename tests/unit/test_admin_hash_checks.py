"""At most MAX_CONCURRENT_CHECKS argon2 checks (~64 MiB each) run at once, however many logins wait."""

from __future__ import annotations

import asyncio
import threading
import time

from web.admin_auth import MAX_CONCURRENT_CHECKS, AdminAuth


def test_concurrent_password_checks_are_bounded(monkeypatch) -> None:
    auth = AdminAuth("$argon2id$not-a-real-hash")
    running = peak = 0
    lock = threading.Lock()

    def slow_check(username: str, password: str) -> bool:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.05)
        with lock:
            running -= 1
        return False

    monkeypatch.setattr(auth, "check", slow_check)

    async def many() -> list[bool]:
        return await asyncio.gather(*(auth.verify("admin", f"guess-{n}") for n in range(12)))

    assert asyncio.run(many()) == [False] * 12
    assert peak == MAX_CONCURRENT_CHECKS

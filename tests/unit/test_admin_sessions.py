"""Console login cookies: only tokens this process issued, and only within their lifetime, pass."""

from __future__ import annotations

from web.admin_sessions import ConsoleSessions


def test_cookies_this_process_never_issued_open_nothing() -> None:
    clock = [100.0]
    sessions = ConsoleSessions(lifetime_s=60, clock=lambda: clock[0])
    sessions.issued([b"access-token-abc=tok1; HttpOnly; Path=/", b"other=1"])
    headers = [(b"cookie", b"access-token-abc=tok1; theme=dark; access-token-unsecure-abc=forged")]
    assert sessions.strip_expired(headers) == [(b"cookie", b"access-token-abc=tok1; theme=dark")]
    clock[0] = 161.0
    assert sessions.strip_expired(headers) == [(b"cookie", b"theme=dark")]

"""The admin console's login sessions expire: Gradio keeps a console login (its `access-token`
cookie) for as long as the process runs, so the admin gate notes when each was issued and, once it
is older than the lifetime, no longer passes its cookie on: the console asks for the password again."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from http.cookies import CookieError, SimpleCookie

log = logging.getLogger(__name__)
COOKIE_PREFIX = "access-token"


def _now() -> float:
    return time.monotonic()


class ConsoleSessions:
    """When each console login was issued (in memory, like Gradio's own tokens), and which have expired."""

    def __init__(self, *, lifetime_s: float, clock: Callable[[], float] | None = None) -> None:
        self.lifetime_s = lifetime_s
        self._clock = clock or (lambda: _now())
        self._issued: dict[str, float] = {}

    def issued(self, set_cookie_headers: list[bytes]) -> None:
        """Note the tokens a successful login response sets."""
        now = self._clock()
        for header in set_cookie_headers:
            cookie = SimpleCookie()
            try:
                cookie.load(header.decode("latin-1"))
            except CookieError:
                continue
            for name, morsel in cookie.items():
                if name.startswith(COOKIE_PREFIX) and morsel.value:
                    self._issued[morsel.value] = now
        # Forget the expired ones, so the map does not grow with every login.
        self._issued = {t: at for t, at in self._issued.items() if now - at < self.lifetime_s}

    def live(self, token: str) -> bool:
        at = self._issued.get(token)
        return at is not None and self._clock() - at < self.lifetime_s

    def strip_expired(self, headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        """The request headers without console login cookies that expired (or this process never issued)."""
        result = []
        for name, value in headers:
            if name.lower() != b"cookie":
                result.append((name, value))
                continue
            kept = []
            for part in value.decode("latin-1").split(";"):
                key, _, token = part.strip().partition("=")
                if key.startswith(COOKIE_PREFIX) and not self.live(token):
                    log.info("An admin console session expired; the console asks for the password again")
                    continue
                kept.append(part.strip())
            if kept:
                result.append((name, "; ".join(kept).encode("latin-1")))
        return result

"""The admin login: one password (FRONTDESK_ADMIN_PASSWORD, or generated once and stored hashed),
checked before any admin request body is read, with failed logins throttled and hash checks bounded.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import secrets
from pathlib import Path
from typing import Annotated

import anyio.to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Depends, Request
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from starlette.datastructures import FormData
from starlette.requests import Request as StarletteRequest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web.admin_sessions import ConsoleSessions
from web.errors import ApiError, error_body
from web.login_throttle import LoginThrottle
from web.middleware import send_json

log = logging.getLogger(__name__)
ADMIN_USER = "admin"
ADMIN_API_PREFIX = "/api/v1/admin"
GRADIO_LOGIN_PATHS = ("/admin/login", "/admin/login/")
# Each argon2 check holds ~64 MiB while it runs: at most this many run at once, the rest wait.
MAX_CONCURRENT_CHECKS = 2


class AdminAuth:
    """Checks the admin password against an argon2 hash; the plain password is never stored."""

    def __init__(self, password_hash: str) -> None:
        self._hasher = PasswordHasher()
        self._hash = password_hash
        self._slots = asyncio.Semaphore(MAX_CONCURRENT_CHECKS)

    @classmethod
    def from_settings(cls, password: str | None, data_dir: Path) -> AdminAuth:
        hasher = PasswordHasher()
        if password:
            return cls(hasher.hash(password))
        hash_file = data_dir / "admin_password.argon2"
        if hash_file.exists():
            return cls(hash_file.read_text().strip())
        generated = secrets.token_urlsafe(12)
        hash_file.parent.mkdir(parents=True, exist_ok=True)
        hash_file.write_text(hasher.hash(generated))
        hash_file.chmod(0o600)
        # Printed once, on the first start only; afterwards only the hash exists.
        print(
            f"\n  Admin console: user '{ADMIN_USER}', generated password: {generated}\n"
            f"  (shown once; set FRONTDESK_ADMIN_PASSWORD to choose your own)\n",
            flush=True,
        )
        return cls(hasher.hash(generated))

    def check(self, username: str, password: str) -> bool:
        if not secrets.compare_digest(username.encode(), ADMIN_USER.encode()):
            return False
        try:
            return self._hasher.verify(self._hash, password)
        except (VerificationError, InvalidHashError):
            return False

    async def verify(self, username: str, password: str) -> bool:
        """`check` in a worker thread, with at most MAX_CONCURRENT_CHECKS hashes in memory at once."""
        async with self._slots:
            return await anyio.to_thread.run_sync(self.check, username, password)


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return client[0] if client else "unknown"


def _basic_credentials(scope: Scope) -> tuple[str, str] | None:
    header = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        username, sep, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (username, password) if sep else None


class AdminGate:
    """Checks admin logins before any handler runs or any body is read.

    - `/api/v1/admin/*` (HTTP Basic): 401 without valid credentials, 429 while throttled; a valid
      login is recorded in the request state for the `AdminUser` dependency.
    - `POST /admin/login` (the Gradio console's login form): 429 while throttled; Gradio checks the
      password itself, and its answer (400 wrong / 200 right) is counted here.
    - `/admin/*` (the console): a login older than the session lifetime is not passed on (`ConsoleSessions`).
    """

    LOGIN_FORM_LIMIT = 16 * 1024

    def __init__(
        self,
        app: ASGIApp,
        *,
        auth: AdminAuth,
        throttle: LoginThrottle,
        sessions: ConsoleSessions | None = None,
    ) -> None:
        self.app = app
        self.auth = auth
        self.throttle = throttle
        self.sessions = sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            if path == ADMIN_API_PREFIX or path.startswith(ADMIN_API_PREFIX + "/"):
                await self._api(scope, receive, send)
                return
            if scope["method"] == "POST" and path in GRADIO_LOGIN_PATHS:
                await self._gradio_login(scope, receive, send)
                return
            if self.sessions is not None and (path == "/admin" or path.startswith("/admin/")):
                scope = {**scope, "headers": self.sessions.strip_expired(list(scope["headers"]))}
        await self.app(scope, receive, send)

    async def _too_many(self, send: Send, wait: int, **extra: object) -> None:
        body = error_body(
            "too_many_requests", f"Too many failed logins; try again in {wait} seconds.", **extra
        )
        await send_json(send, 429, body, {"Retry-After": str(wait)})

    async def _api(self, scope: Scope, receive: Receive, send: Send) -> None:
        credentials = _basic_credentials(scope)
        if credentials is None:
            body = error_body("unauthorized", "Admin login required.")
            await send_json(send, 401, body, {"WWW-Authenticate": "Basic"})
            return
        client, (username, password) = client_address(scope), credentials
        wait = self.throttle.retry_after(client, username)
        if wait is not None:
            await self._too_many(send, wait)
            return
        if not await self.auth.verify(username, password):
            self.throttle.failed(client, username, where="the admin API")
            body = error_body("unauthorized", "Admin login required.")
            await send_json(send, 401, body, {"WWW-Authenticate": "Basic"})
            return
        self.throttle.succeeded(client)
        scope.setdefault("state", {})["admin_user"] = username
        await self.app(scope, receive, send)

    async def _gradio_login(self, scope: Scope, receive: Receive, send: Send) -> None:
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.LOGIN_FORM_LIMIT:
                await send_json(send, 413, error_body("request_too_large", "The login form is too large."))
                return
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)

        def replay() -> Receive:
            sent = False

            async def receive_again() -> Message:
                nonlocal sent
                if sent:
                    return await receive()
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}

            return receive_again

        try:
            form: FormData = await StarletteRequest(scope, replay()).form()
            username = str(form.get("username") or "").strip()
        except Exception:  # a malformed form: Gradio answers it
            username = ""
        client = client_address(scope)
        wait = self.throttle.retry_after(client, username)
        if wait is not None:
            # Gradio's login page treats any answer but 400/200 as "nothing happened".
            await self._too_many(send, wait)
            return

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                if message["status"] == 400:
                    self.throttle.failed(client, username, where="the admin console")
                elif message["status"] == 200:
                    self.throttle.succeeded(client)
                    if self.sessions is not None:
                        cookies = [v for k, v in message.get("headers", []) if k.lower() == b"set-cookie"]
                        self.sessions.issued(cookies)
            await send(message)

        await self.app(scope, replay(), counting_send)


_basic = HTTPBasic(auto_error=False, description="User `admin` and the admin password.")


def admin_user(
    request: Request, _credentials: Annotated[HTTPBasicCredentials | None, Depends(_basic)]
) -> str:
    """The admin verified by `AdminGate` (the Basic credentials are declared here for the docs)."""
    user = request.scope.get("state", {}).get("admin_user")
    if not user:
        raise ApiError(401, "unauthorized", "Admin login required.", headers={"WWW-Authenticate": "Basic"})
    return user


AdminUser = Annotated[str, Depends(admin_user)]

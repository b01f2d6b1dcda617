"""The public REST API's gate, before any handler runs or any body is read: API keys (while any key
exists, `/api/v1/chat` and the session routes need `Authorization: Bearer <key>`) and rate limits
per key, per client address and per session. Webhooks are rate-limited per client address here and
authenticated by their signature in their route; the admin API and the Gradio pages pass untouched.
"""

from __future__ import annotations

import anyio.to_thread
from starlette.types import ASGIApp, Receive, Scope, Send

from integrations import RateLimited
from integrations.wiring import Integrations
from web.admin_auth import client_address
from web.errors import DATABASE_ERRORS, database_trouble, error_body
from web.middleware import send_json

CHAT_PATH = "/api/v1/chat"
SESSIONS_PREFIX = "/api/v1/sessions/"
WEBHOOKS_PREFIX = "/api/v1/webhooks/"


def _bearer(scope: Scope) -> str | None:
    header = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


class ApiGate:
    """Answers 401 (no or bad key, while keys are required) and 429 (with `Retry-After`) itself."""

    def __init__(self, app: ASGIApp, *, integrations: Integrations) -> None:
        self.app = app
        self.integrations = integrations

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] == "OPTIONS":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        limits = self.integrations.limits
        try:
            if path.startswith(WEBHOOKS_PREFIX):
                limits.hit("client address", client_address(scope))
            elif path == CHAT_PATH or path.startswith(SESSIONS_PREFIX):
                who = await self._authenticate(scope, send)
                if who is None:
                    return
                if who == "":
                    limits.hit("client address", client_address(scope))
                else:
                    limits.hit("API key", who)
                if path.startswith(SESSIONS_PREFIX):
                    limits.hit("conversation", path.removeprefix(SESSIONS_PREFIX).split("/", 1)[0])
        except RateLimited as exc:
            body = error_body("too_many_requests", str(exc))
            await send_json(send, 429, body, {"Retry-After": str(exc.retry_after)})
            return
        except DATABASE_ERRORS as exc:
            # The keys live in the database: out of reach, the route's own 503, not a 500.
            trouble = database_trouble(exc)
            if trouble is None:
                raise
            await send_json(send, trouble.status, error_body(trouble.code, trouble.message), trouble.headers)
            return
        await self.app(scope, receive, send)

    async def _authenticate(self, scope: Scope, send: Send) -> str | None:
        """The key's name, "" for an anonymous call that is allowed, None when refused (answered)."""
        keys = self.integrations.keys
        token = _bearer(scope)
        if token is not None:
            name = await anyio.to_thread.run_sync(keys.identify, token)
            if name is None:
                body = error_body("invalid_api_key", "The API key is unknown or revoked.")
                await send_json(send, 401, body, {"WWW-Authenticate": 'Bearer error="invalid_token"'})
            return name
        if await anyio.to_thread.run_sync(keys.required):
            body = error_body("api_key_required", "This API needs a key: send `Authorization: Bearer <key>`.")
            await send_json(send, 401, body, {"WWW-Authenticate": "Bearer"})
            return None
        return ""

"""Pure ASGI middleware around the whole app: a streaming request-body cap, security headers, and
the one JSON error shape for error responses that Starlette or the mounted Gradio apps write.

Pure ASGI (no BaseHTTPMiddleware) so that the body cap counts bytes as `receive()` delivers them and
nothing reads a body that will be refused.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from http import HTTPStatus

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web.errors import error_body

# HTTP status → the error code clients see when the response did not name one itself.
STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
    415: "unsupported_type",
    422: "invalid_request",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}


async def send_json(send: Send, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
    """Answer with a JSON body from inside a middleware."""
    data = json.dumps(body).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": data})


class BodyTooLarge(Exception):
    """Raised inside `receive()` once a request body passes its cap."""


class BodySizeLimit:
    """Refuses request bodies over a per-path cap with a 413, counting bytes as they arrive.

    `Content-Length` over the cap is refused before anything is read; a chunked body (or one whose
    `Content-Length` lies) is cut off as soon as the bytes received pass the cap: the 413 goes out at
    once, the application sees the client as disconnected, and whatever it answers is dropped.
    `limits` is a list of (path prefix, bytes), the first match wins; `default` covers the rest.
    """

    def __init__(self, app: ASGIApp, *, limits: Sequence[tuple[str, int]], default: int) -> None:
        self.app = app
        self.limits = list(limits)
        self.default = default

    def limit_for(self, path: str) -> int:
        return next((size for prefix, size in self.limits if path.startswith(prefix)), self.default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        too_large = error_body("request_too_large", f"The request body is over {limit} bytes.")
        length = dict(scope["headers"]).get(b"content-length", b"")
        if length.isdigit() and int(length) > limit:
            await send_json(send, 413, too_large, {"Connection": "close"})
            return

        received = 0
        answered = False  # the 413 went out: the application's own answer is dropped

        async def counted_receive() -> Message:
            nonlocal received, answered
            if answered:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    answered = True
                    await send_json(send, 413, too_large, {"Connection": "close"})
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not answered:
                await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            # Reading a body that ended in a disconnect raises in some handlers; the client has its 413.
            if not answered:
                raise


# Pages (Gradio, Swagger UI) need inline scripts and styles; JSON answers need nothing at all.
PAGE_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; "
    "media-src 'self' data: blob:; connect-src 'self'; worker-src 'self' blob:; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
API_CSP = "default-src 'none'; frame-ancestors 'none'"
API_PREFIXES = ("/api/", "/healthz", "/openapi.json")


class SecurityHeaders:
    """Adds CSP, anti-framing, nosniff and referrer headers to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = API_CSP if scope["path"].startswith(API_PREFIXES) else PAGE_CSP

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", csp)
                headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _reshaped(status: int, content_type: str, body: bytes) -> bytes | None:
    """An error body in the one shape, or None when it already has it (or is not ours to touch)."""
    try:
        message = HTTPStatus(status).phrase
    except ValueError:
        message = "Error"
    extra: dict = {}
    if content_type.startswith("application/json"):
        try:
            parsed = json.loads(body or b"null")
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
            return None
        if isinstance(parsed, dict) and "detail" in parsed:
            # Gradio's own client reads `detail` (its login page shows `detail.auth_message`): keep it.
            extra["detail"] = detail = parsed["detail"]
            if isinstance(detail, str):
                message = detail
            elif isinstance(detail, dict) and isinstance(detail.get("error"), str):
                message = detail["error"]
    elif content_type.startswith("text/plain"):
        text = body.decode("utf-8", "replace").strip()
        message = text[:500] or message
    elif body:
        return None  # HTML or another type: a page, left as it is
    return json.dumps(error_body(STATUS_CODES.get(status, "http_error"), message, **extra)).encode()


class JsonErrorShape:
    """Rewrites error responses (status >= 400) that lack `{"error": {"code", "message"}}`.

    Our own handlers already answer in that shape; this catches the rest: Starlette's 404/405 and
    CORS refusals, and the mounted Gradio apps' 401/404/405/413 and login errors. Bodies are small,
    so they are buffered; a compressed or large body is passed on untouched.
    """

    MAX_BUFFER = 64 * 1024

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] == "HEAD":
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def reshaping_send(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if message["status"] >= 400 and "content-encoding" not in headers:
                    start = message
                    return
                await send(message)
                return
            if start is None or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            size = sum(len(c) for c in chunks)
            if message.get("more_body", False) and size <= self.MAX_BUFFER:
                return
            body = b"".join(chunks)
            headers = MutableHeaders(scope=start)
            new_body = None
            if not message.get("more_body", False):
                new_body = _reshaped(start["status"], headers.get("content-type", ""), body)
            if new_body is not None:
                body = new_body
                headers["content-type"] = "application/json"
                headers["content-length"] = str(len(body))
            await send(start)
            await send(
                {"type": "http.response.body", "body": body, "more_body": message.get("more_body", False)}
            )
            start = None

        await self.app(scope, receive, reshaping_send)

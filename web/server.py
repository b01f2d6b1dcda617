"""Builds the one FastAPI app: REST routes, offline /docs, the admin console at /admin and the chat
at /, wrapped in the HTTP-surface middleware (body cap, admin gate, CORS, error shape, headers)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import anyio.to_thread
import gradio as gr
from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from fastapi_offline import FastAPIOffline
from starlette.middleware.cors import CORSMiddleware

from llm.probe import keep_fresh
from web.admin_auth import AdminGate
from web.admin_sessions import ConsoleSessions
from web.admin_ui import build_admin_ui
from web.api import build_api
from web.api_gate import ApiGate
from web.chat_ui import build_chat_ui
from web.errors import ApiError, install_api_fallback, install_error_handlers
from web.login_throttle import LoginThrottle
from web.middleware import BodySizeLimit, JsonErrorShape, SecurityHeaders
from web.services import Services

# A JSON chat request is small; anything bigger is refused while it arrives.
MAX_JSON_BODY = 256 * 1024
# Gradio event payloads carry the whole chat history shown in the page, so they get more room.
MAX_GRADIO_BODY = 2 * 1024 * 1024
# Room for the multipart framing around an uploaded file.
MULTIPART_OVERHEAD = 64 * 1024
# Gradio's temporary files (admin uploads) are deleted once an hour when older than an hour, and
# all of them when the server stops.
GRADIO_CACHE_EXPIRY = (3600, 3600)
# How often an idle Gradio queue looks for new events. Gradio's own 1 ms (0.01 s for progress) made
# the two queues (chat page, admin console) wake the server's event loop ~2,200 times a second with
# nobody on either page: 6.7 % of a core, and a wake-up between the API's requests every millisecond.
# A click waits at most this long more to start.
GRADIO_IDLE_POLL_S = 0.02
# Gradio's routes that write files to disk; the chat's are refused.
CHAT_FILE_ROUTES = ("/gradio_api/upload", "/gradio_api/process_recording")

API_DESCRIPTION = """
Frontdesk's REST API. Every error answers `{"error": {"code", "message"}}` with the status:
401 admin login, 404 unknown, 405 wrong method, 409 conflict, 413 too large, 415 unsupported type,
422 invalid input, 429 too many failed logins or requests (with `Retry-After`), 503 model
unavailable. The admin routes use HTTP Basic (user `admin`). While any API key exists (admin-created
or `FRONTDESK_API_KEYS`), the chat and session routes need `Authorization: Bearer <key>`; webhooks
are authenticated by their `Frontdesk-Signature` alone.
"""


def _body_limits(upload_limit: int) -> list[tuple[str, int]]:
    upload = upload_limit + MULTIPART_OVERHEAD
    return [
        ("/api/v1/admin/documents", upload),
        ("/admin/gradio_api/upload", upload),
        ("/api/", MAX_JSON_BODY),
    ]


def _lifespan(services: Services, concurrency: int) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Sizes the worker threads for `concurrency` turns, runs the outbox's delivery worker and the
    backend probe's watch (llm/probe.py) while the app serves, and finishes webhook turns a crash cut
    short."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        limiter = anyio.to_thread.current_default_thread_limiter()
        limiter.total_tokens = max(limiter.total_tokens, concurrency + 8)
        outbox = services.integrations.outbox if services.integrations else None
        if services.integrations is not None:
            services.integrations.outbox.start()
            services.integrations.webhooks.resume()
        watch = asyncio.create_task(keep_fresh(services.backend)) if services.backend is not None else None
        try:
            yield
        finally:
            if watch is not None:
                watch.cancel()
            if outbox is not None:
                outbox.stop()

    return lifespan


def create_app(services: Services) -> FastAPI:
    settings = services.settings
    # Turns run in worker threads (the sync routes, the chat's handlers) while they wait for the
    # model: as many threads as turns worth running at once (more for a server that batches).
    concurrency = settings.chat_concurrency or services.agent.backend.concurrent_turns

    app = FastAPIOffline(
        lifespan=_lifespan(services, concurrency),
        title="Frontdesk",
        version="0.1.0",
        description=API_DESCRIPTION,
        redoc_url=None,
        static_url="/docs-assets",
    )
    app.state.services = services
    install_error_handlers(app)
    app.include_router(build_api(services))
    install_api_fallback(app)

    # Innermost first: the admin gate runs before any body is read, inside the body cap.
    app.add_middleware(
        AdminGate,
        auth=services.admin,
        throttle=LoginThrottle(),
        sessions=ConsoleSessions(lifetime_s=settings.admin_session_minutes * 60),
    )
    if services.integrations is not None:
        app.add_middleware(ApiGate, integrations=services.integrations)
    upload_limit = settings.max_upload_bytes
    app.add_middleware(BodySizeLimit, limits=_body_limits(upload_limit), default=MAX_GRADIO_BODY)
    # Same-origin only unless FRONTDESK_CORS_ORIGINS names a website widget's origins; never
    # credentials (cookies): the widget sends an API key (Gradio then adds no CORS of its own).
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(settings.cors_origins),
        allow_credentials=False,
        allow_methods=["GET", "POST"],
        allow_headers=["Authorization", "Content-Type"],
        expose_headers=["Retry-After", "X-Session-Id"],
    )
    app.add_middleware(JsonErrorShape)
    app.add_middleware(SecurityHeaders)

    @app.get("/admin", include_in_schema=False)
    def admin_redirect(request: Request) -> RedirectResponse:
        return RedirectResponse(f"{request.scope.get('root_path', '')}/admin/", status_code=307)

    def no_chat_uploads() -> None:
        # The chat has no file input: nothing may write files through it.
        raise ApiError(403, "uploads_refused", "The chat does not accept file uploads.")

    for path in CHAT_FILE_ROUTES:
        app.add_api_route(path, no_chat_uploads, methods=["POST"], include_in_schema=False)

    # Gradio keeps uploads and generated files in GRADIO_TEMP_DIR, read when the Blocks are built.
    os.environ["GRADIO_TEMP_DIR"] = str((settings.data_dir / "gradio").resolve())
    admin = build_admin_ui(services)
    admin.delete_cache = GRADIO_CACHE_EXPIRY
    admin.queue(default_concurrency_limit=4)
    _poll_calmly(admin)
    gr.mount_gradio_app(
        app,
        admin,
        path="/admin",
        auth=services.admin.verify,
        auth_message="Frontdesk admin: user 'admin' and the admin password.",
        max_file_size=upload_limit,
        footer_links=[],
    )
    chat = build_chat_ui(services)
    chat.delete_cache = GRADIO_CACHE_EXPIRY
    # Gradio's default concurrency of 1 would make every customer wait for every other one; its
    # handlers run in its own pool of `max_threads`.
    chat.max_threads = max(chat.max_threads, concurrency + 8)
    chat.queue(default_concurrency_limit=concurrency)
    _poll_calmly(chat)
    gr.mount_gradio_app(app, chat, path="", footer_links=[], max_file_size=0)
    return app


def _poll_calmly(blocks: gr.Blocks) -> None:
    """Make the queue of `blocks` look for events every GRADIO_IDLE_POLL_S while idle (the queue has
    no public setting for it: these are the two attributes its loops read each time round)."""
    queue = blocks._queue
    queue.sleep_when_free = GRADIO_IDLE_POLL_S
    queue.progress_update_sleep_when_free = GRADIO_IDLE_POLL_S

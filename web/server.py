"""Builds the one FastAPI app: REST routes, then the admin console at /admin and the chat at /."""

from __future__ import annotations

import gradio as gr
from fastapi import FastAPI, Request
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.responses import Response

from web.admin_ui import build_admin_ui
from web.api import build_api
from web.chat_ui import build_chat_ui
from web.errors import error_response, install_error_handlers
from web.services import Services

# A JSON chat request is small; anything bigger than this is refused before it is read.
MAX_JSON_BODY = 256 * 1024


class BodySizeLimit(BaseHTTPMiddleware):
    def __init__(self, app: FastAPI, *, upload_limit: int) -> None:
        super().__init__(app)
        self.upload_limit = upload_limit

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        length = request.headers.get("content-length")
        if length and length.isdigit() and request.url.path.startswith("/api/"):
            limit = self.upload_limit + 64 * 1024 if "/admin/" in request.url.path else MAX_JSON_BODY
            if int(length) > limit:
                return error_response(413, "request_too_large", f"The request body is over {limit} bytes.")
        return await call_next(request)


def create_app(services: Services) -> FastAPI:
    app = FastAPI(title="Frontdesk", version="0.1.0")
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, upload_limit=services.settings.max_upload_bytes)
    app.include_router(build_api(services))

    admin = build_admin_ui(services)
    admin.queue(default_concurrency_limit=4)
    gr.mount_gradio_app(
        app,
        admin,
        path="/admin",
        auth=services.admin.check,
        auth_message="Frontdesk admin: user 'admin' and the admin password.",
        max_file_size=services.settings.max_upload_bytes,
        footer_links=[],
    )
    chat = build_chat_ui(services)
    # Gradio's default concurrency of 1 would make every customer wait for every other one.
    chat.queue(default_concurrency_limit=32)
    gr.mount_gradio_app(app, chat, path="", footer_links=[])
    return app

"""One JSON error shape for every failure: {"error": {"code", "message"}} with the right status."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from agents.validation import InvalidMessageError
from knowledge.loaders import DocumentError
from llm.factory import BackendUnavailableError
from memory.store import UnknownSessionError
from memory.window import ContextOverflowError

log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: object
) -> JSONResponse:
    """The error body; `extra` adds top-level fields (e.g. the session a saved message went to)."""
    return JSONResponse(
        {"error": {"code": code, "message": message}, **extra}, status_code=status, headers=headers
    )


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        parts.append(f"{where or 'body'}: {err.get('msg')}")
    return "; ".join(parts) or "invalid request"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, "invalid_request", _validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized"}.get(
            exc.status_code, "http_error"
        )
        return error_response(exc.status_code, code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(InvalidMessageError)
    async def _bad_message(_: Request, exc: InvalidMessageError) -> JSONResponse:
        return error_response(exc.status, exc.code, str(exc))

    @app.exception_handler(DocumentError)
    async def _bad_document(_: Request, exc: DocumentError) -> JSONResponse:
        return error_response(exc.status, exc.code, str(exc))

    @app.exception_handler(UnknownSessionError)
    async def _unknown_session(_: Request, exc: UnknownSessionError) -> JSONResponse:
        return error_response(404, "unknown_session", "No conversation has this session id.")

    @app.exception_handler(ContextOverflowError)
    async def _overflow(_: Request, exc: ContextOverflowError) -> JSONResponse:
        return error_response(413, "context_overflow", str(exc))

    @app.exception_handler(BackendUnavailableError)
    async def _backend(_: Request, exc: BackendUnavailableError) -> JSONResponse:
        return backend_unavailable(exc)


BACKEND_UNAVAILABLE = (
    "The assistant's language model is unavailable right now; your message was saved. "
    "Please try again in a moment."
)


def backend_unavailable(exc: BackendUnavailableError, session_id: str | None = None) -> JSONResponse:
    log.warning("LLM backend unavailable: %s", exc)
    extra = {"session_id": session_id} if session_id else {}
    return error_response(503, "backend_unavailable", BACKEND_UNAVAILABLE, **extra)

"""One JSON error shape for every failure: {"error": {"code", "message"}} with the right status."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount

from agents.validation import InvalidMessageError
from commerce import RefundDecisionError, UnknownRecordError
from handoff import HandoffConflictError
from knowledge.loaders import DocumentError
from llm.factory import BackendUnavailableError
from memory.store import UnknownSessionError
from memory.turnlock import TurnBusyError
from memory.window import ContextOverflowError

log = logging.getLogger(__name__)
API_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers


def error_body(code: str, message: str, **extra: object) -> dict[str, Any]:
    """The error body; `extra` adds top-level fields (e.g. the session a saved message went to)."""
    return {"error": {"code": code, "message": message}, **extra}


DatabaseError = OperationalError | PoolTimeoutError
DATABASE_ERRORS = (OperationalError, PoolTimeoutError)  # the same, for `except`


def database_trouble(exc: DatabaseError) -> ApiError | None:
    """The 503 for a database that is busy or out of reach, or None for an error that is a bug.

    Busy: every pooled connection stayed in use, or SQLite's one writer past its busy timeout (this
    process is overloaded; PostgreSQL is the database for many concurrent conversations). Out of reach:
    a server database's operational errors (refused or dropped connections, "too many clients", a
    shutdown, a failed serialisation), worth retrying. SQLite reports programming errors ("no such
    table") as operational too: those are bugs.
    """
    if isinstance(exc, PoolTimeoutError) or "database is locked" in str(exc):
        return ApiError(
            503,
            "overloaded",
            "The service is busy right now; please try again in a moment.",
            {"Retry-After": "5"},
        )
    if type(exc.orig).__module__ != "sqlite3":
        log.warning("database unavailable: %s", exc.orig)
        return ApiError(
            503,
            "database_unavailable",
            "The service cannot reach its database right now; please try again in a moment.",
            {"Retry-After": "5"},
        )
    return None


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: object
) -> JSONResponse:
    return JSONResponse(error_body(code, message, **extra), status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        if err.get("type") == "json_invalid":
            # pydantic's "12: JSON decode error" names only the character position.
            detail = (err.get("ctx") or {}).get("error") or "not valid JSON"
            parts.append(f"the body is not valid JSON ({detail}, at character {where or 0})")
        elif not where and err.get("type") in ("model_attributes_type", "dict_type"):
            parts.append("the body must be a JSON object, sent with Content-Type: application/json")
        else:
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
        if exc.status_code == 400:
            # Only body parsing raises a bare 400 (FastAPI's "error parsing the body", Starlette's
            # invalid multipart or form data): that is invalid input like any other.
            return error_response(
                422, "invalid_request", f"The request body could not be parsed: {exc.detail}"
            )
        code = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized"}.get(
            exc.status_code, "http_error"
        )
        return error_response(exc.status_code, code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        # Starlette's last resort would answer a plain-text 500; keep the one shape even here
        # (Starlette still re-raises the exception afterwards, so the server logs it).
        return error_response(500, "internal_error", "Something went wrong on our side.")

    @app.exception_handler(InvalidMessageError)
    async def _bad_message(_: Request, exc: InvalidMessageError) -> JSONResponse:
        return error_response(exc.status, exc.code, str(exc))

    @app.exception_handler(DocumentError)
    async def _bad_document(_: Request, exc: DocumentError) -> JSONResponse:
        return error_response(exc.status, exc.code, str(exc))

    @app.exception_handler(UnknownSessionError)
    async def _unknown_session(_: Request, exc: UnknownSessionError) -> JSONResponse:
        return error_response(404, "unknown_session", "No conversation has this session id.")

    @app.exception_handler(HandoffConflictError)
    async def _handoff_conflict(_: Request, exc: HandoffConflictError) -> JSONResponse:
        return error_response(409, "conflict", str(exc))

    @app.exception_handler(RefundDecisionError)
    async def _refund_decided(_: Request, exc: RefundDecisionError) -> JSONResponse:
        return error_response(409, "already_decided", str(exc))

    @app.exception_handler(UnknownRecordError)
    async def _unknown_record(_: Request, exc: UnknownRecordError) -> JSONResponse:
        return error_response(404, "not_found", str(exc))

    @app.exception_handler(TurnBusyError)
    async def _busy(_: Request, exc: TurnBusyError) -> JSONResponse:
        return error_response(
            503, "conversation_busy", "Earlier messages of this conversation are still being answered."
        )

    @app.exception_handler(PoolTimeoutError)
    @app.exception_handler(OperationalError)
    async def _database(request: Request, exc: DatabaseError) -> JSONResponse:
        trouble = database_trouble(exc)
        if trouble is None:
            log.error("database error", exc_info=exc)
            return error_response(500, "internal_error", "Something went wrong on our side.")
        return await _api_error(request, trouble)

    @app.exception_handler(ContextOverflowError)
    async def _overflow(_: Request, exc: ContextOverflowError) -> JSONResponse:
        return error_response(413, "context_overflow", str(exc))

    @app.exception_handler(BackendUnavailableError)
    async def _backend(_: Request, exc: BackendUnavailableError) -> JSONResponse:
        return backend_unavailable(exc)


def install_api_fallback(app: FastAPI) -> None:
    """Unknown paths under /api answer a JSON 404, and known paths with a wrong method a 405.

    Without it, unknown API paths would fall through to the chat UI mounted at "/". Added after
    every API route, so a wrong method on a real route reaches it too and is told which are allowed.
    """

    @app.api_route("/api/{path:path}", methods=[*API_METHODS], include_in_schema=False)
    def unknown_api_route(request: Request, path: str) -> None:
        # The routes that would take this path with another method (Gradio's mounts excluded).
        routes = [
            route
            for route in app.router.routes
            if not isinstance(route, Mount) and getattr(route, "endpoint", None) is not unknown_api_route
        ]
        allowed = [
            method
            for method in API_METHODS
            if any(route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes)
        ]
        if allowed:
            raise ApiError(
                405,
                "method_not_allowed",
                f"/api/{path} does not take {request.method}; it takes {', '.join(allowed)}.",
                headers={"Allow": ", ".join(allowed)},
            )
        raise ApiError(404, "not_found", f"There is no API endpoint /api/{path}.")


BACKEND_UNAVAILABLE = (
    "The assistant's language model is unavailable right now; your message was saved. "
    "Please try again in a moment."
)


def backend_unavailable(exc: BackendUnavailableError, session_id: str | None = None) -> JSONResponse:
    log.warning("LLM backend unavailable: %s", exc)
    if session_id:
        return error_response(503, "backend_unavailable", BACKEND_UNAVAILABLE, session_id=session_id)
    return error_response(503, "backend_unavailable", BACKEND_UNAVAILABLE)

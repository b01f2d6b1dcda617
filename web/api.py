"""The REST API under /api/v1 (chat, history, admin knowledge base) and GET /healthz."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, UploadFile
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, StrictBool, StrictStr

from agents.turn import TurnEvent
from llm.factory import BackendUnavailableError
from web.admin_auth import require_admin
from web.errors import ApiError, backend_unavailable
from web.services import Services


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    message: StrictStr
    session_id: StrictStr | None = None
    stream: StrictBool = False


def _sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _sse_events(first: TurnEvent, events: Iterator[TurnEvent]) -> Iterator[str]:
    def encode(event: TurnEvent) -> str:
        if event.kind == "token":
            return _sse("token", {"text": event.text})
        if event.kind == "tool":
            return _sse("tool", event.tool or {})
        return _sse("done", event.result.public() if event.result else {})

    yield encode(first)
    try:
        for event in events:
            yield encode(event)
    except BackendUnavailableError:
        yield _sse(
            "error",
            {
                "error": {
                    "code": "backend_unavailable",
                    "message": "The language model stopped answering; your message was saved.",
                }
            },
        )


def build_api(services: Services) -> APIRouter:
    router = APIRouter()
    admin = Depends(require_admin(services.admin))

    @router.get("/healthz")
    def healthz() -> dict[str, Any]:
        return {
            "status": "ok",
            "model": services.model_description,
            "documents": len(services.knowledge.documents()) if services.knowledge else 0,
        }

    @router.post("/api/v1/chat", response_model=None)
    def chat(request: ChatRequest) -> Response | dict[str, Any]:
        # An unknown session id raises UnknownSessionError there: a 404 from the error handlers.
        stored = services.agent.accept(request.message, session_id=request.session_id)
        events = services.agent.stream(stored.session_id, stored.id)
        try:
            if not request.stream:
                for event in events:
                    if event.kind == "done" and event.result:
                        return event.result.public()
                raise ApiError(500, "no_result", "The turn ended without a reply.")
            # Pull the first event before answering, so a dead backend is a 503, not a broken stream.
            first = next(events)
        except BackendUnavailableError as exc:
            # The message is stored: tell the client which session it went to, so it can retry there.
            return backend_unavailable(exc, stored.session_id)
        return StreamingResponse(
            _sse_events(first, events),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Session-Id": stored.session_id},
        )

    @router.get("/api/v1/sessions/{session_id}/messages")
    def messages(session_id: str) -> dict[str, Any]:
        history = services.store.messages(session_id)
        return {"session_id": session_id, "messages": [m.public() for m in history]}

    # -- admin: knowledge base ---------------------------------------------------------------------

    def knowledge():
        if services.knowledge is None:
            raise ApiError(503, "knowledge_disabled", "The knowledge base is not configured.")
        return services.knowledge

    @router.get("/api/v1/admin/documents", dependencies=[admin])
    def list_documents() -> dict[str, Any]:
        return {"documents": knowledge().documents()}

    @router.post("/api/v1/admin/documents", dependencies=[admin], response_model=None)
    def upload_document(file: UploadFile) -> JSONResponse:
        data = file.file.read(services.settings.max_upload_bytes + 1)
        result = knowledge().ingest(file.filename or "", data)
        return JSONResponse(result.public(), status_code=201 if result.status == "added" else 200)

    @router.delete("/api/v1/admin/documents/{doc_id}", dependencies=[admin], status_code=204)
    def delete_document(doc_id: str) -> Response:
        if not knowledge().delete(doc_id):
            raise ApiError(404, "unknown_document", f"No document has the id {doc_id!r}.")
        return Response(status_code=204)

    @router.post("/api/v1/admin/documents/{doc_id}/reindex", dependencies=[admin])
    def reindex_document(doc_id: str) -> dict[str, Any]:
        try:
            return knowledge().reindex(doc_id).public()
        except KeyError:
            raise ApiError(404, "unknown_document", f"No document has the id {doc_id!r}.") from None

    @router.get("/api/v1/admin/kb/search", dependencies=[admin])
    def search(
        q: Annotated[str, Query(min_length=1, max_length=2000)], k: Annotated[int, Query(ge=1, le=50)] = 3
    ) -> dict[str, Any]:
        chunks = knowledge().search(q, k=k)
        return {"query": q, "results": [{**c.citation(), "text": c.text} for c in chunks]}

    @router.api_route(
        "/api/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False
    )
    def unknown_api_route(path: str) -> Response:
        # Without this, unknown API paths would fall through to the chat UI mounted at "/".
        raise ApiError(404, "not_found", f"There is no API endpoint /api/{path}.")

    return router

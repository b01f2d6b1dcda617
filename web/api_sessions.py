"""Public read routes: `GET /healthz` and a session's stored history."""

from __future__ import annotations

from fastapi import APIRouter

from memory.order import conversation_order
from web.schemas import BackendStatus, Health, History, error_responses
from web.services import ServicesDep

router = APIRouter()


@router.get("/healthz", tags=["health"], summary="Liveness: the model and the knowledge base size")
def healthz(services: ServicesDep) -> Health:
    """Answers once the app (and its model) is loaded; with the `openai` backend, what its server
    said when last asked (`backend`): `status` is "degraded" while it is unreachable or lacks tools."""
    backend = None
    status = "ok"
    if services.backend is not None:
        probe = services.backend.current()
        backend = BackendStatus(**probe.public(), context_tokens=services.agent.config.context_tokens)
        if not probe.reachable or probe.model is None or probe.tool_problems:
            status = "degraded"
    return Health(
        status=status,
        model=services.model_description,
        documents=len(services.knowledge.documents()) if services.knowledge else 0,
        backend=backend,
    )


@router.get(
    "/api/v1/sessions/{session_id}/messages",
    tags=["chat"],
    summary="A conversation's whole stored history",
    responses=error_responses(401, 404, 422, 429),
)
def messages(session_id: str, services: ServicesDep) -> History:
    """Every stored message of the session in conversation order: each customer message followed by
    the rows that answer it (`reply_to`: tool steps, tool results, the reply), as the chat shows them;
    the ids give the order they were stored in. Knowing the session id is what grants access."""
    history = conversation_order(services.store.messages(session_id))
    state = services.handoff.state(session_id) if services.handoff else "bot"
    return History.model_validate(
        {"session_id": session_id, "state": str(state), "messages": [m.public() for m in history]}
    )

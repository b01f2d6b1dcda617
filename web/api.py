"""The chat route `POST /api/v1/chat` (JSON or server-sent events); `build_api` gathers every REST router."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

from agents.turn import TurnEvent
from integrations import RateLimited
from llm.factory import BackendUnavailableError
from memory.window import ContextOverflowError
from web.api_documents import router as documents_router
from web.api_feedback import router as feedback_router
from web.api_handoff import router as handoff_router
from web.api_integrations import router as integrations_router
from web.api_prompts import router as prompts_router
from web.api_review import router as review_router
from web.api_sessions import router as sessions_router
from web.api_webhooks import rate_limited
from web.api_webhooks import router as webhooks_router
from web.errors import ApiError, backend_unavailable, error_response
from web.schemas import ChatReply, error_responses
from web.services import Services


class ChatRequest(BaseModel):
    """A customer's message; `session_id` continues a conversation, null (or absent) starts one."""

    model_config = ConfigDict(extra="ignore")

    message: StrictStr = Field(
        description="The customer's message; trimmed, not empty, no control characters."
    )
    session_id: StrictStr | None = Field(default=None, description="A session id from an earlier reply.")
    stream: StrictBool = Field(default=False, description="Answer as `text/event-stream` (see below).")


CHAT_DESCRIPTION = """
Stores the message first (an unknown `session_id` is a 404), then answers it from the knowledge
base. With `"stream": false` the answer is one JSON object (`ChatReply`). A message to a session a
person closed starts a new session: the reply's `session_id` (and `X-Session-Id`) names it.

With `"stream": true` the answer is `text/event-stream` (header `X-Session-Id` names the session):

- `event: token`, `data: {"text": "..."}`: answer text as it is generated;
- `event: tool`, `data: {"name", "arguments", "result"}`: a finished tool call;
- `event: error`, `data: {"error": {"code": "backend_unavailable", "message"}}`: at most once, when
  the model stops answering mid-stream (the message stays saved);
- `event: done`, `data`: the `ChatReply` object, last.

A model that is down before the first event is a 503, and a message too long for the model's context
even alone a 413 `context_overflow`: both bodies carry the `session_id` the message was saved to.

A client that disconnects mid-stream (or before the first event: in `checked` mode that can be a
while) stops the answer: the generation is cancelled (the model server stops too), the message stays saved and is marked failed (shown as unanswered, left out of later
answers' context), and no half reply is stored. Without streaming, the answer is finished and saved
whatever the client does.
"""

SSE_EXAMPLE = (
    'event: token\ndata: {"text": "You have 30 days"}\n\n'
    'event: done\ndata: {"session_id": "...", "message_id": 2, "reply": "You have 30 days...", '
    '"citations": [], "tool_calls": [], "handoff": false}\n\n'
)


def _sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


# How often a stream that has sent nothing yet looks whether its client is still there; the status
# logged for a client that left before the first event (nginx's "client closed request").
GONE_POLL_S = 0.25
CLIENT_CLOSED = 499


async def _first_unless_gone(events: AsyncGenerator[TurnEvent, None], http: Request) -> TurnEvent | None:
    """The stream's first event, or None when the client left before it came: then the turn is
    cancelled (it stores no reply, and marks the message failed), as when it leaves mid-stream.
    Nothing is written before the first event, so only asking tells that the client went away."""
    first = asyncio.ensure_future(anext(events))
    while not first.done():
        await asyncio.wait({first}, timeout=GONE_POLL_S)
        if not first.done() and await http.is_disconnected():
            first.cancel()
            await asyncio.wait({first})
            await events.aclose()
            return None
    return first.result()


async def _sse_events(first: TurnEvent, events: AsyncGenerator[TurnEvent, None]) -> AsyncIterator[str]:
    def encode(event: TurnEvent) -> str:
        if event.kind == "token":
            return _sse("token", {"text": event.text})
        if event.kind == "tool":
            return _sse("tool", event.tool or {})
        return _sse("done", event.result.public() if event.result else {})

    try:
        yield encode(first)
        async for event in events:
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
    finally:
        # Closed early (the client went away): the turn is cancelled now, not when collected.
        await events.aclose()


def build_api(services: Services) -> APIRouter:
    """Every REST route: health, chat, session history and the admin knowledge base."""
    router = APIRouter()
    router.include_router(sessions_router)
    router.include_router(feedback_router)

    @router.post(
        "/api/v1/chat",
        tags=["chat"],
        summary="Send a customer message and get the agent's reply",
        description=CHAT_DESCRIPTION,
        # Documented, not enforced: the handler's answer goes out as it is.
        response_model=None,
        responses={
            200: {
                "model": ChatReply,
                "description": "The reply (JSON), or the event stream when `stream` is true.",
                "content": {"text/event-stream": {"schema": {"type": "string"}, "example": SSE_EXAMPLE}},
            },
            **error_responses(401, 404, 413, 422, 429, 503),
        },
    )
    async def chat(request: ChatRequest, http: Request) -> Response | dict[str, Any]:
        if request.session_id is not None and services.integrations is not None:
            try:
                services.integrations.limits.hit("conversation", request.session_id)
            except RateLimited as exc:
                raise rate_limited(exc) from None
        # An unknown session id raises UnknownSessionError there: a 404 from the error handlers.
        stored = await asyncio.to_thread(
            services.agent.accept, request.message, session_id=request.session_id
        )
        try:
            if not request.stream:
                result = await services.agent.aresult(stored.session_id, stored.id)
                if result is None:
                    raise ApiError(500, "no_result", "The turn ended without a reply.")
                return result.public()
            events = services.agent.astream(stored.session_id, stored.id)
            # Pull the first event before answering, so a dead backend is a 503, not a broken stream.
            first = await _first_unless_gone(events, http)
            if first is None:
                return Response(status_code=CLIENT_CLOSED)
        except BackendUnavailableError as exc:
            # The message is stored: tell the client which session it went to, so it can retry there.
            return backend_unavailable(exc, stored.session_id)
        except ContextOverflowError as exc:
            # Too long for the model even alone: stored (and shown as unanswered) in this session.
            return error_response(413, "context_overflow", str(exc), session_id=stored.session_id)
        return StreamingResponse(
            _sse_events(first, events),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Session-Id": stored.session_id},
        )

    router.include_router(documents_router)
    router.include_router(handoff_router)
    router.include_router(review_router)
    router.include_router(webhooks_router)
    router.include_router(integrations_router)
    router.include_router(prompts_router)
    return router

"""The REST API's public shapes as Pydantic models, so that /docs shows every answer and error."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class PublicModel(BaseModel):
    """A response shape: documented fields, and nothing the handler returns is dropped."""

    model_config = ConfigDict(extra="allow")


class ErrorDetail(BaseModel):
    code: str = Field(description="A stable machine-readable code, e.g. `empty_message`.")
    message: str = Field(description="What went wrong, for a person.")


class ErrorBody(PublicModel):
    """Every error answer: `{"error": {"code", "message"}}`, sometimes with extra top-level fields."""

    error: ErrorDetail


class ServiceUnavailableBody(ErrorBody):
    session_id: str | None = Field(
        default=None, description="The session the message was saved to; retry there."
    )


ERROR_TEXT = {
    401: "Admin login required (HTTP Basic, user `admin`); on the public API, a missing or revoked API "
    "key while keys exist (`Authorization: Bearer <key>`).",
    404: "Unknown session, document or route.",
    405: "The path exists but not with this method.",
    409: "A document with the same content already exists under another id.",
    413: "The request body or the message is too large.",
    415: "Unsupported document type.",
    422: "Invalid input (wrong types, empty or invalid message, unparsable body).",
    429: "Too many failed logins, or too many requests; wait `Retry-After` seconds.",
    503: "The language model or the knowledge base is unavailable.",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for these error statuses, all in the one error shape."""
    return {
        status: {
            "model": ServiceUnavailableBody if status == 503 else ErrorBody,
            "description": ERROR_TEXT[status],
        }
        for status in statuses
    }


class Citation(PublicModel):
    document: str = Field(description="The document id.")
    title: str
    chunk_id: str
    score: float = Field(description="Cosine relevance, 0–1.")


class ToolCallPublic(PublicModel):
    name: str
    arguments: Any = None
    result: Any = None


class ChatReply(PublicModel):
    session_id: str
    message_id: int = Field(
        description="The id of the stored assistant message (the customer's own message while a person "
        "holds the conversation and the bot stays silent)."
    )
    reply: str = Field(description="The checked answer; empty while a person holds the conversation.")
    citations: list[Citation]
    tool_calls: list[ToolCallPublic]
    handoff: bool = Field(description="A person has (or is about to take) the conversation.")
    state: str = Field(description="The conversation's state: `bot`, `queued`, `human` or `closed`.")


class MessagePublic(PublicModel):
    id: int
    role: str = Field(
        description="`user`, `assistant`, `tool`, `human_agent` (a person's reply) or `notice` (a person "
        "joined, handed the conversation back to the assistant, or closed it)."
    )
    content: str
    created_at: str = Field(description="ISO 8601, UTC.")
    token_count: int
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None
    citations: list[Citation] | None = None
    reply_to: int | None = Field(default=None, description="The customer message this row answers.")
    status: str | None = Field(
        default=None,
        description="Customer messages: `pending`, `answered`, `failed` (not answered; left out of later "
        "context) or `human` (waiting for or handled by a person).",
    )


class History(PublicModel):
    session_id: str
    state: str = Field(
        default="bot", description="The conversation's state: `bot`, `queued`, `human`, `closed`."
    )
    messages: list[MessagePublic] = Field(
        description="The whole stored history in conversation order: each customer message followed "
        "by the rows that answer it (`reply_to`); `id` gives the order they were stored in."
    )


class BackendStatus(PublicModel):
    """What the OpenAI-compatible model server said when last asked (llm/probe.py)."""

    reachable: bool
    model: str | None = Field(default=None, description="The model the server serves.")
    max_model_len: int | None = Field(default=None, description="The server's context length, if it says.")
    named_tool_calls: bool | None = Field(
        default=None, description="A named `tool_choice` comes back as a call."
    )
    auto_tool_calls: bool | None = Field(
        default=None, description='`tool_choice="auto"` is accepted (vLLM: started with the tool flags).'
    )
    problems: list[str] = Field(default_factory=list)
    tool_problems: list[str] = Field(default_factory=list)
    context_tokens: int = Field(description="The context budget the agent uses (FIFO window and prompt).")


class Health(PublicModel):
    status: str
    model: str = Field(description="The chat model being served.")
    documents: int = Field(description="Documents in the knowledge base.")
    backend: BackendStatus | None = Field(
        default=None, description="The `openai` backend's probe (refreshed every 30 s); null when embedded."
    )


class DocumentPublic(PublicModel):
    id: str
    title: str
    filename: str
    chunks: int
    size_bytes: int
    updated_at: str


class DocumentList(PublicModel):
    documents: list[DocumentPublic]


class IngestResult(PublicModel):
    document: str = Field(description="The document id.")
    title: str
    status: str = Field(description="`added`, `updated` or `unchanged`.")
    chunks: int


class SearchHit(Citation):
    text: str


class SearchResults(PublicModel):
    query: str
    results: list[SearchHit]

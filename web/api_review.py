"""Admin REST routes for reviewing conversations: the turn inspector of a reply, ratings per prompt
version, and the fine-tuning export as JSONL (`/api/v1/admin/...`, HTTP Basic checked by `AdminGate`).
The conversation list and transcripts are the inbox routes' (web/api_handoff.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import StreamingResponse
from pydantic import Field

from review import ExportFilters, UnknownMessageError, export_lines, inspect_reply
from web.admin_auth import AdminUser
from web.api_feedback import MAX_ID
from web.errors import ApiError
from web.schemas import PublicModel, error_responses
from web.services import ServicesDep


class TraceWindow(PublicModel):
    budget: int | None = None
    system_tokens: int | None = None
    kept: list[dict[str, Any]]
    dropped: list[dict[str, Any]]
    this_turn: list[dict[str, Any]]


class TurnInspection(PublicModel):
    """Why a reply is what it is: what the model saw, what it was given, what it ran, how long it took."""

    message_id: int
    session_id: str
    reply_to: int
    reply: str
    prompt_versions: dict[str, int]
    feedback: dict[str, Any] | None
    window: TraceWindow
    retrieval: dict[str, Any]
    steps: list[dict[str, Any]]
    tool_calls: list[dict[str, Any]]
    tokens: dict[str, int | None] = Field(
        description="`input` and `output`: the sums over the model steps that reported usage (null: "
        "none did, the backend gave no usage); `unreported`: how many steps reported none (a step's "
        "`input_tokens` / `output_tokens` are then null). A step with `counted` true has the app's own "
        "count: the pieces it received of a stream it stopped (a repetition) before the server's count, "
        "and for the turn's first call the prompt as the window counted it."
    )
    timings_ms: dict[str, float | None]


class VersionRatings(PublicModel):
    prompt_version: int | None
    up: int
    down: int
    rated: int
    share_up: float


class FeedbackSummary(PublicModel):
    by_prompt_version: list[VersionRatings]


router = APIRouter(
    prefix="/api/v1/admin", tags=["admin: review"], responses=error_responses(401, 404, 422, 429)
)


@router.get("/messages/{message_id}/trace", summary="The turn inspector for one reply of the bot")
def trace(
    message_id: Annotated[int, Path(ge=1, le=MAX_ID)], _: AdminUser, services: ServicesDep
) -> TurnInspection:
    """The window the model saw (`kept`, oldest first) and what FIFO trimming `dropped`, the budget,
    the retrieved chunks with scores (`used`: went into the prompt), each tool call with arguments,
    result and time, each model step's tokens and time, the totals and the prompt versions."""
    try:
        return TurnInspection.model_validate(
            inspect_reply(services.store.engine, message_id, services.feedback)
        )
    except UnknownMessageError:
        raise ApiError(
            404, "unknown_message", "No reply of the assistant has this id (customer messages have no trace)."
        ) from None


@router.get("/feedback", summary="Customers' ratings per system prompt version")
def feedback_summary(_: AdminUser, services: ServicesDep) -> FeedbackSummary:
    rows = services.feedback.by_prompt_version()
    return FeedbackSummary.model_validate({"by_prompt_version": rows})


def _moment(value: str | None, *, name: str, end: bool) -> datetime | None:
    """An ISO date or time as an aware UTC datetime (422 otherwise); an `until` date includes that day."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            day = datetime.combine(date.fromisoformat(text), time.min, tzinfo=UTC)
            return day + timedelta(days=1) if end else day
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ApiError(
            422, "invalid_filter", f"`{name}` must be an ISO date (2026-11-26) or time, not {text[:40]!r}."
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@router.get(
    "/export",
    summary="Download conversations as JSONL for fine-tuning (SFT transcripts or DPO pairs)",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {"schema": {"type": "string"}}}}},
)
def export(
    _: AdminUser,
    services: ServicesDep,
    kind: Annotated[Literal["sft", "dpo"], Query(description="`sft` or `dpo`")] = "sft",
    since: Annotated[
        str | None, Query(max_length=40, description="Replies from (ISO date or time, UTC)")
    ] = None,
    until: Annotated[
        str | None, Query(max_length=40, description="Replies before (a date: through that day)")
    ] = None,
    rating: Annotated[
        Literal["up", "down"] | None, Query(description="SFT: conversations with a reply rated so")
    ] = None,
    prompt_version: Annotated[
        int | None, Query(ge=1, description="Replies written with this system prompt version")
    ] = None,
) -> StreamingResponse:
    """`sft`: one `{"messages": [{"role", "content"}, ...]}` per conversation (OpenAI chat format)
    that has a reply matching the filters. `dpo`: one `{"prompt": [messages], "chosen", "rejected"}`
    per down-rated reply with a better answer: a person's reply after it, or an up-rated reply to the
    same question. Only the conversation text: no ids, tool results or customer records. An empty
    store gives an empty file."""
    if kind == "dpo" and rating is not None:
        raise ApiError(
            422, "invalid_filter", "DPO pairs are always built from down-rated replies; drop `rating`."
        )
    start, end = _moment(since, name="since", end=False), _moment(until, name="until", end=True)
    if start is not None and end is not None and start >= end:
        raise ApiError(422, "invalid_filter", "`since` must be before `until`.")
    filters = ExportFilters(since=start, until=end, rating=rating, prompt_version=prompt_version)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return StreamingResponse(
        export_lines(services.store.engine, kind=kind, filters=filters),
        media_type="application/x-ndjson",
        headers={"Content-Disposition": f'attachment; filename="frontdesk-{kind}-{stamp}.jsonl"'},
    )

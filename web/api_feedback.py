"""The customer's rating of a reply: `POST /api/v1/messages/{id}/feedback`. The caller proves the
conversation by its session id (as everywhere in the public API); another session's message answers
exactly like an unknown one."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from agents.validation import clean_message
from review.feedback import MAX_COMMENT_CHARS, FeedbackService, NotRateableError, UnknownMessageError
from web.errors import ApiError
from web.schemas import PublicModel, error_responses
from web.services import ServicesDep


def feedback_service(services: ServicesDep) -> FeedbackService:
    return services.feedback


FeedbackDep = Annotated[FeedbackService, Depends(feedback_service)]


class FeedbackRequest(BaseModel):
    """A thumbs up or down for one reply; rating again replaces the earlier rating."""

    model_config = ConfigDict(extra="forbid")
    session_id: StrictStr = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="The conversation the reply is in.",
    )
    rating: Literal["up", "down"]
    comment: StrictStr = Field(default="", max_length=MAX_COMMENT_CHARS)


class FeedbackPublic(PublicModel):
    message_id: int
    session_id: str
    rating: str = Field(description="`up` or `down`.")
    comment: str
    prompt_version: int | None = Field(description="The system prompt version the reply was written with.")
    created_at: str
    updated_at: str


# Message ids are 32-bit integers in PostgreSQL: a larger one cannot name a message.
MAX_ID = 2**31 - 1
router = APIRouter()


@router.post(
    "/api/v1/messages/{message_id}/feedback",
    tags=["chat"],
    summary="Rate a reply thumbs up or down (the conversation's own replies only)",
    responses=error_responses(404, 422),
)
def rate(
    message_id: Annotated[int, Path(ge=1, le=MAX_ID)], body: FeedbackRequest, feedback: FeedbackDep
) -> FeedbackPublic:
    """404 when the session has no such message (also another session's); 422 for a customer's own
    message, a tool step, a rating other than `up`/`down`, or a comment over 2000 characters."""
    # The comment is the customer's words like a message: no control characters or lone surrogates.
    comment = clean_message(body.comment, max_chars=MAX_COMMENT_CHARS) if body.comment.strip() else ""
    try:
        record = feedback.rate(
            session_id=body.session_id, message_id=message_id, rating=body.rating, comment=comment
        )
    except UnknownMessageError:
        raise ApiError(404, "unknown_message", "This conversation has no message with this id.") from None
    except NotRateableError as exc:
        raise ApiError(422, "not_rateable", str(exc)) from None
    return FeedbackPublic.model_validate(record.public())

"""Customer feedback on replies: one thumbs up or down (with an optional comment) per reply, given by
the conversation's own customer; rating again replaces the earlier rating."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import sessionmaker

from storage.feedback_models import Feedback
from storage.models import Message, as_utc

Rating = Literal["up", "down"]
RATINGS: tuple[Rating, ...] = ("up", "down")
MAX_COMMENT_CHARS = 2000
# Who may be rated: the bot's final replies and a person's replies (never a customer's own words,
# nor a tool step or tool result, which the customer never sees as an answer).
RATEABLE_ROLES = ("assistant", "human_agent")


class UnknownMessageError(LookupError):
    """No message has this id in this session (also when it belongs to another session)."""


class NotRateableError(ValueError):
    """The message exists but is not an answer the customer can rate."""


@dataclass(frozen=True)
class FeedbackRecord:
    message_id: int
    session_id: str
    rating: Rating
    comment: str
    prompt_version: int | None
    created_at: datetime
    updated_at: datetime

    def public(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "session_id": self.session_id,
            "rating": self.rating,
            "comment": self.comment,
            "prompt_version": self.prompt_version,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


def system_prompt_version(trace: Mapping[str, Any] | None) -> int | None:
    """The system prompt version a reply was written with, from its trace (None when unversioned)."""
    version = ((trace or {}).get("prompt_versions") or {}).get("system")
    return version if isinstance(version, int) else None


def _record(row: Feedback) -> FeedbackRecord:
    return FeedbackRecord(
        message_id=row.message_id,
        session_id=row.session_id,
        rating="up" if row.rating == "up" else "down",
        comment=row.comment,
        prompt_version=row.prompt_version,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
    )


class FeedbackService:
    """Ratings in the database; every write is committed before the call returns."""

    def __init__(self, engine: Engine) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def rate(self, *, session_id: str, message_id: int, rating: str, comment: str = "") -> FeedbackRecord:
        """Store (or replace) the customer's rating of reply `message_id` of session `session_id`."""
        if rating not in RATINGS:
            raise ValueError(f"rating must be 'up' or 'down', not {rating!r}")
        comment = comment.strip()[:MAX_COMMENT_CHARS]
        with self._sessions.begin() as db:
            message = db.get(Message, message_id)
            # Another session's message answers exactly like an unknown one: ids are guessable,
            # sessions are not, so this never tells a caller that the message exists.
            if message is None or message.session_id != session_id:
                raise UnknownMessageError(message_id)
            if message.role not in RATEABLE_ROLES or message.tool_calls:
                raise NotRateableError(
                    f"message {message_id} is not an answer (it is a {message.role} message); "
                    "only replies can be rated"
                )
            now = datetime.now(UTC)
            row = db.scalar(select(Feedback).where(Feedback.message_id == message_id))
            if row is None:
                row = Feedback(message_id=message_id, session_id=session_id, created_at=now)
                db.add(row)
            row.rating = rating
            row.comment = comment
            row.prompt_version = system_prompt_version(message.trace)
            row.updated_at = now
            db.flush()
            return _record(row)

    def withdraw(self, *, session_id: str, message_id: int) -> None:
        """Remove the customer's rating of a reply of their conversation (nothing if it had none)."""
        with self._sessions.begin() as db:
            db.execute(
                delete(Feedback).where(Feedback.message_id == message_id, Feedback.session_id == session_id)
            )

    def for_messages(self, message_ids: list[int]) -> dict[int, FeedbackRecord]:
        """The ratings of these messages, by message id (unrated ones absent)."""
        if not message_ids:
            return {}
        with self._sessions() as db:
            rows = db.scalars(select(Feedback).where(Feedback.message_id.in_(message_ids)))
            return {r.message_id: _record(r) for r in rows}

    def by_prompt_version(self) -> list[dict[str, Any]]:
        """Thumbs up and down per system prompt version (None: unversioned), newest version first."""
        with self._sessions() as db:
            rows = db.execute(
                select(Feedback.prompt_version, Feedback.rating, func.count(Feedback.id)).group_by(
                    Feedback.prompt_version, Feedback.rating
                )
            ).tuples()
            counts: dict[int | None, dict[str, int]] = {}
            for version, rating, n in rows:
                counts.setdefault(version, {"up": 0, "down": 0})[rating] = n
        ordered = sorted(counts.items(), key=lambda kv: (kv[0] is None, -(kv[0] or 0)))
        return [
            {
                "prompt_version": version,
                "up": c["up"],
                "down": c["down"],
                "rated": c["up"] + c["down"],
                "share_up": round(c["up"] / (c["up"] + c["down"]), 3),
            }
            for version, c in ordered
        ]

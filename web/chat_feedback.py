"""Thumbs up / down in the customer chat: Gradio's `like` event names a chat message by its position;
this finds the stored reply shown there and records the customer's rating (review/feedback.py)."""

from __future__ import annotations

from typing import Any

from memory.store import ConversationStore, UnknownSessionError
from review.feedback import FeedbackService, NotRateableError, UnknownMessageError
from web.chat_view import shown_message_ids

CHANGED = "The conversation changed meanwhile; please rate the answer again."


def _texts(value: Any) -> str:
    """Every string inside a chat message's value (Gradio passes text or structured content)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return " ".join(_texts(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return " ".join(_texts(v) for v in value)
    return ""


def rate_shown_message(
    *,
    store: ConversationStore,
    feedback: FeedbackService,
    session_id: str | None,
    index: Any,
    value: Any,
    liked: bool | str,
) -> str | None:
    """Record the rating of the chat message at `index` (True: up, False: down, "": withdrawn).

    Returns a notice for the customer when nothing could be recorded, else None.
    """
    if not session_id or not isinstance(index, int):
        return CHANGED
    try:
        history = store.messages(session_id)
    except UnknownSessionError:
        return CHANGED
    ids = shown_message_ids(history)
    message_id = ids[index] if 0 <= index < len(ids) else None
    row = next((m for m in history if m.id == message_id), None)
    # The page shows what the store held when it was drawn; check it is still the same reply.
    if row is None or " ".join(row.content.split()[:8]) not in " ".join(_texts(value).split()):
        return CHANGED
    try:
        if liked == "":
            feedback.withdraw(session_id=session_id, message_id=row.id)
        else:
            feedback.rate(session_id=session_id, message_id=row.id, rating="up" if liked is True else "down")
    except (UnknownMessageError, NotRateableError):
        return "Only answers can be rated."
    return None

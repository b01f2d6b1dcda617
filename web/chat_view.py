"""What the chat shows: the page's wording for the configured company, and a stored conversation in
conversation order (memory/order.py): each message followed by its reply, its reply so far, or a
notice that it waits or failed, and the replies of a person who took the conversation over, with
the notices of their moves (joined, handed back, closed)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from handoff.notices import NOTICE_ROLE
from memory.order import turns
from memory.store import StoredMessage
from prompts.library import spoken_list
from settings import Settings

WAITING = "⏳ Saved, waiting for an answer…"
AGENT_LABEL = "Support agent"
NOT_ANSWERED = (
    "⚠️ Your message was saved but not answered. Please try again in a moment, or ask for a human agent."
)


def page_title(settings: Settings) -> str:
    return f"{settings.company_name} support" if settings.company_name else "Customer support"


def chat_placeholder(settings: Settings) -> str:
    """What the empty chat says: who answers, and about what."""
    greeting = f"Hi, I'm {settings.assistant_name}. " if settings.assistant_name else ""
    if not settings.topics:
        return f"{greeting}Ask a question and I'll answer from our help center."
    return f"{greeting}Ask about {spoken_list(settings.topics)}."


def format_sources(citations: list[dict[str, Any]] | None) -> str:
    if not citations:
        return ""
    # One entry per article, by its title: the chunk ids are the knowledge base's, not the customer's.
    seen: dict[str, str] = {}
    for c in citations:
        seen.setdefault(c["document"], c["title"])
    return "\n\n**Sources:** " + "; ".join(seen.values())


def not_answered(reason: str) -> str:
    """The notice shown under a message whose turn failed just now, with the reason."""
    return f"⚠️ Your message was saved but not answered. {reason}"


def to_chat_messages(
    history: list[StoredMessage],
    *,
    partial: Mapping[int, str] | None = None,
    notices: Mapping[int, str] | None = None,
) -> list[dict[str, str]]:
    """Stored rows as Gradio chat messages, each customer message followed by what answers it.

    `partial` holds the text streamed so far for a message being answered, and `notices` the
    reason a message failed in this page's own turn (after a reload a generic notice is shown).
    """
    return [shown for shown, _ in _layout(history, partial or {}, notices or {})]


def chat_ratings(history: list[StoredMessage], ratings: Mapping[int, str], **shown: Any) -> list[str | None]:
    """The thumbs of each assistant message `to_chat_messages(history, **shown)` shows, in order
    ("Like", "Dislike" or None), from the stored `ratings` ("up"/"down" by message id): a redraw
    of the chat keeps the customer's ratings."""
    thumbs = {"up": "Like", "down": "Dislike"}
    layout = _layout(history, shown.get("partial") or {}, shown.get("notices") or {})
    return [
        thumbs.get(ratings.get(message_id, "")) if message_id is not None else None
        for message, message_id in layout
        if message["role"] == "assistant"
    ]


def shown_message_ids(history: list[StoredMessage]) -> list[int | None]:
    """For each chat message `to_chat_messages` shows, the stored row it shows (None: a notice)."""
    return [message_id for _, message_id in _layout(history, {}, {})]


def _layout(
    history: list[StoredMessage], partial: Mapping[int, str], notices: Mapping[int, str]
) -> list[tuple[dict[str, str], int | None]]:
    shown: list[tuple[dict[str, str], int | None]] = []
    for turn in turns(history):
        m = turn[0]
        if m.role == "user":
            shown.append(({"role": "user", "content": m.content}, m.id))
            reply = next((r for r in reversed(turn) if r.is_final_reply), None)
            if reply is not None:
                shown.append((_reply(reply), reply.id))
            elif partial.get(m.id):
                # The reply being written out; the turn may already have stored it (and marked the
                # message answered) while the page still paces its last words.
                shown.append(({"role": "assistant", "content": partial[m.id]}, None))
            elif m.status == "failed":
                shown.append(({"role": "assistant", "content": notices.get(m.id, NOT_ANSWERED)}, None))
            elif m.status == "pending":
                shown.append(({"role": "assistant", "content": WAITING}, None))
        elif m.role == "human_agent":
            # A person's reply, while they hold the conversation (issue 8's handoff).
            # Under the name they gave when they took it (as the notice that they joined says).
            who = (m.trace or {}).get("agent") or AGENT_LABEL
            shown.append(({"role": "assistant", "content": f"**{who}:** {m.content}"}, m.id))
        elif m.role == NOTICE_ROLE:
            # A person joined, handed the conversation back, or closed it: nothing to rate.
            shown.append(({"role": "assistant", "content": f"*{m.content}*"}, None))
        elif m.is_final_reply:
            # A reply stored before replies named their message: shown where it was stored.
            shown.append((_reply(m), m.id))
    return shown


def _reply(m: StoredMessage) -> dict[str, str]:
    return {"role": "assistant", "content": m.content + format_sources(m.citations)}

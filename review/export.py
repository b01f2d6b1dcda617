"""The fine-tuning export: conversations as JSONL lines, for SFT in the OpenAI chat-messages format
(`{"messages": [{"role", "content"}, ...]}`), and DPO preference pairs `{prompt, chosen, rejected}`
built from down-rated replies.

Only the conversation's text leaves: the customer's and the replies' words, never a session or
client id, the verified customer, tool arguments or tool results (order records hold addresses).
A reply's rating, date and prompt version filter what is exported but are not part of it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import aliased, sessionmaker

from memory.order import turns
from memory.store import StoredMessage
from review.browser import light_history
from review.feedback import system_prompt_version
from storage.feedback_models import Feedback
from storage.models import ChatSession, Message

# Customer messages that were answered (by the bot or a person); failed or waiting ones never were.
_ANSWERED = (None, "answered", "human")


@dataclass(frozen=True)
class ExportFilters:
    """Which replies count: written in [since, until), rated so, with this system prompt version."""

    since: datetime | None = None
    until: datetime | None = None
    rating: str | None = None  # up | down | None (any, rated or not)
    prompt_version: int | None = None


@dataclass(frozen=True)
class Reply:
    """A reply shown to the customer, with what the filters and the pairing need."""

    message: StoredMessage
    question: StoredMessage | None  # the customer message it answers (None: a person's reply)
    rating: str | None
    prompt_version: int | None
    # The turn handed the conversation to a person (the customer asked, or the agent decided).
    handed_over: bool = False


def chat_messages(history: Sequence[StoredMessage]) -> list[dict[str, str]]:
    """The conversation as OpenAI chat messages: the customer's answered words, the bot's final
    replies and people's replies (as `assistant`), in the order the customer saw them
    (memory/order.py)."""
    result: list[dict[str, str]] = []
    for turn in turns(history):
        m = turn[0]
        if m.role == "user":
            reply = next((r for r in reversed(turn) if r.is_final_reply), None)
            if m.status in _ANSWERED:
                result.append({"role": "user", "content": m.content})
                if reply is not None:
                    result.append({"role": "assistant", "content": reply.content})
        elif m.role == "human_agent" or m.is_final_reply:
            result.append({"role": "assistant", "content": m.content})
    return _merged(result)


def _merged(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """Consecutive messages of one role joined (a customer writing twice), as chat templates expect."""
    merged: list[dict[str, str]] = []
    for m in messages:
        if merged and merged[-1]["role"] == m["role"]:
            merged[-1] = {"role": m["role"], "content": merged[-1]["content"] + "\n\n" + m["content"]}
        else:
            merged.append(dict(m))
    return merged


def _matches(reply: Reply, filters: ExportFilters) -> bool:
    at = reply.message.created_at
    if filters.since is not None and at < filters.since:
        return False
    if filters.until is not None and at >= filters.until:
        return False
    if filters.rating is not None and reply.rating != filters.rating:
        return False
    return filters.prompt_version is None or reply.prompt_version == filters.prompt_version


def context_before(history: Sequence[StoredMessage], reply: StoredMessage) -> list[dict[str, str]]:
    """The conversation up to and including the question `reply` answers, in conversation order:
    the chat messages the customer had seen before that reply, ending with their question (a
    message they sent while it was being answered comes after it, as in the chat)."""
    earlier: list[StoredMessage] = []
    for turn in turns(history):
        if turn[0].id == reply.reply_to:
            # The question's own rows (tool steps, tool results, the reply) are not its context.
            return chat_messages([*earlier, turn[0]])
        earlier.extend(turn)
    return chat_messages([m for m in history if m.id < reply.id])


def sft_examples(
    histories: Iterable[tuple[list[StoredMessage], list[Reply]]], filters: ExportFilters
) -> Iterator[dict[str, Any]]:
    """One `{"messages": [...]}` per conversation with at least one reply matching `filters`."""
    for history, replies in histories:
        if any(_matches(r, filters) for r in replies):
            messages = chat_messages(history)
            if any(m["role"] == "assistant" for m in messages):
                yield {"messages": messages}


def _key(text: str) -> str:
    return " ".join(text.lower().split())


def liked_answers(histories: Iterable[tuple[list[StoredMessage], list[Reply]]]) -> dict[str, str]:
    """Up-rated replies of the bot by their question's words (normalised), the first one kept."""
    liked: dict[str, str] = {}
    for _, replies in histories:
        for r in replies:
            if r.rating == "up" and r.question is not None:
                liked.setdefault(_key(r.question.content), r.message.content)
    return liked


def dpo_pairs(
    histories: Iterable[tuple[list[StoredMessage], list[Reply]]],
    filters: ExportFilters,
    liked: Mapping[str, str],
) -> Iterator[dict[str, Any]]:
    """`{prompt, chosen, rejected}` for each down-rated reply matching `filters` (their rating aside).

    `rejected` is the down-rated reply; `chosen` is the first reply a person wrote after it in the
    same conversation (before the customer's next question the bot answered), else an up-rated reply
    of the bot to the same question (same words) in any conversation (`liked`). A down-rated reply
    with neither is not exported. `prompt` is the conversation up to and including the question.
    """
    down = ExportFilters(filters.since, filters.until, "down", filters.prompt_version)
    for history, replies in histories:
        handovers = {r.question.id for r in replies if r.handed_over and r.question is not None}
        for r in replies:
            if r.question is None or not _matches(r, down):
                continue
            chosen = _person_after(history, r.message, handovers) or liked.get(_key(r.question.content))
            if not chosen or chosen == r.message.content:
                continue
            yield {
                "prompt": context_before(history, r.message),
                "chosen": chosen,
                "rejected": r.message.content,
            }


def _person_after(history: Sequence[StoredMessage], reply: StoredMessage, handovers: set[int]) -> str | None:
    """The first person's reply after `reply`, unless the customer first moved on to a question the
    bot answered (asking for a person, or a turn that handed over, does not count as moving on)."""
    for m in history:
        if m.id <= reply.id:
            continue
        if m.role == "human_agent":
            return m.content
        if m.role == "user" and m.status in ("answered", None) and m.id not in handovers:
            return None
    return None


def load_histories(
    engine: Engine, *, since: datetime | None = None
) -> Iterator[tuple[list[StoredMessage], list[Reply]]]:
    """Each conversation with its replies, their ratings and prompt versions, one session at a time.

    Sessions whose last activity is before `since` cannot hold a reply inside the range: skipped.
    """
    sessions = sessionmaker(engine)
    with sessions() as db:
        query = select(ChatSession.id).order_by(ChatSession.created_at, ChatSession.id)
        if since is not None:
            query = query.where(ChatSession.updated_at >= since)
        session_ids = list(db.scalars(query))
    for session_id in session_ids:
        with sessions() as db:
            history = light_history(db, session_id)
            rated = select(Feedback.message_id, Feedback.rating).where(Feedback.session_id == session_id)
            ratings = {mid: rating for mid, rating in db.execute(rated).tuples()}
            # Prompt versions and handovers live in the traces: read only the replies' ones.
            finals = [m.id for m in history if m.is_final_reply and m.reply_to is not None]
            traces: dict[int, dict[str, Any]] = {}
            if finals:
                by_reply = select(Message.id, Message.trace).where(Message.id.in_(finals))
                traces = {mid: trace or {} for mid, trace in db.execute(by_reply).tuples()}
        by_id = {m.id: m for m in history}
        replies = [
            Reply(
                message=m,
                question=by_id.get(m.reply_to) if m.reply_to is not None else None,
                rating=ratings.get(m.id),
                prompt_version=system_prompt_version(traces.get(m.id)),
                handed_over=handed_over(traces.get(m.id)),
            )
            for m in history
            if m.role == "human_agent" or (m.is_final_reply and m.reply_to is not None)
        ]
        yield history, replies


def handed_over(trace: dict[str, Any] | None) -> bool:
    """Whether the turn handed the conversation to a person: the agent decided (`escalated`), or a
    tool did (the handoff reply was offered with no "I don't know" behind it)."""
    trace = trace or {}
    return bool(trace.get("escalated")) or (bool(trace.get("handoff_offered")) and not trace.get("grounding"))


def jsonl(records: Iterable[dict[str, Any]]) -> Iterator[str]:
    """One JSON object per line."""
    for record in records:
        yield json.dumps(record, ensure_ascii=False) + "\n"


def export_lines(engine: Engine, *, kind: str, filters: ExportFilters) -> Iterator[str]:
    """The JSONL export: `sft` streams conversation by conversation; `dpo` pairs across conversations."""
    histories = load_histories(engine, since=filters.since)
    if kind == "sft":
        return jsonl(sft_examples(histories, filters))
    return jsonl(dpo_pairs(histories, filters, liked_answers_in(engine)))


def liked_answers_in(engine: Engine) -> dict[str, str]:
    """`liked_answers` straight from the database: only up-rated replies and their questions are read."""
    question = aliased(Message)
    query = (
        select(question.content, Message.content)
        .select_from(Feedback)
        .join(Message, Message.id == Feedback.message_id)
        .join(question, question.id == Message.reply_to)
        .where(Feedback.rating == "up", Message.role == "assistant")
        .order_by(Feedback.id)
    )
    liked: dict[str, str] = {}
    with sessionmaker(engine)() as db:
        for asked, answer in db.execute(query).tuples():
            liked.setdefault(_key(asked), answer)
    return liked

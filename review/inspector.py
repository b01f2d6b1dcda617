"""The turn inspector: for one reply of the bot, what the model saw (the FIFO window that was kept,
what was dropped and the token budget), the retrieved chunks with their scores, each tool call with
its arguments, result and time, the tokens and timings of each model step, the answer check's verdict
(`answer_check`: each sentence kept or dropped and why, the quote), and the prompt version.
A step's tokens are None where the backend reported none (the inspector says "not reported"), and
`counted` where they are the app's count of a stream it stopped (a repetition) before the server's.

It reads the reply's stored trace (agents/trace.py) and the conversation's rows without their traces.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from memory.store import StoredMessage
from memory.window import conversation_for, to_langchain
from review.browser import is_inspectable, light_history, light_message
from review.feedback import FeedbackService, UnknownMessageError
from storage.models import Message, as_utc

PREVIEW_CHARS = 200


def _row(m: StoredMessage, *, full: bool) -> dict[str, Any]:
    content = m.content if full or len(m.content) <= PREVIEW_CHARS else m.content[: PREVIEW_CHARS - 1] + "…"
    row: dict[str, Any] = {"id": m.id, "role": m.role, "content": content, "tokens": m.token_count}
    if m.tool_calls:
        row["tool_calls"] = m.tool_calls
    return row


def window_rows(
    history: list[StoredMessage], *, question_id: int, kept_ids: list[int] | None, kept_count: int | None
) -> tuple[list[StoredMessage], list[StoredMessage]]:
    """The rows the model saw for the turn answering `question_id`, and the earlier rows it did not.

    The candidates are the conversation as that turn read it (without the turn's own steps); the
    trace names the kept ones by id. Traces written before ids were stored give only a count: the
    newest `kept_count` candidates.
    """
    own = {m.id for m in history if m.reply_to == question_id and m.role != "user"}
    candidates = [m for m in conversation_for(history, question_id) if m.id not in own]
    seen = {int(str(m.id)) for m in to_langchain(candidates)}
    candidates = [m for m in candidates if m.id in seen]
    if kept_ids is not None:
        keep = set(kept_ids)
    else:
        count = kept_count if kept_count is not None else len(candidates)
        keep = {m.id for m in candidates[len(candidates) - count :]} if count else set()
    return [m for m in candidates if m.id in keep], [m for m in candidates if m.id not in keep]


def _totals(steps: list[dict[str, Any]]) -> dict[str, Any]:
    """The turn's tokens: the sums over the steps that reported them (None: no step did, as with a
    backend that gives no usage; 0 without a model call), and how many steps did not report them
    (`unreported`)."""
    totals: dict[str, Any] = {"unreported": 0}
    for kind in ("input", "output"):
        counts = [s[f"{kind}_tokens"] for s in steps if s[f"{kind}_tokens"] is not None]
        totals[kind] = sum(counts) if counts or not steps else None  # no model call: 0
        totals["unreported"] = max(totals["unreported"], len(steps) - len(counts))
    return totals


def inspect_reply(engine: Engine, message_id: int, feedback: FeedbackService | None = None) -> dict[str, Any]:
    """Everything the inspector shows for reply `message_id`; UnknownMessageError if it is not a reply."""
    sessions = sessionmaker(engine)
    with sessions() as db:
        row = db.get(Message, message_id)
        if row is None:
            raise UnknownMessageError(message_id)
        reply = light_message(row)
        trace: dict[str, Any] = dict(row.trace or {})
        history = light_history(db, reply.session_id) if is_inspectable(reply) else []
    if not is_inspectable(reply) or reply.reply_to is None:
        raise UnknownMessageError(message_id)
    question_id = reply.reply_to
    window = dict(trace.get("window") or {})
    kept, dropped = window_rows(
        history,
        question_id=question_id,
        kept_ids=window.get("kept_ids"),
        kept_count=window.get("messages_kept") if window else None,
    )
    if not window:
        # No model call (an "I don't know" for lack of knowledge, an upset customer): nothing was sent.
        kept, dropped = [], []
    retrieval = dict(trace.get("retrieval") or {})
    used = set(window.get("excerpt_ids") or [])
    chunks = [
        {**c, "used": c.get("chunk_id") in used if "excerpt_ids" in window else None}
        for c in retrieval.get("chunks", [])
    ]
    steps = [
        {
            "step": i + 1,
            "model_ms": s.get("model_ms"),
            "input_tokens": s.get("input_tokens"),
            "output_tokens": s.get("output_tokens"),
            "finish_reason": s.get("finish_reason"),
            # The app's own count: the stream was stopped before the server's (llm/streaming.py).
            "counted": bool(s.get("counted")),
        }
        for i, s in enumerate(trace.get("steps") or [])
    ]
    tools = [
        {k: t.get(k) for k in ("name", "arguments", "result", "ok", "ms")}
        for t in trace.get("tool_calls") or []
    ]
    this_turn = [m for m in history if m.reply_to == question_id and m.id != message_id and m.role != "user"]
    rating = (feedback or FeedbackService(engine)).for_messages([message_id]).get(message_id)
    return {
        "message_id": message_id,
        "session_id": reply.session_id,
        "reply_to": question_id,
        "reply": reply.content,
        "created_at": as_utc(reply.created_at).isoformat(),
        "prompt_versions": trace.get("prompt_versions") or {},
        "feedback": rating.public() if rating else None,
        "window": {
            "budget": window.get("budget"),
            "system_tokens": window.get("system_tokens"),
            # With the newest message since the prompt put the excerpts there (absent before).
            "excerpt_tokens": window.get("excerpt_tokens"),
            "kept_tokens": sum(m.token_count for m in kept),
            "dropped_tokens": sum(m.token_count for m in dropped),
            "excerpts_used": window.get("excerpts_used"),
            "excerpts_dropped": window.get("excerpts_dropped"),
            "excerpt_shortened": window.get("excerpt_shortened"),
            "kept": [_row(m, full=True) for m in kept],
            "dropped": [_row(m, full=False) for m in dropped],
            "this_turn": [_row(m, full=True) for m in this_turn],
        },
        "retrieval": {"query": retrieval.get("query"), "ms": retrieval.get("ms"), "chunks": chunks},
        "route": trace.get("route"),
        "steps": steps,
        "tool_calls": tools,
        "tokens": _totals(steps),
        "timings_ms": {
            "retrieval": retrieval.get("ms"),
            "model": round(sum(s.get("model_ms") or 0 for s in steps), 1),
            "tools": round(sum(t.get("ms") or 0 for t in tools), 1),
            "total": trace.get("total_ms"),
        },
        "grounding": trace.get("grounding"),
        "answer_check": trace.get("answer_check"),
        "escalated": trace.get("escalated"),
    }

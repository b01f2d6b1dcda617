"""What the chat shows for stored rows: replies under their messages, waiting and failed messages
marked, the page's wording for the configured company."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from memory.store import StoredMessage
from settings import Settings
from web.chat_view import (
    NOT_ANSWERED,
    WAITING,
    chat_placeholder,
    chat_ratings,
    page_title,
    to_chat_messages,
)

NOW = datetime(2026, 11, 26, tzinfo=UTC)


def row(id: int, role: str, content: str, **fields: object) -> StoredMessage:
    return StoredMessage(id=id, session_id="s", role=role, content=content, created_at=NOW, **fields)


def test_each_reply_is_shown_under_the_message_it_answers() -> None:
    # The second message was sent while the first was being answered: stored before either reply.
    history = [
        row(1, "user", "Alaska?", status="answered"),
        row(2, "user", "Hawaii?", status="answered"),
        row(3, "assistant", "", tool_calls=[{"name": "search", "args": {}, "id": "c"}], reply_to=1),
        row(4, "tool", "found", tool_call_id="c", reply_to=1),
        row(5, "assistant", "Yes, Alaska.", reply_to=1, citations=[_citation()]),
        row(6, "assistant", "Yes, Hawaii.", reply_to=2),
    ]
    assert to_chat_messages(history) == [
        {"role": "user", "content": "Alaska?"},
        {"role": "assistant", "content": "Yes, Alaska.\n\n**Sources:** Shipping"},
        {"role": "user", "content": "Hawaii?"},
        {"role": "assistant", "content": "Yes, Hawaii."},
    ]


def test_waiting_and_failed_messages_are_shown_as_such() -> None:
    history = [
        row(1, "user", "first", status="failed"),
        row(2, "user", "second", status="pending"),
        row(3, "user", "third", status="pending"),
    ]
    shown = to_chat_messages(history, partial={2: "We ship"}, notices={1: "⚠️ down"})
    assert [m["content"] for m in shown] == ["first", "⚠️ down", "second", "We ship", "third", WAITING]
    assert to_chat_messages(history)[1]["content"] == NOT_ANSWERED


def test_a_redraw_carries_each_reply_s_stored_thumbs_in_the_order_replies_are_shown() -> None:
    history = [
        row(1, "user", "Alaska?", status="answered"),
        row(2, "user", "Hawaii?", status="failed"),
        row(3, "assistant", "Yes, Alaska.", reply_to=1),
        row(4, "user", "Guam?", status="answered"),
        row(5, "assistant", "No.", reply_to=4),
        row(6, "user", "Samoa?", status="pending"),
    ]
    shown = [m for m in to_chat_messages(history) if m["role"] == "assistant"]
    thumbs = chat_ratings(history, {5: "down", 3: "up"})
    # One entry per assistant message shown: two replies, a failure notice, a waiting marker.
    assert len(thumbs) == len(shown) == 4
    assert thumbs == ["Like", None, "Dislike", None]
    assert chat_ratings(history, {}) == [None, None, None, None]


def test_a_stored_reply_wins_over_a_partial_one() -> None:
    history = [row(1, "user", "q", status="answered"), row(2, "assistant", "final", reply_to=1)]
    assert [m["content"] for m in to_chat_messages(history, partial={1: "fin"})] == ["q", "final"]


def test_replies_stored_before_they_named_their_message_stay_in_place() -> None:
    history = [
        row(1, "user", "q1", status="answered"),
        row(2, "assistant", "a1"),
        row(3, "user", "q2", status="answered"),
        row(4, "assistant", "a2"),
    ]
    assert [m["content"] for m in to_chat_messages(history)] == ["q1", "a1", "q2", "a2"]


def test_the_page_names_the_configured_company(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRONTDESK_DEMO_DATA", "false")
    neutral = Settings()
    assert page_title(neutral) == "Customer support"
    assert chat_placeholder(neutral) == "Ask a question and I'll answer from our help center."
    own = Settings(company_name="Acme Tools", assistant_name="Ada", topics=["drills", "saws"])
    assert page_title(own) == "Acme Tools support"
    assert chat_placeholder(own) == "Hi, I'm Ada. Ask about drills or saws."


def _citation() -> dict[str, object]:
    return {"document": "ship", "title": "Shipping", "chunk_id": "ship:0", "score": 0.8}


def test_a_persons_reply_shows_the_name_they_took_the_conversation_under() -> None:
    # Found by a trial: "Ana from our support team has joined", then her replies as "Support agent: …".
    rows = [
        row(1, "user", "is anyone there?", status="human"),
        row(2, "human_agent", "Hi, I'm looking into it.", trace={"agent": "Ana"}),
        row(3, "human_agent", "Stored before replies kept a name."),
    ]
    shown = [m["content"] for m in to_chat_messages(rows)]
    assert shown[1] == "**Ana:** Hi, I'm looking into it."
    assert shown[2] == "**Support agent:** Stored before replies kept a name."

"""Conversation order: every transcript a person reads (the chat, the admin's Inbox and Conversations
tabs) shows each reply right after the message it answers, also when the customer wrote again before
the first answer was stored (the store then holds question, question, answer, answer)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from langchain_core.messages import AIMessage, HumanMessage

from agents import SupportAgent
from agents.turn import AgentConfig
from memory import ConversationStore
from memory.order import conversation_order
from memory.store import StoredMessage
from memory.window import conversation_for
from prompts import PromptLibrary
from review import ConversationBrowser
from tests.utils.scripted import scripted_backend
from web.admin_conversations import transcript_markdown
from web.admin_inbox import transcript
from web.chat_view import to_chat_messages

NOW = datetime(2026, 11, 26, tzinfo=UTC)


def row(id: int, role: str, content: str, **fields: object) -> StoredMessage:
    return StoredMessage(id=id, session_id="s", role=role, content=content, created_at=NOW, **fields)


def test_each_reply_and_its_tool_steps_follow_the_message_they_answer() -> None:
    history = [
        row(1, "user", "Where is NW-1?", status="answered"),
        row(2, "user", "And NW-2?", status="answered"),
        row(3, "assistant", "", tool_calls=[{"name": "lookup_order", "args": {}, "id": "c"}], reply_to=1),
        row(4, "tool", "NW-1 shipped", tool_call_id="c", reply_to=1),
        row(5, "assistant", "NW-1 shipped.", reply_to=1),
        row(6, "assistant", "NW-2 is packed.", reply_to=2),
        row(7, "human_agent", "Anything else?"),
        row(8, "user", "No", status="failed"),
        row(9, "assistant", "an old reply that names no message"),
    ]
    assert [m.id for m in conversation_order(history)] == [1, 3, 4, 5, 2, 6, 7, 8, 9]
    # The model's context for the second message is the same order, up to that message.
    assert [m.id for m in conversation_for(history, 2)] == [1, 3, 4, 5, 2, 6]


def test_a_reply_stored_after_a_notice_stays_after_it() -> None:
    """The customer wrote while a person held the conversation; the person handed it back (a
    notice), and the bot then answered: the customer saw the notice first."""
    history = [
        row(1, "user", "Where is NW-1?", status="answered"),
        row(2, "assistant", "NW-1 shipped.", reply_to=1),
        row(3, "notice", "Ana from our support team has joined the conversation."),
        row(4, "human_agent", "Hi, Ana here."),
        row(5, "user", "Do you ship to Canada?", status="answered"),
        row(6, "notice", "Ana has handed this conversation back to our assistant."),
        row(7, "assistant", "", tool_calls=[{"name": "search", "args": {}, "id": "c"}], reply_to=5),
        row(8, "tool", "excerpts", tool_call_id="c", reply_to=5),
        row(9, "assistant", "Yes, we ship to Canada.", reply_to=5),
        row(10, "user", "Thanks", status="answered"),
        row(11, "user", "How much is it?", status="answered"),
        row(12, "assistant", "You're welcome!", reply_to=10),
        row(13, "assistant", "It costs $9.95.", reply_to=11),
    ]
    # ... and a reply still follows the message it answers when the customer wrote twice (10, 11).
    assert [m.id for m in conversation_order(history)] == [*range(1, 11), 12, 11, 13]
    shown = [m["content"] for m in to_chat_messages(history)]
    assert shown.index("*Ana has handed this conversation back to our assistant.*") < shown.index(
        "Yes, we ship to Canada."
    )
    assert [m.id for m in conversation_for(history, 10)] == [*range(1, 11), 12]


def echo(messages):
    time.sleep(0.01)
    newest = [m for m in messages if isinstance(m, HumanMessage)][-1].content
    return AIMessage(content=f"answer to: {newest.rsplit(chr(10) * 2, 1)[-1]}")


def test_the_admin_transcripts_show_the_order_the_customer_saw(store: ConversationStore) -> None:
    agent = SupportAgent(
        store=store, backend=scripted_backend([echo, echo]), prompts=PromptLibrary(), config=AgentConfig()
    )
    first = agent.accept("first question", session_id=None)
    session = first.session_id
    agent.accept("second question", session_id=session)  # sent while the first was being answered
    list(agent.respond(session, first.id + 1))
    stored = [m.content for m in store.messages(session)]
    assert stored == [
        "first question",
        "second question",
        "answer to: first question",
        "answer to: second question",
    ]
    seen = ["first question", "answer to: first question", "second question", "answer to: second question"]

    assert [m["content"] for m in to_chat_messages(store.messages(session))] == seen
    inbox = transcript(store.messages(session)).split("\n\n")
    assert [line.split(":** ", 1)[1] for line in inbox] == seen
    assert inbox[0].startswith("**Customer:**") and inbox[1].startswith("**Assistant:**")
    listed = ConversationBrowser(store.engine).transcript(session)
    assert [m["content"] for m in listed] == seen
    conversations = transcript_markdown(listed).split("\n\n")
    assert [line.split(": ", 1)[1] for line in conversations] == seen
    assert conversations[1].startswith(f"**Assistant** `#{listed[1]['id']}`")

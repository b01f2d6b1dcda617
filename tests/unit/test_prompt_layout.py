"""The prompt's layout: the stable system prompt, the conversation, then the turn's excerpts with the
newest message, so that each turn's prompt extends the previous one (a model server's prefix cache)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from langchain_core.messages import HumanMessage, SystemMessage

from agents.prompt import MESSAGE_OVERHEAD_TOKENS, build_prompt
from knowledge.types import RetrievedChunk
from memory.store import StoredMessage
from memory.window import ContextOverflowError
from prompts import PromptLibrary
from tests.utils.scripted import scripted_backend

FILES = PromptLibrary()
BRANDING = {"company": "Northwind Goods", "assistant_name": "Ada", "topics": ["returns"]}


def chunk(name: str, text: str, score: float = 0.8) -> RetrievedChunk:
    return RetrievedChunk(f"{name}:0", name, name.title(), "", text, score)


def row(i: int, role: str, content: str) -> StoredMessage:
    # The token count a row is stored with (here: words, as the scripted backend counts them).
    return StoredMessage(i, "s", role, content, datetime.now(UTC), token_count=len(content.split()))


def prompt_for(conversation: list[StoredMessage], chunks: list[RetrievedChunk], context_tokens: int = 2048):
    return build_prompt(
        backend=scripted_backend([]),
        system=FILES.render("system", **BRANDING),
        render_excerpts=lambda used: FILES.render("excerpts", **BRANDING, chunks=used),
        chunks=chunks,
        conversation=conversation,
        context_tokens=context_tokens,
        answer_tokens=256,
    )


def test_the_excerpts_go_with_the_newest_message_and_the_system_prompt_stays_the_same() -> None:
    conversation = [
        row(1, "user", "How long do returns take?"),
        row(2, "assistant", "Returns take 30 days."),
        row(3, "user", "And refunds?"),
    ]
    with_excerpts = prompt_for(conversation, [chunk("refunds", "Refunds take 5 business days.")])
    without = prompt_for(conversation, [])

    system, *window = with_excerpts.messages
    assert isinstance(system, SystemMessage) and "<excerpt id=" not in system.content
    assert system.content == without.messages[0].content  # the same whatever was retrieved
    assert [m.content for m in window[:2]] == ["How long do returns take?", "Returns take 30 days."]
    newest = window[-1]
    assert isinstance(newest, HumanMessage) and newest.id == "3"
    assert newest.content.startswith('<excerpt id="refunds:0" document="Refunds">')
    assert "Refunds take 5 business days." in newest.content
    assert newest.content.endswith("</excerpt>\n\nAnd refunds?")
    assert without.messages[-1].content.endswith("No help-center article matches this query.\n\nAnd refunds?")
    assert with_excerpts.trace["excerpt_tokens"] > without.trace["excerpt_tokens"] > 0
    assert with_excerpts.trace["kept_ids"] == [1, 2, 3]
    # The prompt's size by the app's count: the system prompt, the excerpts, each kept row as stored
    # (a customer's row with the per-message overhead its stored count leaves out).
    stored = sum(r.token_count for r in conversation) + 2 * MESSAGE_OVERHEAD_TOKENS
    trace = with_excerpts.trace
    assert trace["prompt_tokens"] == trace["system_tokens"] + trace["excerpt_tokens"] + stored


def test_each_turns_prompt_starts_with_the_previous_one_minus_its_excerpts() -> None:
    questions = ["How long do returns take?", "And refunds?", "Do you ship to Canada?", "Is it free?"]
    articles = [chunk(name, f"The {name} policy says {i} things.") for i, name in enumerate("abcd")]
    conversation: list[StoredMessage] = []
    previous = None
    for turn, question in enumerate(questions):
        conversation.append(row(len(conversation) + 1, "user", question))
        # Every turn retrieves different excerpts, in a different number.
        prompt = prompt_for(conversation, articles[turn:])
        assert prompt.trace["messages_kept"] == len(conversation)  # nothing trimmed
        if previous is not None:
            before = previous.messages
            unexcerpted = [*before[:-1], HumanMessage(content=questions[turn - 1])]
            assert [(type(m), m.content) for m in prompt.messages[: len(before)]] == [
                (type(m), m.content) for m in unexcerpted
            ]
            assert before[-1].content != questions[turn - 1]  # it did carry excerpts
        conversation.append(row(len(conversation) + 1, "assistant", f"Answer {turn}."))
        previous = prompt


def test_excerpts_give_way_before_the_conversation_and_the_newest_message_always_stays() -> None:
    long = [chunk(f"doc{i}", f"Fact {i}. " + "filler text " * 150, 0.9 - i / 10) for i in range(3)]
    conversation = [
        row(1, "user", "first question " * 10),
        row(2, "assistant", "first answer " * 10),
        row(3, "user", "And refunds?"),
    ]
    prompt = prompt_for(conversation, long, context_tokens=768)
    assert 1 <= prompt.trace["excerpts_used"] < 3
    assert [c.chunk_id for c in prompt.excerpts] == [
        f"doc{i}:0" for i in range(prompt.trace["excerpts_used"])
    ]
    assert prompt.trace["messages_kept"] == 3 and prompt.messages[-1].content.endswith("And refunds?")
    counted = sum(len(str(m.content).split()) for m in prompt.messages)
    assert counted <= 768 - 256

    with pytest.raises(ContextOverflowError):
        prompt_for([row(1, "user", "word " * 700)], long, context_tokens=768)

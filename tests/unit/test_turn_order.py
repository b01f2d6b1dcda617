"""Turns tied to their message: concurrency in one session, failed turns, disconnects, small contexts."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from agents import SupportAgent
from agents.turn import AgentConfig
from knowledge.types import RetrievedChunk
from llm import BackendUnavailableError
from memory import ConversationStore
from memory.turnlock import TurnLock
from prompts import PromptLibrary
from storage import make_engine
from tests.utils.scripted import scripted_backend

# What the newest message starts with when nothing was retrieved (the `excerpts` prompt, empty).
NO_MATCH = PromptLibrary().render("excerpts", chunks=[]) + "\n\n"


def echo(messages):
    """Answers the newest customer message by quoting it, slowly enough for turns to overlap."""
    time.sleep(0.02)
    newest = [m for m in messages if isinstance(m, HumanMessage)][-1].content
    question = newest.rsplit("\n\n", 1)[-1]  # the customer's words follow the turn's excerpts
    return AIMessage(content=f"answer to: {question}")


def make_agent(store: ConversationStore, script: list, retriever=None, **config) -> SupportAgent:
    return SupportAgent(
        store=store,
        backend=scripted_backend(script),
        prompts=PromptLibrary(),
        config=AgentConfig(**config),
        retriever=retriever,
    )


def test_concurrent_turns_in_one_session_each_answer_their_own_message(store: ConversationStore) -> None:
    agent = make_agent(store, [echo] * 10)
    session = store.create_session()

    def ask(i: int) -> tuple[str, str]:
        stored = agent.accept(f"question {i}", session_id=session)
        events = list(agent.stream(session, stored.id))
        return stored.content, events[-1].result.reply

    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(ask, range(10)))

    assert all(reply == f"answer to: {question}" for question, reply in answers)
    history = store.messages(session)
    questions = {m.id: m.content for m in history if m.role == "user"}
    replies = [m for m in history if m.role == "assistant"]
    assert sorted(m.reply_to for m in replies) == sorted(questions)
    assert all(m.content == f"answer to: {questions[m.reply_to]}" for m in replies)
    # Answered in order: each reply is stored after the replies to every earlier question.
    assert [m.reply_to for m in replies] == sorted(questions)
    assert all(m.status == "answered" for m in history if m.role == "user")


def test_each_turn_sees_only_the_conversation_up_to_its_message(store: ConversationStore) -> None:
    agent = make_agent(store, [echo, echo])
    session = store.create_session()
    first = agent.accept("first", session_id=session)
    second = agent.accept("second", session_id=session)

    # Answering the second answers the first before it, in order, and each sees only what came before.
    events = list(agent.respond(session, second.id))
    assert events[-1].result.reply == "answer to: second"
    seen = [[m.content for m in call["messages"][1:]] for call in agent.backend.model.calls]
    # The earlier message as it was; the newest one after the turn's (here: no) excerpts.
    assert seen == [[NO_MATCH + "first"], ["first", "answer to: first", NO_MATCH + "second"]]
    # The first request, arriving late, gets its stored answer instead of a second turn.
    replay = list(agent.respond(session, first.id))
    assert replay[-1].result.reply == "answer to: first"
    assert len(agent.backend.model.calls) == 2


def test_a_failed_turn_does_not_leak_into_the_next_answer(store: ConversationStore) -> None:
    agent = make_agent(store, [ConnectionError("down"), AIMessage(content="Returns take 30 days.")])
    failed = agent.accept("Do you ship to Mars?", session_id=None)
    with pytest.raises(BackendUnavailableError):
        list(agent.respond(failed.session_id, failed.id))

    result = agent.run("How long do returns take?", session_id=failed.session_id)

    seen = agent.backend.model.calls[1]["messages"]
    assert [type(m) for m in seen] == [SystemMessage, HumanMessage]
    assert seen[1].content == NO_MATCH + "How long do returns take?"
    assert result.reply == "Returns take 30 days."
    history = store.messages(failed.session_id)
    assert [(m.role, m.status) for m in history] == [
        ("user", "failed"),
        ("user", "answered"),
        ("assistant", None),
    ]


def test_a_client_that_stops_reading_still_gets_its_reply_stored(store: ConversationStore) -> None:
    release = threading.Event()

    def slow(messages):
        release.wait(5)
        return AIMessage(content="one two three four five")

    agent = make_agent(store, [slow])
    stored = agent.accept("Tell me a story", session_id=None)
    events = agent.stream(stored.session_id, stored.id)
    release.set()
    next(events)  # the first token arrives, then the client goes away
    events.close()
    del events

    deadline = time.monotonic() + 5
    while store.snapshot(stored.session_id).reply_to(stored.id) is None and time.monotonic() < deadline:
        time.sleep(0.02)
    reply = store.snapshot(stored.session_id).reply_to(stored.id)
    assert reply is not None and reply.content == "one two three four five"
    assert store.message(stored.id).status == "answered"


def test_turns_of_one_session_are_serialised_across_processes(store: ConversationStore, data_dir) -> None:
    """Two engines on one database stand for two app processes: the lease lives in the database."""
    other = ConversationStore(make_engine(f"sqlite:///{data_dir / 'unit.db'}"))
    session = store.create_session()
    inside = threading.Event()
    order: list[str] = []

    def hold_first() -> None:
        with TurnLock(store.engine).hold(session):
            inside.set()
            time.sleep(0.3)
            order.append("first done")

    holder = threading.Thread(target=hold_first)
    holder.start()
    inside.wait(5)
    with TurnLock(other.engine).hold(session):
        order.append("second in")
    holder.join()
    assert order == ["first done", "second in"]


def test_a_dead_workers_lease_runs_out(store: ConversationStore) -> None:
    session = store.create_session()
    lock = TurnLock(store.engine, lease_s=0.3)
    assert lock._try_take(session, "crashed-worker")
    started = time.monotonic()
    with lock.hold(session):
        waited = time.monotonic() - started
    assert 0.2 < waited < 3


class BigExcerpts:
    """A retriever whose four excerpts together are larger than a small context."""

    def retrieve(self, query, *, k=None):
        return [
            RetrievedChunk(
                f"doc{i}:0", f"doc{i}", f"Doc {i}", "", f"Fact {i}. " + "filler text " * 120, 0.9 - i / 10
            )
            for i in range(4)
        ]

    def has_documents(self) -> bool:
        return True


def test_a_small_context_fits_the_excerpts_instead_of_refusing(store: ConversationStore) -> None:
    agent = make_agent(store, [echo, echo], retriever=BigExcerpts(), context_tokens=768, answer_tokens=128)
    first = agent.run("How long do returns take?", session_id=None)
    second = agent.run("And refunds?", session_id=first.session_id)

    assert second.reply == "answer to: And refunds?"
    window = store.messages(first.session_id)[-1].trace["window"]
    assert window["budget"] > 0
    assert 1 <= window["excerpts_used"] < 4
    # The best excerpt stays and is the one cited; dropped excerpts are not cited.
    assert [c["document"] for c in second.citations] == [f"doc{i}" for i in range(window["excerpts_used"])]
    # Some history survives with the excerpts: the second turn saw the first.
    seen = agent.backend.model.calls[1]["messages"]
    assert [m.content for m in seen[1:-1]] == ["How long do returns take?", first.reply]
    # The excerpts that fit come with the newest message, before the customer's words.
    assert seen[-1].content.startswith('<excerpt id="doc0:0"') and seen[-1].content.endswith("And refunds?")
    assert "<excerpt id=" not in seen[0].content


def test_messages_left_waiting_by_a_page_that_went_away_are_answered_in_the_background(
    store: ConversationStore,
) -> None:
    # The chat page answering this session left after the first reply began: the two messages behind
    # it are answered anyway, in order, with nobody reading, and stored for when the customer returns.
    agent = make_agent(store, [echo] * 3)
    session = store.create_session()
    first = agent.accept("question 1", session_id=session)
    reader = agent.stream(session, first.id)
    next(reader)  # the page saw the first event, then went away
    reader.close()
    agent.accept("question 2", session_id=session)
    agent.accept("question 3", session_id=session)

    agent.answer_waiting(session)

    deadline = time.monotonic() + 30
    while store.pending(session) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert store.pending(session) == []
    rows = store.messages(session)
    replies = [m.content for m in rows if m.role == "assistant"]
    assert replies == [f"answer to: question {i}" for i in (1, 2, 3)]
    assert all(m.status == "answered" for m in rows if m.role == "user")

"""The tool loop and the turn pipeline, driven by a scripted chat model over a real SQLite store."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import tool

from agents import InvalidMessageError, SupportAgent
from agents.replies import EMPTY_REPLY
from agents.turn import AgentConfig
from llm import BackendUnavailableError
from memory import ContextOverflowError, ConversationStore
from prompts import PromptLibrary
from tests.utils.scripted import scripted_backend, tool_call

ORDERS = {"A100": "shipped on Monday with UPS"}


@tool
def lookup_order(order_id: str) -> str:
    """Look up an order's status.

    Args:
        order_id: The order number.
    """
    if order_id not in ORDERS:
        raise LookupError(f"no order {order_id}")
    return f"Order {order_id}: {ORDERS[order_id]}"


def make_agent(store: ConversationStore, script: list, **config) -> SupportAgent:
    return SupportAgent(
        store=store,
        backend=scripted_backend(script),
        prompts=PromptLibrary(),
        config=AgentConfig(**config),
        tools=[lookup_order],
    )


def test_the_loop_runs_a_tool_and_hands_its_result_back(store: ConversationStore) -> None:
    agent = make_agent(
        store, [tool_call("lookup_order", {"order_id": "A100"}), AIMessage(content="It shipped Monday.")]
    )
    result = agent.run("Where is order A100?", session_id=None)

    assert result.reply == "It shipped Monday."
    assert result.tool_calls == [
        {
            "name": "lookup_order",
            "arguments": {"order_id": "A100"},
            "result": "Order A100: shipped on Monday with UPS",
        }
    ]
    second_call = agent.backend.model.calls[1]["messages"]
    assert isinstance(second_call[-1], ToolMessage)
    assert second_call[-1].content == "Order A100: shipped on Monday with UPS"
    assert [m.role for m in store.messages(result.session_id)] == ["user", "assistant", "tool", "assistant"]
    assert agent.backend.model.calls[0]["tools"][0]["function"]["name"] == "lookup_order"


def test_a_failing_tool_is_an_observation_not_a_crash(store: ConversationStore) -> None:
    agent = make_agent(
        store,
        [
            tool_call("lookup_order", {"order_id": "ZZZ"}, "c1"),
            tool_call("no_such_tool", {}, "c2"),
            tool_call("lookup_order", {"wrong": 1}, "c3"),
            AIMessage(content="I could not find that order."),
        ],
    )
    result = agent.run("Where is order ZZZ?", session_id=None)

    observations = [m.content for m in agent.backend.model.calls[3]["messages"] if isinstance(m, ToolMessage)]
    assert "LookupError: no order ZZZ" in observations[0]
    assert "no tool named 'no_such_tool'" in observations[1]
    assert "order_id" in observations[2] and observations[2].startswith("Error")
    assert result.reply == "I could not find that order."


def test_the_step_limit_ends_a_runaway_loop(store: ConversationStore) -> None:
    agent = make_agent(
        store,
        [tool_call("lookup_order", {"order_id": "A100"}, f"c{i}") for i in range(2)]
        + [AIMessage(content="Done.")],
        max_tool_steps=2,
    )
    result = agent.run("Where is order A100?", session_id=None)

    calls = agent.backend.model.calls
    assert len(calls) == 3
    assert calls[0]["tools"] and calls[1]["tools"] and not calls[2]["tools"]
    assert result.reply == "Done."
    assert store.messages(result.session_id)[-1].trace["step_limit_reached"] is True


def test_the_second_turn_sees_the_first(store: ConversationStore) -> None:
    agent = make_agent(store, [AIMessage(content="Hello Ada!"), AIMessage(content="Your name is Ada.")])
    first = agent.run("Hi, my name is Ada.", session_id=None)
    agent.run("What is my name?", session_id=first.session_id)

    seen = agent.backend.model.calls[1]["messages"]
    assert isinstance(seen[0], SystemMessage)
    assert [type(m) for m in seen[1:]] == [HumanMessage, AIMessage, HumanMessage]
    assert seen[1].content == "Hi, my name is Ada." and seen[2].content == "Hello Ada!"


def test_tokens_stream_before_the_turn_is_done(store: ConversationStore) -> None:
    agent = make_agent(store, [AIMessage(content="one two three")])
    stored = agent.accept("Count please", session_id=None)
    events = list(agent.respond(stored.session_id))

    assert [e.kind for e in events] == ["token", "token", "token", "done"]
    assert "".join(e.text for e in events[:-1]).strip() == "one two three"


def test_a_dead_backend_loses_no_words(store: ConversationStore) -> None:
    agent = make_agent(store, [ConnectionError("connection refused")])
    stored = agent.accept("Where is my parcel?", session_id=None)
    with pytest.raises(BackendUnavailableError):
        list(agent.respond(stored.session_id))
    assert [(m.role, m.content) for m in store.messages(stored.session_id)] == [
        ("user", "Where is my parcel?")
    ]


def test_the_message_is_committed_before_the_model_runs(store: ConversationStore) -> None:
    seen_in_store: list[list[str]] = []

    def answer(messages):
        session = store.sessions_for_client("browser-1")[0].id
        seen_in_store.append([m.content for m in store.messages(session)])
        return AIMessage(content="ok")

    agent = make_agent(store, [answer])
    agent.run("Remember me", session_id=None, client_id="browser-1")
    assert seen_in_store == [["Remember me"]]


def test_an_empty_answer_becomes_an_honest_fallback(store: ConversationStore) -> None:
    agent = make_agent(store, [AIMessage(content="   ")])
    assert agent.run("Where is my parcel?", session_id=None).reply == EMPTY_REPLY


def test_two_hundred_turns_at_a_small_context_keep_answering(store: ConversationStore) -> None:
    agent = make_agent(
        store,
        [AIMessage(content=f"answer number {i} " + "blah " * 20) for i in range(200)],
        context_tokens=400,
        answer_tokens=64,
    )
    session = None
    for i in range(200):
        session = agent.run(f"question number {i} " + "word " * 15, session_id=session).session_id
    assert len(store.messages(session)) == 400
    last_window = agent.backend.model.calls[-1]["messages"]
    assert last_window[-1].content.endswith("\n\nquestion number 199" + " word" * 15)
    assert len(last_window) < 20
    assert store.messages(session)[-1].trace["window"]["messages_total"] == 399


def test_a_message_too_big_for_the_context_is_refused_clearly(store: ConversationStore) -> None:
    agent = make_agent(store, [], context_tokens=400, answer_tokens=64)
    stored = agent.accept("word " * 600, session_id=None)
    with pytest.raises(ContextOverflowError, match="too long"):
        list(agent.respond(stored.session_id))
    assert store.messages(stored.session_id)[0].content.startswith("word")


@pytest.mark.parametrize(
    ("text", "code", "status"),
    [
        ("", "empty_message", 422),
        ("   \n\t ", "empty_message", 422),
        ("x" * 4001, "message_too_large", 413),
        ("hi\x00there", "invalid_characters", 422),
        ("bell\x07", "invalid_characters", 422),
        (42, "invalid_message", 422),
        (None, "invalid_message", 422),
    ],
)
def test_bad_messages_are_refused_before_anything_is_stored(
    store: ConversationStore, text, code, status
) -> None:
    agent = make_agent(store, [])
    with pytest.raises(InvalidMessageError) as error:
        agent.accept(text, session_id=None, client_id="c")
    assert (error.value.code, error.value.status) == (code, status)
    assert store.sessions_for_client("c") == []


def test_a_stream_stopped_for_repeating_itself_keeps_the_apps_token_count() -> None:
    # The app stops a generation that repeats itself before the server's usage arrives: the step
    # then carries the pieces it received, marked as the app's count.
    import asyncio

    from grounding.sentences import is_repeating
    from llm.streaming import Holder, ModelStep, stream_step

    looping = "Our store ships orders fast. " * 12
    backend = scripted_backend([AIMessage(content=looping), AIMessage(content="Orders ship in two days.")])
    steps: list[ModelStep] = []

    async def read(stop_when) -> str:
        holder: Holder[ModelStep] = Holder()
        text = "".join(
            [
                t
                async for t in stream_step(
                    backend, backend.model, [HumanMessage("Hi")], holder, stop_when=stop_when
                )
            ]
        )
        steps.append(holder.value)
        return text

    def repeating(text: str) -> str | None:
        return "repetition" if is_repeating(text) else None

    stopped = asyncio.run(read(repeating))
    finished = asyncio.run(read(repeating))

    assert steps[0].finish_reason == "repetition" and steps[0].counted
    assert steps[0].usage == {"output_tokens": len(stopped.split())} and len(stopped.split()) < len(
        looping.split()
    )
    # A stream that ran to its end has only what the server reported (this one reports nothing).
    assert finished == "Orders ship in two days. " and not steps[1].counted and steps[1].usage == {}

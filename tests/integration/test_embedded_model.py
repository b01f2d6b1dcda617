"""The real embedded model (SmolLM2-135M via llama.cpp): tool calls, streaming, long conversations."""

from __future__ import annotations

import json

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_core.tools import tool

from llm import build_chat_backend
from settings import Settings
from tools import run_tool_call


@pytest.fixture(scope="module")
def backend():
    return build_chat_backend(Settings(answer_tokens=32))


def test_a_named_tool_call_is_filled_and_run(backend) -> None:
    @tool
    def lookup_order(order_id: str) -> str:
        """Look up an order's status by its id."""
        return f"Order {order_id} shipped yesterday."

    reply = backend.model.bind_tools([lookup_order], tool_choice="lookup_order").invoke(
        [HumanMessage("Where is my order 12345?")]
    )
    call = reply.tool_calls[0]
    assert call["name"] == "lookup_order" and "12345" in call["args"]["order_id"]
    outcome = run_tool_call([lookup_order], call)
    assert outcome.ok and "shipped yesterday" in outcome.result


def test_answers_stream_token_by_token_and_respect_max_tokens(backend) -> None:
    chunks = [c for c in backend.model.stream([HumanMessage("Tell me a long story about a ship.")]) if c.text]
    assert len(chunks) > 5
    assert backend.count_text("".join(c.text for c in chunks)) <= 34


def test_a_streamed_answer_reports_the_tokens_llama_cpp_counts(backend) -> None:
    greedy = backend.model.model_copy(update={"temperature": 0, "max_tokens": 8})
    messages = [SystemMessage("You are brief."), HumanMessage("Say hello.")]
    chunks = list(greedy.stream(messages))
    usage = [c.usage_metadata for c in chunks if c.usage_metadata]
    # Once, with the finished answer; the same counts llama.cpp gives for the answer in one piece.
    assert len(usage) == 1
    whole = greedy.invoke(messages)
    assert whole.content == "".join(c.text for c in chunks)
    assert usage[0] == whole.usage_metadata
    assert usage[0]["input_tokens"] > 5 and 0 < usage[0]["output_tokens"] <= 8


def test_the_inspector_shows_the_token_counts_of_a_streamed_turn(make_client) -> None:
    from tests.integration.conftest import ADMIN
    from web.admin_conversations import inspector_markdown

    client = make_client(answer_tokens=8, demo_data=False, answer_mode="generative")
    with client.stream(
        "POST", "/api/v1/chat", json={"message": "How long does shipping take?", "stream": True}
    ) as response:
        assert response.status_code == 200
        done = [line for line in response.iter_lines() if line.startswith("data:")][-1]
    reply_id = json.loads(done.removeprefix("data:"))["message_id"]
    turn = client.get(f"/api/v1/admin/messages/{reply_id}/trace", auth=ADMIN).json()
    assert turn["steps"]
    for step in turn["steps"]:
        assert isinstance(step["input_tokens"], int) and step["input_tokens"] > 0
        assert isinstance(step["output_tokens"], int) and step["output_tokens"] > 0
    assert turn["tokens"]["input"] == sum(s["input_tokens"] for s in turn["steps"])
    shown = inspector_markdown(turn)
    steps = shown.split("#### Model steps")[1]
    assert "None in" not in steps and "not reported" not in steps
    assert f"**Tokens:** {turn['tokens']['input']} in / {turn['tokens']['output']} out" in shown


def test_token_counts_come_from_the_model_tokenizer(backend) -> None:
    assert backend.count_text("hello") == 1
    assert backend.count_text("Where is my order?") < len("Where is my order?")


def test_conversations_taking_turns_each_resume_from_their_own_prompt(backend) -> None:
    import llama_cpp

    llama = backend.model.llama
    shop = [
        SystemMessage("You are the helpful assistant of a small shop. " * 15),
        HumanMessage("Where is my parcel?"),
    ]
    kitchen = [
        SystemMessage("You answer questions about cooking at home. " * 15),
        HumanMessage("How do I boil an egg?"),
    ]
    reply = backend.model.invoke(shop)
    assert isinstance(reply, AIMessage)
    backend.model.invoke(kitchen)  # the model's context now holds the other conversation
    llama_cpp.llama_perf_context_reset(llama._ctx.ctx)
    backend.model.invoke([*shop, reply, HumanMessage("It was sent last week.")])
    evaluated = llama_cpp.llama_perf_context(llama._ctx.ctx).n_p_eval
    # Only the new part was read: the system prompt and the first exchange came from the prompt cache.
    assert 0 < evaluated < backend.count_text(str(shop[0].content))


def test_eighty_turns_at_a_small_context_never_overflow(make_client) -> None:
    # 512 tokens of context is also llama.cpp's n_ctx here: an overflow would be a hard error.
    # Generative answers: this is about the window, and with no document every checked reply would be
    # an honest "don't know" (the second of which hands the conversation to a person).
    # So many turns into one conversation in a few minutes is what the rate limits exist to stop.
    # 80 turns hold some 1,600 tokens against 512: the window is full long before the last turn and
    # slides for most of them. (This test ran 200 turns, ~8 minutes on 2 cores; 80 take ~3.)
    client = make_client(
        context_tokens=512,
        answer_tokens=4,
        demo_data=False,
        answer_mode="generative",
        rate_limit_per_session="",
        rate_limit_per_ip="",
    )
    session_id = None
    for n in range(80):
        response = client.post(
            "/api/v1/chat",
            json={
                "message": f"Turn {n}: please remind me what we talked about so far.",
                "session_id": session_id,
            },
        )
        assert response.status_code == 200, response.text
        session_id = response.json()["session_id"]
    history = client.get(f"/api/v1/sessions/{session_id}/messages").json()["messages"]
    assert len(history) == 160
    assert history[0]["content"].startswith("Turn 0:")

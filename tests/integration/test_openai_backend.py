"""The `openai` backend (the vLLM path) against a real OpenAI-compatible server: llama_cpp.server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.tools import tool

from llm import build_chat_backend
from settings import Settings
from tests.utils.server import running_llama_server


@pytest.fixture(scope="module")
def server_url(gguf_path: Path) -> Iterator[str]:
    with running_llama_server(gguf_path) as url:
        yield url


def backend_settings(url: str, **overrides) -> Settings:
    return Settings(llm_backend="openai", llm_base_url=url, llm_model="smollm2", **overrides)


def test_a_chat_completion_comes_back(server_url: str) -> None:
    backend = build_chat_backend(backend_settings(server_url, answer_tokens=32))
    reply = backend.model.invoke([SystemMessage("You are helpful."), HumanMessage("Say hello.")])
    assert reply.text.strip()


def test_max_tokens_really_bounds_generation(server_url: str) -> None:
    # 6 is below llama_cpp.server's own default (16), so a bound the server ignored would show.
    backend = build_chat_backend(backend_settings(server_url, answer_tokens=6))
    reply = backend.model.invoke([HumanMessage("Write a very long story about a dragon and a castle.")])
    assert reply.usage_metadata["output_tokens"] == 6
    # And above that default the configured bound is what counts, not the server's 16.
    longer = build_chat_backend(backend_settings(server_url, answer_tokens=40))
    reply = longer.model.invoke([HumanMessage("Write a very long story about a dragon and a castle.")])
    assert reply.usage_metadata["output_tokens"] > 16
    assert reply.response_metadata["finish_reason"] == "length"


def test_streaming_arrives_in_pieces(server_url: str) -> None:
    backend = build_chat_backend(backend_settings(server_url, answer_tokens=32))
    pieces = [
        c.text for c in backend.model.stream([HumanMessage("Count from one to ten in words.")]) if c.text
    ]
    assert len(pieces) > 3


def test_tokens_are_counted_by_the_server_tokenizer(server_url: str, gguf_path: Path) -> None:
    from llama_cpp import Llama

    backend = build_chat_backend(backend_settings(server_url))
    local = Llama(model_path=str(gguf_path), vocab_only=True, verbose=False)
    text = "Where is my order #A-1001? It was supposed to arrive Tuesday."
    expected = len(local.tokenize(text.encode(), add_bos=False, special=True))
    assert backend.count_text(text) == expected


def test_token_counting_falls_back_to_an_estimate_without_a_tokenizer_endpoint() -> None:
    backend = build_chat_backend(backend_settings("http://127.0.0.1:9/v1"))
    assert backend.count_text("x" * 300) >= 100


def test_a_named_tool_call_comes_back_valid(server_url: str) -> None:
    @tool
    def lookup_order(order_id: str) -> str:
        """Look up an order's status by its id."""
        return "shipped"

    backend = build_chat_backend(backend_settings(server_url))
    reply = backend.model.bind_tools([lookup_order], tool_choice="lookup_order").invoke(
        [HumanMessage("Where is my order 12345?")]
    )
    assert reply.tool_calls[0]["name"] == "lookup_order"
    assert "12345" in reply.tool_calls[0]["args"]["order_id"]


def test_a_whole_turn_through_the_api_on_the_openai_backend(server_url: str, make_client) -> None:
    client = make_client(llm_backend="openai", llm_base_url=server_url, llm_model="smollm2")
    health = client.get("/healthz").json()
    assert "OpenAI-compatible" in health["model"]
    # The probe reached llama_cpp.server (which says no max_model_len) and its tool calling works.
    assert health["backend"]["reachable"] and health["backend"]["max_model_len"] is None
    assert health["backend"]["named_tool_calls"] is True and health["status"] == "ok"
    body = client.post("/api/v1/chat", json={"message": "What payment methods do you accept?"}).json()
    assert body["reply"].strip()
    assert body["citations"][0]["document"] == "payment-methods"
    with client.stream(
        "POST", "/api/v1/chat", json={"message": "How can I track my order?", "stream": True}
    ) as response:
        text = "".join(response.iter_text())
    assert text.count("event: token") >= 3 and "event: done" in text

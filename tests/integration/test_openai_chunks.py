"""The `openai` backend's streamed chunks arrive as plain dicts through the SDK's own client
(llm/openai_chunks.py), against the stand-in OpenAI-compatible server on loopback: what the server
sends reaches LangChain whole, `extra_body` reaches the server, and refusals stay the SDK's errors."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from langchain_core.messages import HumanMessage

from llm.factory import build_chat_backend
from settings import Settings
from tests.utils.standin import running_standin


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # 40 tokens at 400/s per answer, unless a request asks for fewer; prompts over 200 tokens refused.
    options = ("--tokens", "40", "--rate", "400", "--max-model-len", "200")
    with running_standin(tmp_path_factory.mktemp("standin"), *options) as url:
        yield url


def model_for(url: str, tmp_path: Path) -> Any:
    settings = Settings(
        data_dir=tmp_path, llm_backend="openai", llm_base_url=url, llm_model="standin", answer_tokens=9
    )
    return build_chat_backend(settings).model


def test_streamed_chunks_are_dicts_and_carry_what_the_server_sent(server: str, tmp_path: Path) -> None:
    model = model_for(server, tmp_path)

    async def raw() -> list[Any]:
        stream = await model.async_client.create(
            model="standin",
            messages=[{"role": "user", "content": "hello"}],
            stream=True,
            extra_body={"max_tokens": 5},
        )
        return [chunk async for chunk in stream]

    chunks = asyncio.run(raw())
    assert chunks and all(isinstance(c, dict) for c in chunks)
    text = "".join((c["choices"][0]["delta"].get("content") or "") for c in chunks if c.get("choices"))
    assert len(text.split()) == 5  # extra_body's max_tokens reached the server


def test_langchain_streams_the_whole_answer_with_its_usage(server: str, tmp_path: Path) -> None:
    model = model_for(server, tmp_path)

    async def streamed() -> list[Any]:
        return [chunk async for chunk in model.astream([HumanMessage("where is my order?")])]

    pieces = asyncio.run(streamed())
    text = "".join(p.text for p in pieces)
    assert len(text.split()) == 9  # FRONTDESK_ANSWER_TOKENS bounds the answer on the server
    usage = next(p.usage_metadata for p in pieces if p.usage_metadata)
    assert usage["output_tokens"] == 9 and usage["input_tokens"] > 0


def test_a_refused_prompt_is_still_the_sdks_status_error(server: str, tmp_path: Path) -> None:
    model = model_for(server, tmp_path)

    async def too_long() -> None:
        async for _ in model.astream([HumanMessage("word " * 400)]):
            pass

    with pytest.raises(openai.BadRequestError, match="maximum context length"):
        asyncio.run(too_long())


def test_the_echoing_standin_answers_with_the_newest_user_messages_words(tmp_path: Path) -> None:
    # bench/openai_standin.py --echo: a model that quotes its sources (the app's excerpts sit in the
    # newest user message), cycling through them until the answer's tokens are spent.
    with running_standin(tmp_path, "--tokens", "7", "--rate", "400", "--echo") as url:
        model = model_for(url, tmp_path)
        messages = [HumanMessage("an older question"), HumanMessage("Returns are free within 30 days.")]
        answer = asyncio.run(model.ainvoke(messages))
    assert answer.content.split() == "Returns are free within 30 days. Returns".split()

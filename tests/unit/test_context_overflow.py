"""A server's "prompt too long" answer: recognised in every wording, and the window trimmed further."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from llm.overflow import parse_context_limit
from memory.window import ContextOverflowError, trim_further

VLLM = (
    "This model's maximum context length is 2048 tokens. However, you requested 2300 tokens "
    "(2044 in the messages, 256 in the completion). Please reduce the length of the messages or completion."
)
VLLM_NEW = "This model's maximum context length is 4096 tokens. However, your request has 5000 input tokens."
LLAMA = "Requested tokens (2100) exceed context window of 2048"


def test_vllm_and_llama_cpp_wordings_are_recognised() -> None:
    limit = parse_context_limit(f"Error code: 400 - {{'message': \"{VLLM}\"}}")
    assert (limit.limit, limit.requested, limit.completion) == (2048, 2300, 256)
    assert parse_context_limit(VLLM_NEW).requested == 5000
    assert (parse_context_limit(LLAMA).limit, parse_context_limit(LLAMA).requested) == (2048, 2100)
    assert parse_context_limit("Error code: 400 - invalid tool_choice") is None


def test_the_share_kept_makes_the_next_prompt_fit_with_a_margin() -> None:
    limit = parse_context_limit(VLLM)
    # 2044 prompt tokens must become at most 1792 (2048 − 256 for the answer): keep under 88 %.
    assert limit.keep_share() < 1792 / 2044
    assert parse_context_limit("This model's maximum context length is 100 tokens.").keep_share() == 0.5


def count(message) -> int:
    return len(str(message.content).split())


def turns(n: int, words: int = 50) -> list:
    messages: list = [SystemMessage("system " * 20)]
    for i in range(n):
        messages += [HumanMessage(f"q{i} " * words), AIMessage(f"a{i} " * words)]
    return [*messages[:-1]]  # the newest question, unanswered


def test_trimming_further_drops_old_turns_and_keeps_the_system_prompt_and_the_question() -> None:
    messages = turns(4)
    trimmed = trim_further(messages, keep_share=0.5, count_tokens=count)
    assert trimmed[0] == messages[0] and trimmed[-1] == messages[-1]
    assert sum(map(count, trimmed[1:])) <= 0.5 * sum(map(count, messages[1:]))
    assert isinstance(trimmed[1], HumanMessage)  # whole turns only


def test_at_least_one_turn_leaves_even_when_the_share_would_keep_all() -> None:
    messages = turns(3)
    assert len(trim_further(messages, keep_share=0.99, count_tokens=count)) == len(messages) - 2


def test_a_question_alone_too_long_cannot_be_trimmed() -> None:
    with pytest.raises(ContextOverflowError):
        trim_further(turns(1), keep_share=0.5, count_tokens=count)

"""FIFO window invariants, checked by property-based tests over random conversations."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

from memory.window import ContextOverflowError, trim_to_budget


def cost(message: BaseMessage) -> int:
    return len(str(message.content)) + 3 + 5 * len(getattr(message, "tool_calls", []) or [])


@st.composite
def conversations(draw: st.DrawFn) -> list[BaseMessage]:
    messages: list[BaseMessage] = []
    turns = draw(st.integers(min_value=1, max_value=25))
    for t in range(turns):
        messages.append(HumanMessage(content="u" * draw(st.integers(0, 60)), id=f"h{t}"))
        for c in range(draw(st.integers(0, 2))):
            call_id = f"c{t}_{c}"
            messages.append(
                AIMessage(content="", tool_calls=[{"name": "t", "args": {}, "id": call_id}], id=f"a{t}_{c}")
            )
            messages.append(
                ToolMessage(content="r" * draw(st.integers(0, 40)), tool_call_id=call_id, id=f"r{t}_{c}")
            )
        if t < turns - 1 or draw(st.booleans()):
            messages.append(AIMessage(content="a" * draw(st.integers(0, 60)), id=f"f{t}"))
    return messages


def newest_turn_start(messages: list[BaseMessage]) -> int:
    return max(i for i, m in enumerate(messages) if isinstance(m, HumanMessage))


@settings(max_examples=300, deadline=None)
@given(conversations(), st.integers(min_value=0, max_value=1500))
def test_window_is_the_newest_whole_turns_that_fit(messages: list[BaseMessage], budget: int) -> None:
    start = newest_turn_start(messages)
    newest = sum(cost(m) for m in messages[start:])
    if newest > budget:
        with pytest.raises(ContextOverflowError):
            trim_to_budget(messages, budget=budget, count_tokens=cost)
        return
    window = trim_to_budget(messages, budget=budget, count_tokens=cost)

    # A suffix of the history that starts on a user message and keeps the newest turn.
    assert window == messages[len(messages) - len(window) :]
    assert isinstance(window[0], HumanMessage)
    assert window[-(len(messages) - start) :] == messages[start:]
    # It fits.
    assert sum(cost(m) for m in window) <= budget
    # FIFO: the turn just before the window would not have fit as well (oldest leave first, only as needed).
    dropped = messages[: len(messages) - len(window)]
    if dropped:
        previous_start = max(i for i, m in enumerate(dropped) if isinstance(m, HumanMessage))
        assert sum(cost(m) for m in messages[previous_start:]) > budget
    # No tool call without its results, no result without its call.
    calls = {c["id"] for m in window if isinstance(m, AIMessage) for c in m.tool_calls}
    results = {m.tool_call_id for m in window if isinstance(m, ToolMessage)}
    assert calls == results


@settings(max_examples=100, deadline=None)
@given(conversations())
def test_everything_is_kept_when_it_fits(messages: list[BaseMessage]) -> None:
    first_human = next(i for i, m in enumerate(messages) if isinstance(m, HumanMessage))
    total = sum(cost(m) for m in messages)
    assert trim_to_budget(messages, budget=total, count_tokens=cost) == messages[first_human:]


def test_a_single_message_over_budget_is_refused_not_dropped() -> None:
    messages = [HumanMessage(content="x" * 500)]
    with pytest.raises(ContextOverflowError) as error:
        trim_to_budget(messages, budget=100, count_tokens=cost)
    assert error.value.needed == 503 and error.value.budget == 100
    assert "too long" in str(error.value)

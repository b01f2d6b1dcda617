"""The FIFO context window: the newest whole turns that fit the token budget, oldest leaving first."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
    trim_messages,
)

from memory.order import turns
from memory.store import StoredMessage


class ContextOverflowError(ValueError):
    """The newest user message (with its turn so far) does not fit the context budget on its own."""

    def __init__(self, needed: int, budget: int) -> None:
        super().__init__(
            f"The message is too long for the model's context: it needs {needed} tokens "
            f"and {budget} are available. Please shorten it."
        )
        self.needed = needed
        self.budget = budget


def trim_to_budget(
    messages: Sequence[BaseMessage],
    *,
    budget: int,
    count_tokens: Callable[[BaseMessage], int],
) -> list[BaseMessage]:
    """Keep the newest whole turns (a turn starts at a user message) whose tokens fit `budget`.

    The newest turn is always kept: if it alone does not fit, ContextOverflowError is raised
    rather than sending the model a window without the question. Because only whole turns are
    dropped, an assistant tool call never leaves without its tool results, nor the reverse.
    """
    if not messages:
        return []
    last_human = max((i for i, m in enumerate(messages) if isinstance(m, HumanMessage)), default=None)
    if last_human is None:
        raise ValueError("the conversation has no user message to answer")
    newest_turn = list(messages[last_human:])
    needed = sum(count_tokens(m) for m in newest_turn)
    if needed > budget:
        raise ContextOverflowError(needed, budget)

    kept = trim_messages(
        list(messages),
        max_tokens=budget,
        token_counter=lambda msgs: sum(count_tokens(m) for m in msgs),
        strategy="last",
        start_on="human",
        include_system=False,
        allow_partial=False,
    )
    # trim_messages can return an empty or headless list in edge cases; the newest turn must
    # survive whatever it does, so fall back to exactly that turn.
    if len(kept) < len(newest_turn) or kept[-len(newest_turn) :] != newest_turn:
        return newest_turn
    return kept


def trim_further(
    messages: Sequence[BaseMessage],
    *,
    keep_share: float,
    count_tokens: Callable[[BaseMessage], int],
) -> list[BaseMessage]:
    """A prompt the server refused as too long, with fewer old turns: the conversation after the
    system prompt keeps about `keep_share` of its tokens, and at least its oldest turn leaves.

    The system prompt and the newest turn always stay; when nothing else is left to drop,
    ContextOverflowError is raised (the message alone is too long for the model).
    """
    head = list(messages[:1]) if messages and isinstance(messages[0], SystemMessage) else []
    body = list(messages[len(head) :])
    last_human = max((i for i, m in enumerate(body) if isinstance(m, HumanMessage)), default=0)
    newest = body[last_human:]
    if last_human == 0:
        needed = sum(count_tokens(m) for m in [*head, *newest])
        raise ContextOverflowError(needed, int(needed * keep_share))
    budget = int(sum(count_tokens(m) for m in body) * keep_share)
    try:
        kept = trim_to_budget(body, budget=budget, count_tokens=count_tokens)
    except ContextOverflowError:
        kept = newest
    if len(kept) == len(body):
        # The budget held everything (counts too coarse): drop the oldest turn at least.
        second = next(i for i, m in enumerate(body) if i and isinstance(m, HumanMessage))
        kept = body[second:]
    return [*head, *kept]


def conversation_for(history: Sequence[StoredMessage], message_id: int) -> list[StoredMessage]:
    """What the model sees when answering message `message_id`: the conversation up to it, in
    conversation order (memory/order.py).

    Each answered user message is followed by the rows that answer it (`reply_to`), even when a
    later message was stored before that reply. User messages that failed (a 503, an overflow)
    or still wait for their own turn are left out: their words are stored and shown, but they must
    not be answered as part of another question. Rows that answer no message keep their place.
    """
    result: list[StoredMessage] = []
    for turn in turns(history):
        head = turn[0]
        if head.id > message_id:
            continue
        # "human": a message a person handled while they held the conversation.
        if head.role != "user" or head.id == message_id or head.status in (None, "answered", "human"):
            result.extend(turn)
    return result


def to_langchain(stored: Sequence[StoredMessage]) -> list[BaseMessage]:
    """Turn stored rows into LangChain messages, dropping tool rows whose call is not present."""
    result: list[BaseMessage] = []
    open_calls: set[str] = set()
    for row in stored:
        if row.role == "user":
            result.append(HumanMessage(content=row.content, id=str(row.id)))
        elif row.role == "human_agent":
            # A support agent's reply: the bot's side of the conversation, as context.
            result.append(AIMessage(content=row.content, id=str(row.id)))
        elif row.role == "assistant":
            calls = row.tool_calls or []
            open_calls |= {c["id"] for c in calls}
            result.append(AIMessage(content=row.content, tool_calls=calls, id=str(row.id)))
        elif row.role == "tool" and row.tool_call_id in open_calls:
            result.append(ToolMessage(content=row.content, tool_call_id=row.tool_call_id, id=str(row.id)))
    return result

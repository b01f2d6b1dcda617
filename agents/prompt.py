"""The prompt a turn sends: the system prompt, the FIFO window, and this turn's excerpts at the start
of the customer's newest message.

The order is for the model server's prefix cache (vLLM's automatic prefix caching, llama.cpp's
prompt cache): the system prompt is the same on every turn and the conversation only grows, so a
turn's prompt begins with the previous turn's prompt minus that turn's excerpts, and only the last
question and reply, the new message and its excerpts have to be read again. That holds while the
conversation fits: once the FIFO window drops its oldest turn, everything after the system prompt
shifts and is read again (each turn, until the conversation ends). The excerpts go inside the newest
human message rather than in a system message of their own: some chat templates (Mistral's,
Gemma's) refuse a system message after the first.

Excerpts give way before the conversation does: best first, the weakest leave first, the last one
is shortened before it leaves; what remains must hold the newest turn and some history (up to an
eighth of the context). Only when the newest turn alone does not fit with no excerpt at all is the
message refused (ContextOverflowError).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from knowledge.types import RetrievedChunk
from llm.factory import MESSAGE_OVERHEAD_TOKENS, ChatBackend
from memory.store import StoredMessage
from memory.window import ContextOverflowError, to_langchain, trim_to_budget

if TYPE_CHECKING:
    from agents.replies import TurnReplies

# An excerpt is shortened rather than dropped while at least this many characters of it remain.
MIN_EXCERPT_CHARS = 200
# Between the excerpts and the customer's own words in the newest message.
EXCERPTS_SEPARATOR = "\n\n"


@dataclass
class Prompt:
    messages: list[BaseMessage]
    excerpts: list[RetrievedChunk]  # the excerpts that went in (possibly one shortened): the citations
    trace: dict[str, Any]


def turn_prompt(
    backend: ChatBackend,
    replies: TurnReplies,
    chunks: Sequence[RetrievedChunk],
    conversation: Sequence[StoredMessage],
) -> tuple[Prompt, ChatBackend]:
    """This turn's prompt from its prompt versions, and the backend with the decoding settings of its
    system prompt's version (unset: the configured ones); the answer gets half the context at most."""
    config, decoding = replies.config, replies.prompts.decoding
    answer_tokens = min(decoding.max_answer_tokens or config.answer_tokens, config.context_tokens // 2)
    backend = backend.with_decoding(decoding.model_copy(update={"max_answer_tokens": answer_tokens}))
    prompt = build_prompt(
        backend=backend,
        system=replies.render("system"),
        render_excerpts=lambda used: replies.render("excerpts", chunks=used),
        chunks=chunks,
        conversation=conversation,
        context_tokens=config.context_tokens,
        answer_tokens=answer_tokens,
    )
    return prompt, backend


def build_prompt(
    *,
    backend: ChatBackend,
    system: str,
    render_excerpts: Callable[[list[RetrievedChunk]], str],
    chunks: Sequence[RetrievedChunk],
    conversation: Sequence[StoredMessage],
    context_tokens: int,
    answer_tokens: int,
) -> Prompt:
    """Fit `chunks` and `conversation` (ending with the message being answered) into the context
    after the `system` prompt; `render_excerpts` writes the excerpts that go in (none: it says so)."""
    history = to_langchain(conversation)
    count = stored_counter(backend, conversation)
    last_human = max(i for i, m in enumerate(history) if isinstance(m, HumanMessage))
    newest = sum(count(m) for m in history[last_human:])
    earlier = sum(count(m) for m in history[:last_human])
    wanted = newest + min(earlier, context_tokens // 8)
    system_tokens = backend.count_text(system) + MESSAGE_OVERHEAD_TOKENS
    room = context_tokens - system_tokens - answer_tokens - backend.prompt_overhead_tokens

    used = list(chunks)
    shortened = False
    while True:
        excerpts = render_excerpts(used) + EXCERPTS_SEPARATOR
        excerpt_tokens = backend.count_text(excerpts)
        budget = room - excerpt_tokens
        if budget >= wanted or not used:
            break
        if len(used) == 1 and not shortened:
            shortened = True
            shorter = _shorten(backend, used[0], by_tokens=wanted - budget)
            if shorter is not None:
                used = [shorter]
                continue
        used = used[:-1]
    if budget < newest:
        raise ContextOverflowError(newest, max(budget, 0))
    window = trim_to_budget(history, budget=budget, count_tokens=count)
    trace = {
        "system_tokens": system_tokens,
        # The conversation's budget: the context less the system prompt, the excerpts and the answer.
        "budget": budget,
        "excerpt_tokens": excerpt_tokens,
        # What the prompt comes to by the app's count (the server's own count is the step's).
        "prompt_tokens": system_tokens + excerpt_tokens + sum(count(m) for m in window),
        "messages_kept": len(window),
        "messages_total": len(history),
        "excerpts_used": len(used),
        "excerpts_dropped": len(chunks) - len(used),
        "excerpt_shortened": shortened and bool(used),
        "excerpt_ids": [c.chunk_id for c in used],
        # The stored rows the model saw, by id (the newest whole turns that fit); the admin's turn
        # inspector shows the rest of the conversation as dropped. Bounded by the budget, so small.
        "kept_ids": [int(m.id) for m in window if m.id is not None and str(m.id).isdigit()],
    }
    return Prompt([SystemMessage(content=system), *with_excerpts(window, excerpts)], used, trace)


def with_excerpts(window: list[BaseMessage], excerpts: str) -> list[BaseMessage]:
    """`window` with `excerpts` at the start of its newest human message (the only one changed)."""
    at = max(i for i, m in enumerate(window) if isinstance(m, HumanMessage))
    question = window[at]
    return [
        *window[:at],
        HumanMessage(content=excerpts + str(question.content), id=question.id),
        *window[at + 1 :],
    ]


def stored_counter(
    backend: ChatBackend, conversation: Sequence[StoredMessage]
) -> Callable[[BaseMessage], int]:
    """Tokens of a message of `conversation`, from the count stored with its row when there is one,
    so that a turn counts only what is new (no call to a remote tokenizer per stored message)."""
    stored = {
        # A customer's row stores the count of its text alone; the others include the overhead.
        str(row.id): row.token_count + (MESSAGE_OVERHEAD_TOKENS if row.role == "user" else 0)
        for row in conversation
        if row.token_count > 0
    }

    counted: dict[int, int] = {}  # messages without a stored count, counted once (by object)

    def count(message: BaseMessage) -> int:
        known = stored.get(message.id) if message.id is not None else None
        if known is None:
            known = counted.get(id(message))
        if known is None:
            known = counted[id(message)] = backend.count_message(message)
        return known

    return count


def _shorten(backend: ChatBackend, chunk: RetrievedChunk, *, by_tokens: int) -> RetrievedChunk | None:
    """The excerpt cut (at a sentence or line end) by about `by_tokens`, or None if too little would remain."""
    tokens = max(1, backend.count_text(chunk.text))
    keep_chars = int(len(chunk.text) * (tokens - by_tokens - 8) / tokens)
    if keep_chars < MIN_EXCERPT_CHARS:
        return None
    cut = chunk.text[:keep_chars]
    end = max(cut.rfind(". "), cut.rfind("\n"))
    text = (cut[: end + 1] if end >= MIN_EXCERPT_CHARS else cut).rstrip() + " …"
    return dataclasses.replace(chunk, text=text)

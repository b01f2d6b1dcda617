"""One customer turn, from a stored message to its stored reply, as a stream of events.

A turn answers one message (by id), holding the conversation's turn lock: turns of one session run
one at a time and in order, across threads and processes. The pieces live beside this file: the
store writes (`recorder.py`), the trace (`trace.py`), the tool loop (`loop.py`).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from langchain_core.tools import BaseTool

from agents.events import TurnEvent, TurnResult
from agents.loop import run_tool_loop
from agents.recorder import TurnRecorder, count_text_safely
from agents.runner import run_detached
from agents.trace import TurnTrace
from agents.validation import clean_message
from knowledge.types import RetrievedChunk, Retriever
from llm.factory import MESSAGE_OVERHEAD_TOKENS, BackendUnavailableError, ChatBackend
from memory.store import ConversationStore, StoredMessage, UnknownSessionError
from memory.turnlock import TurnLock
from memory.window import ContextOverflowError, conversation_for, to_langchain, trim_to_budget
from prompts.library import PromptLibrary

__all__ = ["AgentConfig", "SupportAgent", "TurnEvent", "TurnResult"]

EMPTY_REPLY = (
    "I'm sorry, I couldn't put together an answer just now. "
    "Would you like me to connect you with a human agent?"
)
# An excerpt is shortened rather than dropped while at least this many characters of it remain.
MIN_EXCERPT_CHARS = 200


@dataclass
class AgentConfig:
    company: str | None = None
    assistant_name: str | None = None
    topics: list[str] = dataclasses.field(default_factory=list)
    context_tokens: int = 2048
    answer_tokens: int = 256
    max_tool_steps: int = 4
    max_message_chars: int = 4000


class SupportAgent:
    """Runs turns for any session; holds no per-session state (that is all in the store)."""

    def __init__(
        self,
        *,
        store: ConversationStore,
        backend: ChatBackend,
        prompts: PromptLibrary,
        config: AgentConfig,
        retriever: Retriever | None = None,
        tools: Sequence[BaseTool] = (),
        turn_lock: TurnLock | None = None,
    ) -> None:
        self.store = store
        self.backend = backend
        self.prompts = prompts
        self.config = config
        self.retriever = retriever
        self.tools = list(tools)
        self.turn_lock = turn_lock or TurnLock(store.engine)

    # The two halves of a turn are separate so that a caller can answer bad input (4xx) before it
    # starts streaming, and so that the message is committed before the model runs.
    def accept(self, text: object, *, session_id: str | None, client_id: str | None = None) -> StoredMessage:
        """Validate and commit the customer's message (creating a session if needed)."""
        content = clean_message(text, max_chars=self.config.max_message_chars)
        if session_id is None:
            session_id = self.store.create_session(client_id=client_id)
        return self.store.add_message(
            session_id=session_id,
            role="user",
            content=content,
            token_count=count_text_safely(self.backend, content),
        )

    def respond(self, session_id: str, message_id: int | None = None) -> Iterator[TurnEvent]:
        """Answer message `message_id` (default: the newest waiting one); the last event is `done`.

        Waits for the session's earlier turns. Earlier messages still waiting (a concurrent request
        that has not got the lock yet, or one whose worker died) are answered first, silently, so
        that every message is answered in order; a message another worker already answered is
        replayed from the store rather than answered twice.
        """
        if message_id is None:
            waiting = self.store.pending(session_id)
            if not waiting:
                raise ValueError(f"session {session_id} has no message waiting for an answer")
            message_id = waiting[-1].id
        with self.turn_lock.hold(session_id):
            answered_first = []
            for earlier in self.store.pending(session_id, up_to=message_id - 1):
                try:
                    for _ in self._answer(earlier, answered_first=[]):
                        pass
                except (BackendUnavailableError, ContextOverflowError):
                    pass  # marked failed by _answer; this message still gets its own try
                answered_first.append(earlier.id)
            target = self.store.message(message_id)
            if target is None or target.session_id != session_id or target.role != "user":
                raise UnknownSessionError(f"{session_id} has no customer message {message_id}")
            if target.status == "answered":
                yield from self._replay(target)
            else:
                yield from self._answer(target, answered_first=answered_first)

    def stream(self, session_id: str, message_id: int) -> Iterator[TurnEvent]:
        """`respond`, run in its own thread: a client that stops reading does not stop the turn, so
        the reply is still stored (and shown when the customer comes back)."""
        return run_detached(lambda: self.respond(session_id, message_id))

    def run(self, text: object, *, session_id: str | None, client_id: str | None = None) -> TurnResult:
        """A whole turn without streaming."""
        stored = self.accept(text, session_id=session_id, client_id=client_id)
        for event in self.respond(stored.session_id, stored.id):
            if event.kind == "done" and event.result is not None:
                return event.result
        raise RuntimeError("the turn ended without a result")

    # -- pieces ---------------------------------------------------------------------------------

    def _answer(self, message: StoredMessage, *, answered_first: list[int]) -> Iterator[TurnEvent]:
        started = time.perf_counter()
        recorder = TurnRecorder(self.store, self.backend, session_id=message.session_id, message_id=message.id)
        trace = TurnTrace(answered_first=answered_first)
        try:
            conversation = conversation_for(self.store.messages(message.session_id), message.id)
            earlier = [m.content for m in conversation if m.role == "user" and m.id != message.id]
            chunks, trace.retrieval = self._retrieve(message.content, earlier[-1] if earlier else None)
            if self.retriever is not None and not chunks and self.retriever.has_documents():
                # Nothing in the knowledge base is relevant: say so honestly instead of letting the
                # model improvise a policy.
                reply = self.prompts.render(
                    "no_answer", company=self.config.company, topics=self.config.topics
                )
                trace.grounding = "no_relevant_knowledge"
                trace.handoff_offered = True
                yield TurnEvent("token", text=reply)
                yield self._finish(recorder, reply, [], [], trace, started)
                return

            messages, used = self._window(chunks, conversation, trace)
            loop = yield from run_tool_loop(
                backend=self.backend,
                tools=self.tools,
                messages=messages,
                max_steps=self.config.max_tool_steps,
                recorder=recorder,
                trace=trace,
            )
            citations = {c.chunk_id: c for c in [*used, *loop.found_chunks]}
            reply = (loop.final.text if loop.final is not None else "").strip()
            if not reply:
                reply = EMPTY_REPLY
                trace.grounding = "empty_reply"
                trace.handoff_offered = True
                yield TurnEvent("token", text=reply)
            ranked = sorted(citations.values(), key=lambda c: -c.score)
            yield self._finish(
                recorder, reply, [c.citation() for c in ranked], [o.public() for o in loop.outcomes], trace, started
            )
        except BaseException:
            # Whatever stopped the turn, the message stays stored, is shown as unanswered, and is
            # kept out of the windows of later turns (it must not be answered as part of another).
            recorder.failed()
            raise

    def _replay(self, message: StoredMessage) -> Iterator[TurnEvent]:
        """The stored answer of a message that another worker already answered."""
        reply = self.store.reply_to(message.id)
        if reply is None:  # pragma: no cover - "answered" is committed with its reply
            raise RuntimeError(f"message {message.id} is marked answered but has no reply")
        tool_calls = [
            {"name": c["name"], "arguments": c["arguments"], "result": c["result"]}
            for c in (reply.trace or {}).get("tool_calls", [])
        ]
        yield TurnEvent("token", text=reply.content)
        yield TurnEvent(
            "done",
            result=TurnResult(
                session_id=message.session_id,
                message_id=reply.id,
                reply=reply.content,
                citations=reply.citations or [],
                tool_calls=tool_calls,
            ),
        )

    def _retrieve(
        self, question: str, previous_question: str | None
    ) -> tuple[list[RetrievedChunk], dict[str, Any]]:
        """Search with the question; a follow-up ("and to Canada?") is searched with the one before it."""
        if self.retriever is None:
            return [], {"enabled": False}
        started = time.perf_counter()
        query = question
        chunks = self.retriever.retrieve(query)
        if not chunks and previous_question:
            query = f"{previous_question}\n{question}"
            chunks = self.retriever.retrieve(query)
        return chunks, {
            "query": query,
            "ms": round((time.perf_counter() - started) * 1000, 1),
            "chunks": [{"chunk_id": c.chunk_id, "score": round(c.score, 4)} for c in chunks],
        }

    def _budget(self, system: str) -> tuple[int, int]:
        """(system prompt tokens, tokens left for the conversation) with this system prompt."""
        system_tokens = self.backend.count_text(system) + MESSAGE_OVERHEAD_TOKENS
        left = (
            self.config.context_tokens
            - system_tokens
            - self.config.answer_tokens
            - self.backend.prompt_overhead_tokens
        )
        return system_tokens, left

    def _window(
        self, chunks: list[RetrievedChunk], conversation: list[StoredMessage], trace: TurnTrace
    ) -> tuple[list[BaseMessage], list[RetrievedChunk]]:
        """The system prompt with as many excerpts as fit, then the FIFO-trimmed conversation.

        Excerpts give way before the conversation does: best first, the weakest leave first, the
        last one is shortened before it leaves; what remains must hold the newest turn and some
        history (up to an eighth of the context). Only when the newest turn alone does not fit
        with no excerpt at all is the message refused.
        """
        history = to_langchain(conversation)
        last_human = max(i for i, m in enumerate(history) if isinstance(m, HumanMessage))
        newest = sum(self.backend.count_message(m) for m in history[last_human:])
        earlier = sum(self.backend.count_message(m) for m in history[:last_human])
        wanted = newest + min(earlier, self.config.context_tokens // 8)

        used = list(chunks)
        shortened = False
        while True:
            system = self.prompts.render(
                "system",
                company=self.config.company,
                assistant_name=self.config.assistant_name,
                chunks=used,
            )
            system_tokens, budget = self._budget(system)
            if budget >= wanted or not used:
                break
            if len(used) == 1 and not shortened:
                shorter = self._shorten(used[0], by_tokens=wanted - budget)
                shortened = True
                if shorter is not None:
                    used = [shorter]
                    continue
            used = used[:-1]
        if budget < newest:
            raise ContextOverflowError(newest, max(budget, 0))
        window = trim_to_budget(history, budget=budget, count_tokens=self.backend.count_message)
        trace.window = {
            "system_tokens": system_tokens,
            "budget": budget,
            "messages_kept": len(window),
            "messages_total": len(history),
            "excerpts_used": len(used),
            "excerpts_dropped": len(chunks) - len(used),
            "excerpt_shortened": shortened and bool(used),
        }
        return [SystemMessage(content=system), *window], used

    def _shorten(self, chunk: RetrievedChunk, *, by_tokens: int) -> RetrievedChunk | None:
        """The excerpt cut (at a sentence or line end) by about `by_tokens`, or None if too little would remain."""
        tokens = max(1, self.backend.count_text(chunk.text))
        keep_chars = int(len(chunk.text) * (tokens - by_tokens - 8) / tokens)
        if keep_chars < MIN_EXCERPT_CHARS:
            return None
        cut = chunk.text[:keep_chars]
        end = max(cut.rfind(". "), cut.rfind("\n"))
        text = (cut[: end + 1] if end >= MIN_EXCERPT_CHARS else cut).rstrip() + " …"
        return dataclasses.replace(chunk, text=text)

    def _finish(
        self,
        recorder: TurnRecorder,
        reply: str,
        citations: list[dict[str, Any]],
        tool_calls: list[dict[str, Any]],
        trace: TurnTrace,
        started: float,
    ) -> TurnEvent:
        trace.total_ms = round((time.perf_counter() - started) * 1000, 1)
        stored = recorder.reply(reply, citations=citations, trace=trace.to_dict())
        result = TurnResult(
            session_id=recorder.session_id,
            message_id=stored.id,
            reply=reply,
            citations=citations,
            tool_calls=tool_calls,
        )
        return TurnEvent("done", result=result)

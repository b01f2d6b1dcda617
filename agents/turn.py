"""One customer turn, from stored message to stored reply, as a stream of events."""

from __future__ import annotations

import re
import time
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from langchain_core.messages import AIMessage, BaseMessage, SystemMessage, ToolMessage
from langchain_core.tools import BaseTool

from agents.validation import clean_message
from grounding import AnswerChecker, CheckedReply, Source, is_repeating
from knowledge.types import RetrievedChunk, Retriever
from llm.factory import MESSAGE_OVERHEAD_TOKENS, BackendUnavailableError, ChatBackend, estimate_tokens
from llm.toolcalls import call_id, parse_arguments
from memory.store import ConversationStore, StoredMessage
from memory.window import to_langchain, trim_to_budget
from prompts.library import PromptLibrary
from tools.registry import ToolOutcome, run_tool_call

EMPTY_REPLY = (
    "I'm sorry, I couldn't put together an answer just now. "
    "Would you like me to connect you with a human agent?"
)


@dataclass
class TurnResult:
    """The finished turn, shaped as the REST contract's reply object."""

    session_id: str
    message_id: int
    reply: str
    citations: list[dict[str, Any]]
    tool_calls: list[dict[str, Any]]
    handoff: bool = False

    def public(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "message_id": self.message_id,
            "reply": self.reply,
            "citations": self.citations,
            "tool_calls": self.tool_calls,
            "handoff": self.handoff,
        }


@dataclass
class TurnEvent:
    """`token` carries answer text as it is generated, `tool` a finished tool call, `done` the result."""

    kind: Literal["token", "tool", "done"]
    text: str = ""
    tool: dict[str, Any] | None = None
    result: TurnResult | None = None


@dataclass
class AgentConfig:
    company: str = "Northwind Goods"
    context_tokens: int = 2048
    answer_tokens: int = 256
    max_tool_steps: int = 4
    max_message_chars: int = 4000


@dataclass
class _Step:
    message: AIMessage
    model_ms: float
    usage: dict[str, int] = field(default_factory=dict)


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
        answer_checker: AnswerChecker | None = None,
    ) -> None:
        self.store = store
        self.backend = backend
        self.prompts = prompts
        self.config = config
        self.retriever = retriever
        self.tools = list(tools)
        self.answer_checker = answer_checker

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
            token_count=self._count_text_safely(content),
        )

    def respond(self, session_id: str) -> Iterator[TurnEvent]:
        """Answer the newest user message of the session; the last event is `done`."""
        started = time.perf_counter()
        history = self.store.messages(session_id)
        question = next(m for m in reversed(history) if m.role == "user").content
        trace: dict[str, Any] = {"steps": [], "tool_calls": []}

        earlier = [m.content for m in history[:-1] if m.role == "user"]
        chunks, trace["retrieval"] = self._retrieve(question, earlier[-1] if earlier else None)
        citations = {c.chunk_id: c for c in chunks}
        if self.retriever is not None and not chunks and self.retriever.has_documents():
            # Nothing in the knowledge base is relevant: say so honestly instead of letting the
            # model improvise a policy.
            reply = self.prompts.render("no_answer", company=self.config.company)
            trace["grounding"] = "no_relevant_knowledge"
            yield TurnEvent("token", text=reply)
            yield self._finish(session_id, reply, [], [], trace, started, handoff_offered=True)
            return

        system = self.prompts.render("system", company=self.config.company, chunks=chunks)
        messages = self._window(system, history, trace)
        outcomes: list[ToolOutcome] = []
        offer_tools = bool(self.tools) and self.backend.auto_tool_calls
        model = self.backend.model.bind_tools(self.tools) if offer_tools else self.backend.model
        final: AIMessage | None = None
        checking: CheckedReply | None = None
        for step_no in range(self.config.max_tool_steps + 1):
            last_step = step_no == self.config.max_tool_steps or not offer_tools
            step_model = self.backend.model if last_step else model
            stream = self._stream_step(step_model, messages)
            if self._holds_tokens():
                # issue 7: only checked sentences reach the customer, as each one is finished.
                checking = self.answer_checker.start(
                    question=question, sources=_turn_sources(chunks, outcomes)
                )
                stream = _checked_tokens(stream, checking)
            step = yield from stream
            trace["steps"].append({"model_ms": round(step.model_ms, 1), **step.usage})
            if not step.message.tool_calls or last_step:
                final = step.message
                break
            self._store_assistant(session_id, step.message)
            messages.append(step.message)
            for call in step.message.tool_calls:
                outcome = run_tool_call(self.tools, call)
                outcomes.append(outcome)
                trace["tool_calls"].append({**outcome.public(), "ok": outcome.ok})
                for chunk in outcome.artifact or []:
                    if isinstance(chunk, RetrievedChunk):
                        citations.setdefault(chunk.chunk_id, chunk)
                tool_message = ToolMessage(content=outcome.result, tool_call_id=call["id"])
                self.store.add_message(
                    session_id=session_id,
                    role="tool",
                    content=outcome.result,
                    tool_call_id=call["id"],
                    token_count=self.backend.count_message(tool_message),
                )
                messages.append(tool_message)
                yield TurnEvent("tool", tool=outcome.public())
            if step_no + 1 == self.config.max_tool_steps:
                # The next (last) call gets no tools: the model must answer with what it has.
                trace["step_limit_reached"] = True

        reply = (final.text if final is not None else "").strip()
        # -- issue 7: the answer check (self-contained; see grounding/) --------------------------
        handoff = False
        if self.answer_checker is not None:
            if checking is not None:
                verdict = checking.finish()
            else:
                verdict = self.answer_checker.check(
                    question=question, reply=reply, sources=_turn_sources(chunks, outcomes)
                )
            trace["answer_check"] = verdict.trace()
            handoff = verdict.text is None
            reply = self.prompts.render("no_answer", company=self.config.company) if handoff else verdict.text
            if checking is not None:
                unsent = reply[len(checking.sent) :] if reply.startswith(checking.sent) else reply
                for piece in re.findall(r"\s*\S+", unsent):
                    yield TurnEvent("token", text=piece)
        # -----------------------------------------------------------------------------------------
        if not reply:
            reply = EMPTY_REPLY
            yield TurnEvent("token", text=reply)
        yield self._finish(
            session_id,
            reply,
            [c.citation() for c in sorted(citations.values(), key=lambda c: -c.score)],
            [o.public() for o in outcomes],
            trace,
            started,
            handoff_offered=handoff,
        )

    def run(self, text: object, *, session_id: str | None, client_id: str | None = None) -> TurnResult:
        """A whole turn without streaming."""
        stored = self.accept(text, session_id=session_id, client_id=client_id)
        for event in self.respond(stored.session_id):
            if event.kind == "done" and event.result is not None:
                return event.result
        raise RuntimeError("the turn ended without a result")

    # -- pieces ---------------------------------------------------------------------------------

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

    def _window(self, system: str, history: list[StoredMessage], trace: dict[str, Any]) -> list[BaseMessage]:
        system_tokens = self.backend.count_text(system) + MESSAGE_OVERHEAD_TOKENS
        budget = (
            self.config.context_tokens
            - system_tokens
            - self.config.answer_tokens
            - self.backend.prompt_overhead_tokens
        )
        conversation = to_langchain(history)
        window = trim_to_budget(conversation, budget=budget, count_tokens=self.backend.count_message)
        trace["window"] = {
            "system_tokens": system_tokens,
            "budget": budget,
            "messages_kept": len(window),
            "messages_total": len(conversation),
        }
        return [SystemMessage(content=system), *window]

    def _stream_step(self, model: Any, messages: list[BaseMessage]) -> Generator[TurnEvent, None, _Step]:
        """Stream one model call, yielding answer tokens; returns the whole step.

        Tool-call fragments are assembled here rather than by adding chunks, because some servers
        (llama.cpp's) repeat the function name in every streamed fragment.
        """
        started = time.perf_counter()
        tokens: list[str] = []
        calls: dict[int, dict[str, str]] = {}
        usage: dict[str, int] = {}
        try:
            for chunk in model.stream(messages):
                text = chunk.text if chunk.content else ""
                if text:
                    tokens.append(text)
                    yield TurnEvent("token", text=text)
                    # issue 7: a generation that starts repeating itself is stopped.
                    if (
                        self.answer_checker is not None
                        and len(tokens) % 8 == 0
                        and is_repeating("".join(tokens))
                    ):
                        break
                for part in chunk.tool_call_chunks or []:
                    slot = calls.setdefault(part.get("index") or 0, {"name": "", "args": "", "id": ""})
                    slot["name"] = slot["name"] or (part.get("name") or "")
                    slot["id"] = slot["id"] or (part.get("id") or "")
                    slot["args"] += part.get("args") or ""
                if chunk.usage_metadata:
                    usage = {
                        "input_tokens": chunk.usage_metadata.get("input_tokens", 0),
                        "output_tokens": chunk.usage_metadata.get("output_tokens", 0),
                    }
        except self.backend.errors as exc:
            raise BackendUnavailableError(
                f"The language model is unavailable ({type(exc).__name__}: {exc})"
            ) from exc
        tool_calls = []
        for slot in calls.values():
            tool_calls.append(
                {
                    "name": slot["name"],
                    "args": parse_arguments(slot["args"]),
                    "id": call_id(slot["id"]),
                }
            )
        return _Step(
            message=AIMessage(content="".join(tokens), tool_calls=tool_calls),
            model_ms=(time.perf_counter() - started) * 1000,
            usage=usage,
        )

    def _holds_tokens(self) -> bool:
        return self.answer_checker is not None and self.answer_checker.mode != "generative"

    def _store_assistant(self, session_id: str, message: AIMessage) -> None:
        self.store.add_message(
            session_id=session_id,
            role="assistant",
            content=message.text,
            tool_calls=[{"name": c["name"], "args": c["args"], "id": c["id"]} for c in message.tool_calls],
            token_count=self.backend.count_message(message),
        )

    def _finish(
        self,
        session_id: str,
        reply: str,
        citations: list[dict[str, Any]],
        tool_calls: list[dict[str, Any]],
        trace: dict[str, Any],
        started: float,
        *,
        handoff_offered: bool = False,
    ) -> TurnEvent:
        trace["total_ms"] = round((time.perf_counter() - started) * 1000, 1)
        trace["handoff_offered"] = handoff_offered
        stored = self.store.add_message(
            session_id=session_id,
            role="assistant",
            content=reply,
            citations=citations,
            trace=trace,
            token_count=self._count_text_safely(reply) + MESSAGE_OVERHEAD_TOKENS,
        )
        result = TurnResult(
            session_id=session_id,
            message_id=stored.id,
            reply=reply,
            citations=citations,
            tool_calls=tool_calls,
        )
        return TurnEvent("done", result=result)

    def _count_text_safely(self, text: str) -> int:
        # Counting may need the backend (vLLM's /tokenize); storing a message must not.
        try:
            return self.backend.count_text(text)
        except Exception:
            return estimate_tokens(text)


# -- issue 7: the answer check's inputs ------------------------------------------------------------


def _turn_sources(chunks: Sequence[RetrievedChunk], outcomes: Sequence[ToolOutcome]) -> list[Source]:
    """The retrieved excerpts and the tool results of this turn, as the answer check's sources."""
    sources = [Source(title=c.title, text=c.text, document=c.document) for c in chunks]
    for outcome in outcomes:
        found = [c for c in outcome.artifact or [] if isinstance(c, RetrievedChunk)]
        if found:
            sources.extend(Source(title=c.title, text=c.text, document=c.document) for c in found)
        elif outcome.ok:
            sources.append(Source(title=outcome.name, text=outcome.result))
    return sources


def _checked_tokens(
    stream: Generator[TurnEvent, None, _Step], checking: CheckedReply
) -> Generator[TurnEvent, None, _Step]:
    """The step's events with its tokens replaced by the checked sentences, and its result."""
    while True:
        try:
            event = next(stream)
        except StopIteration as stop:
            return stop.value
        if event.kind != "token":
            yield event
            continue
        # Word-sized events, as the model's own tokens would have been.
        for piece in re.findall(r"\s*\S+", checking.feed(event.text)):
            yield TurnEvent("token", text=piece)

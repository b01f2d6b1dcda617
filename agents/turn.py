"""One customer turn, from a stored message to its stored reply, as a stream of events.

A turn answers one message (by id), holding the conversation's turn lock: turns of one session run
one at a time and in order, across threads and processes. The pieces live beside this file: the
store writes (`recorder.py`), the trace (`trace.py`), the knowledge search (`retrieval.py`), the tool
loop (`loop.py`), the rendered prompts and fallback replies ("I don't know", the hand-over to a
person: `replies.py`), what the reply must tell from the tools' results (`told.py`), the
agent's configuration (`config.py`).

The turn is an async generator (`arespond`): the model is awaited, store writes, retrieval and the
answer check run in worker threads, so a turn waiting for tokens holds no thread. Every turn runs on
one background event loop (`runner.py`): the REST API reads it through `astream`, synchronous
callers through `respond`, `stream` and `run`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Callable, Iterator, Sequence
from contextlib import aclosing
from functools import partial
from typing import Any

from langchain_core.tools import BaseTool

from agents.checking import CheckedAnswer
from agents.config import AgentConfig
from agents.escalation import HANDED_OVER_BY, REFUND_WAITS, UPSET, sounds_upset
from agents.events import TurnEvent, TurnResult, replayed
from agents.loop import LoopResult, run_tool_loop
from agents.prompt import turn_prompt
from agents.recorder import TurnRecorder, count_text_safely
from agents.replies import TurnReplies
from agents.retrieval import search_knowledge, standalone
from agents.routing import route
from agents.runner import run_async, run_in_background, run_sync
from agents.told import to_tell
from agents.trace import TurnTrace
from agents.validation import clean_message
from grounding import AnswerChecker
from handoff import PERSON_STATES, ConversationState, HandoffService
from knowledge.types import Retriever
from llm.factory import BackendUnavailableError, ChatBackend
from memory.store import ConversationStore, SessionSnapshot, StoredMessage, UnknownSessionError
from memory.turnlock import Lease, TurnLock
from memory.window import ContextOverflowError, conversation_for
from prompts.source import PromptSource
from tools.registry import ToolOutcome

__all__ = ["AgentConfig", "SupportAgent", "TurnEvent", "TurnResult"]


class SupportAgent:
    """Runs turns for any session; holds no per-session state (that is all in the store)."""

    def __init__(
        self,
        *,
        store: ConversationStore,
        backend: ChatBackend,
        prompts: PromptSource,
        config: AgentConfig,
        retriever: Retriever | None = None,
        tools: Sequence[BaseTool] = (),
        turn_lock: TurnLock | None = None,
        handoff: HandoffService | None = None,
        tool_context: Callable[[str], Any] | None = None,
        answer_checker: AnswerChecker | None = None,
    ) -> None:
        self.store = store
        self.backend = backend
        self.prompts = prompts
        self.config = config
        self.retriever = retriever
        self.tools = list(tools)
        self.turn_lock = turn_lock or TurnLock(store.engine)
        # The conversation state machine (bot / queued / human / closed); None: always the bot.
        self.handoff = handoff
        # Builds the per-turn ToolContext (session, verified customer, domain services) for tools.
        self.tool_context = tool_context
        # Checks each reply against the turn's sources before it is sent (grounding/); None: unchecked.
        self.answer_checker = answer_checker

    # The two halves of a turn are separate so that a caller can answer bad input (4xx) before it
    # starts streaming, and so that the message is committed before the model runs.
    def accept(self, text: object, *, session_id: str | None, client_id: str | None = None) -> StoredMessage:
        """Validate and commit the customer's message (creating a session if needed). A message to a
        conversation a person closed starts a new one: the stored message's `session_id` says which."""
        content = clean_message(text, max_chars=self.config.max_message_chars)
        tokens = count_text_safely(self.backend, content)
        if session_id is None:
            return self.store.start_session(content=content, token_count=tokens, client_id=client_id)
        return self.store.add_customer_message(session_id=session_id, content=content, token_count=tokens)

    async def arespond(
        self, session_id: str, message_id: int | None = None
    ) -> AsyncGenerator[TurnEvent, None]:
        """Answer message `message_id` (default: the newest waiting one); the last event is `done`.

        Waits for the session's earlier turns. Earlier messages still waiting (a concurrent request
        that has not got the lock yet, or one whose worker died) are answered first, silently, so
        that every message is answered in order; a message another worker already answered is
        replayed from the store rather than answered twice. Closing or cancelling the generator
        stops the turn: the message stays stored and is marked failed.
        """
        if message_id is None:
            waiting = await asyncio.to_thread(self.store.pending, session_id)
            if not waiting:
                raise ValueError(f"session {session_id} has no message waiting for an answer")
            message_id = waiting[-1].id
        async with self.turn_lock.ahold(session_id) as lease:
            # One read for the history, the waiting messages and the state (the common case: none
            # waiting before this one, so the turn answers from this very snapshot).
            snapshot = await asyncio.to_thread(self.store.snapshot, session_id)
            answered_first = []
            for earlier in snapshot.pending(before=message_id):
                try:
                    async with aclosing(self._answer(earlier, answered_first=[])) as events:
                        async for _ in events:
                            pass
                except (BackendUnavailableError, ContextOverflowError):
                    pass  # marked failed by _answer; this message still gets its own try
                answered_first.append(earlier.id)
            if answered_first:
                snapshot = await asyncio.to_thread(self.store.snapshot, session_id)
            target = snapshot.message(message_id)
            if target is None or target.role != "user":
                raise UnknownSessionError(f"{session_id} has no customer message {message_id}")
            if target.status == "answered":
                reply = snapshot.reply_to(target.id)
                if reply is None:  # pragma: no cover - "answered" is committed with its reply
                    raise RuntimeError(f"message {target.id} is marked answered but has no reply")
                for event in replayed(target, reply):
                    yield event
            else:
                answering = self._answer(
                    target, answered_first=answered_first, snapshot=snapshot, lease=lease
                )
                async with aclosing(answering) as events:
                    async for event in events:
                        yield event

    def astream(
        self, session_id: str, message_id: int, *, detached: bool = False
    ) -> AsyncGenerator[TurnEvent, None]:
        """`arespond` for async callers (the REST API, the chat page), run on the turn loop that owns
        the model's connections (runner.py). Closing or cancelling it stops the turn, unless
        `detached`: then the turn goes on and its reply is stored."""
        return run_async(lambda: self.arespond(session_id, message_id), detached=detached)

    async def aresult(self, session_id: str, message_id: int) -> TurnResult | None:
        """A whole turn for async callers that want only its reply (the REST API's JSON answer): the
        events stay on the turn loop and only the result crosses to the caller's loop. None when the
        turn ended without one."""

        async def final() -> AsyncGenerator[TurnResult, None]:
            async with aclosing(self.arespond(session_id, message_id)) as events:
                async for event in events:
                    if event.kind == "done" and event.result is not None:
                        yield event.result

        last: TurnResult | None = None
        async with aclosing(run_async(final, detached=False)) as results:
            async for result in results:
                last = result
        return last

    def respond(self, session_id: str, message_id: int | None = None) -> Iterator[TurnEvent]:
        """`arespond` for synchronous callers (run on the background turn loop); a caller that stops
        reading stops the turn, as closing `arespond` does."""
        return run_sync(lambda: self.arespond(session_id, message_id), detached=False)

    def stream(self, session_id: str, message_id: int) -> Iterator[TurnEvent]:
        """`respond`, detached: a reader that stops reading does not stop the turn, so the reply is
        still stored (and shown when the customer comes back)."""
        return run_sync(lambda: self.arespond(session_id, message_id), detached=True)

    def answer_waiting(self, session_id: str) -> None:
        """Answer the session's waiting messages in order, in the background, with nobody reading (the
        page that was showing them left): the replies are stored for when the customer comes back."""
        run_in_background(lambda: self.arespond(session_id), what=f"answering session {session_id}")

    def run(self, text: object, *, session_id: str | None, client_id: str | None = None) -> TurnResult:
        """A whole turn without streaming."""
        stored = self.accept(text, session_id=session_id, client_id=client_id)
        for event in self.respond(stored.session_id, stored.id):
            if event.kind == "done" and event.result is not None:
                return event.result
        raise RuntimeError("the turn ended without a result")

    # -- pieces ---------------------------------------------------------------------------------

    async def _answer(
        self,
        message: StoredMessage,
        *,
        answered_first: list[int],
        snapshot: SessionSnapshot | None = None,
        lease: Lease | None = None,
    ) -> AsyncGenerator[TurnEvent, None]:
        """Answer one message. `snapshot`: the session as read just before (else read here); `lease`:
        the turn lock, given back in the same commit as the reply (the session's last turn)."""
        started = time.perf_counter()
        session_id = message.session_id
        recorder = TurnRecorder(
            self.store, self.backend, session_id=session_id, message_id=message.id, lease=lease
        )
        trace = TurnTrace(answered_first=answered_first)
        # The prompt versions live now: the whole turn uses these, even if one is published meanwhile.
        prompts = await asyncio.to_thread(self.prompts.prompt_set)
        replies = TurnReplies(session_id, prompts, self.config, trace, self.handoff)
        done = False

        async def finish(
            reply: str,
            citations: list[dict[str, Any]],
            tool_calls: list[dict[str, Any]],
            state: ConversationState | None = None,
        ) -> TurnEvent:
            """Store the reply; `state`: the conversation's state when known (else read after)."""
            nonlocal done
            trace.prompt_versions = dict(prompts.used)
            storing = asyncio.ensure_future(
                asyncio.to_thread(self._finish, recorder, reply, citations, tool_calls, trace, started, state)
            )
            try:
                event = await asyncio.shield(storing)
            except asyncio.CancelledError:
                # Cancelled while the reply is being stored: once stored, it is not "failed" as well.
                await asyncio.wait([storing])
                done = storing.exception() is None
                raise
            done = True
            return event

        try:
            if snapshot is None:
                snapshot = await asyncio.to_thread(self.store.snapshot, session_id)
            state = self._state_in(snapshot)
            if state in PERSON_STATES:
                # A person has (or is about to take) this conversation: the bot stays silent; the
                # message waits for them, and is context for the bot if they hand it back.
                await asyncio.to_thread(self.store.set_status, message_id=message.id, status="human")
                done = True
                yield TurnEvent("done", result=TurnResult(session_id, message.id, "", [], [], True, state))
                return
            conversation = conversation_for(snapshot.messages, message.id)
            earlier = [m.content for m in conversation if m.role == "user" and m.id != message.id]
            routing = self.config.tool_routing
            chosen = (
                route(message.content, tools={t.name for t in self.tools}, earlier=earlier)
                if routing != "auto"
                else None
            )
            # Our own words, no search: an upset customer goes to a person (after the tool their
            # message asks for, if any: escalation.py); small talk gets an answer.
            upset = self.handoff is not None and sounds_upset(message.content)
            own = None if upset else replies.small_talk(message.content)
            if upset and (chosen is None or chosen.tool == "request_human"):
                own = await asyncio.to_thread(replies.escalate, UPSET)
            if own is not None:
                yield TurnEvent("token", text=own)
                yield await finish(own, [], [])
                return

            previous = earlier[-1] if earlier else None
            chunks, trace.retrieval = await asyncio.to_thread(
                search_knowledge, self.retriever, message.content, previous
            )
            trace.route = {"tool": chosen.tool, "reason": chosen.reason} if chosen else None
            may_choose_tools = routing != "rules" and bool(self.tools)
            # Under `auto` alone the model may still pick a tool; otherwise no route means no tool.
            if (
                not chunks
                and chosen is None
                and routing != "auto"
                and await asyncio.to_thread(self._has_knowledge)
            ):
                # Nothing in the knowledge base is relevant and no tool applies: say so honestly
                # instead of letting the model improvise a policy.
                reply = await asyncio.to_thread(replies.no_answer, conversation, "no_relevant_knowledge")
                yield TurnEvent("token", text=reply)
                yield await finish(reply, [], [])
                return

            # Counting the prompt's tokens may need the backend's tokenizer: a worker thread's job.
            prompt, backend = await asyncio.to_thread(
                turn_prompt, self.backend, replies, chunks, conversation
            )
            trace.window = prompt.trace
            asked = standalone(message.content, previous)  # "and for Canada?" with the question before
            offers = chosen is None and any(t.name == "lookup_order" for t in self.tools)  # none named yet
            checked = CheckedAnswer(
                self.answer_checker, asked, prompt.excerpts, replies.names, self.retriever, offers
            )
            loop = LoopResult()
            turn = run_tool_loop(
                backend=backend,
                tools=self.tools,
                messages=prompt.messages,
                max_steps=self.config.max_tool_steps,
                recorder=recorder,
                trace=trace,
                offer_tools=may_choose_tools,
                out=loop,
                route=chosen,
                context=partial(self.tool_context, session_id) if self.tool_context else None,
                stop_when=checked.stop_reason if self.answer_checker is not None else None,
                show_excerpts=lambda found: replies.render("excerpts", chunks=found),
                ends_turn=partial(self._hands_over, upset) if self.handoff is not None else None,
            )
            async with aclosing(checked.events(turn)) as events:
                async for event in events:
                    yield event
            tool_calls = [o.public() for o in loop.outcomes]
            refund = next((o for o in loop.outcomes if o.name == "request_refund" and o.ok), None)
            if loop.outcomes:
                # Only a tool moves the conversation during a turn (to a person); without one, the
                # state read at the start still holds.
                state = await asyncio.to_thread(self._state, session_id)
            if (refund is not None or upset) and state == ConversationState.BOT:
                await asyncio.to_thread(replies.escalate, REFUND_WAITS if refund is not None else UPSET)
                state = await asyncio.to_thread(self._state, session_id)
            if state in PERSON_STATES:
                # Handed over during this turn: say so plainly, after what the tools did (agents/told.py).
                reply = "\n\n".join([*(o.result for o in to_tell(loop.outcomes)), replies.render("handoff")])
                trace.handoff_offered = True
                yield TurnEvent("token", text=reply)
                yield await finish(reply, [], tool_calls)
                return
            generated = (loop.final.text if loop.final is not None else "").strip()
            # A refusal of the routed call is our own words: nothing to check (CheckedAnswer.decide).
            verdict = (
                None if loop.refused else await asyncio.to_thread(checked.verdict, generated, loop.outcomes)
            )
            decided = await asyncio.to_thread(checked.decide, generated, verdict, loop)
            if verdict is not None:
                trace.answer_check = verdict.trace()
            if decided.from_tools:
                trace.grounding = "tool_result"
            if decided.text is None:
                reply = await asyncio.to_thread(replies.no_answer, conversation, "no_supported_answer")
            else:
                reply = decided.text
            if not reply:
                reply = replies.empty()
            for piece in checked.unsent(reply):
                yield TurnEvent("token", text=piece)
            # A second "I don't know" in a row hands over (replies.no_answer): then read the state.
            known = state if trace.escalated is None else None
            yield await finish(reply, [c.citation() for c in decided.cited], tool_calls, known)
        except BaseException:
            # Whatever stopped the turn before its reply was stored (including a reader that went
            # away, or a cancelled request), the message stays stored, is shown as unanswered, and
            # is kept out of the windows of later turns: it must not be answered as part of another
            # question. (One short UPDATE, done here so that it is done before the turn ends.)
            if not done:
                recorder.failed()
            raise

    @staticmethod
    def _hands_over(upset: bool, outcome: ToolOutcome) -> bool:
        """A tool result after which a person answers: the customer asked for one, a refund request
        waits for a person's approval, or any result for an upset customer (the turn hands over)."""
        return upset or (outcome.ok and outcome.name in HANDED_OVER_BY)

    def _state(self, session_id: str) -> ConversationState:
        return self.handoff.state(session_id) if self.handoff is not None else ConversationState.BOT

    def _state_in(self, snapshot: SessionSnapshot) -> ConversationState:
        return ConversationState(snapshot.state) if self.handoff is not None else ConversationState.BOT

    def _has_knowledge(self) -> bool:
        return self.retriever is not None and self.retriever.has_documents()

    def _finish(
        self,
        recorder: TurnRecorder,
        reply: str,
        citations: list[dict[str, Any]],
        tool_calls: list[dict[str, Any]],
        trace: TurnTrace,
        started: float,
        state: ConversationState | None,
    ) -> TurnEvent:
        trace.total_ms = round((time.perf_counter() - started) * 1000, 1)
        stored = recorder.reply(reply, citations=citations, trace=trace.to_dict())
        if state is None:
            state = self._state(recorder.session_id)
        result = TurnResult(
            session_id=recorder.session_id,
            message_id=stored.id,
            reply=reply,
            citations=citations,
            tool_calls=tool_calls,
            handoff=state in PERSON_STATES,
            state=state,
        )
        return TurnEvent("done", result=result)

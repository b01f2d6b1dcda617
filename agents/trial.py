"""Trying a prompt version before it is published: a turn of the real agent (model, knowledge base,
tools) with that version in place of the live one, kept in a scratch database of its own, so that
nothing reaches customer conversations, the inbox or the store's tickets and refund requests."""

from __future__ import annotations

import atexit
import shutil
import tempfile
import threading
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from agents.events import TurnResult
from agents.turn import SupportAgent
from commerce import CommerceService, seed_demo_store
from handoff import HandoffService
from llm.factory import MESSAGE_OVERHEAD_TOKENS
from memory.store import ConversationStore
from prompts.source import PromptSet, PromptSource
from storage.db import make_engine, migrate
from tools.context import ToolContext


class PromptTooLongError(ValueError):
    """A system prompt that would leave the conversation too little of the model's context."""


class PinnedPrompts:
    """A prompt source that always uses the given versions (name → version) over the live ones."""

    def __init__(self, source: PromptSource, drafts: Mapping[str, int]) -> None:
        self._source = source
        self._drafts = dict(drafts)

    def prompt_set(self, drafts: Mapping[str, int] | None = None) -> PromptSet:
        return self._source.prompt_set({**self._drafts, **(drafts or {})})


def scratch_engine(*, demo_store: bool = False) -> Engine:
    """A fresh SQLite database in a temporary folder of this process, removed when it exits; with
    the demo store's customers and orders when `demo_store`."""
    folder = Path(tempfile.mkdtemp(prefix="frontdesk-trials-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    engine = make_engine(f"sqlite:///{folder / 'trials.db'}")
    migrate(engine)
    if demo_store:
        seed_demo_store(engine)
    return engine


def trial_tool_context(engine: Engine, handoff: HandoffService) -> Callable[[str], ToolContext]:
    """The tools' per-turn context in trials: the scratch database's orders, tickets and handoff."""
    return partial(ToolContext.for_session, commerce=CommerceService(engine), handoff=handoff)


class PromptTrials:
    """Runs trial turns; their sessions live only in a scratch database (`engine()` makes it), with
    tools acting on that database too (`tool_context(engine, handoff)` builds their context)."""

    def __init__(
        self,
        agent: SupportAgent,
        *,
        engine: Callable[[], Engine] = scratch_engine,
        tool_context: Callable[[Engine, HandoffService], Callable[[str], Any]] | None = None,
    ) -> None:
        self.agent = agent
        self._make_engine = engine
        self._make_tool_context = tool_context
        self._scratch: tuple[ConversationStore, HandoffService | None, Callable[[str], Any] | None] | None = (
            None
        )
        self._lock = threading.Lock()

    def _parts(self) -> tuple[ConversationStore, HandoffService | None, Callable[[str], Any] | None]:
        """The scratch store, handoff and tool context, made on the first trial (not at start-up)."""
        with self._lock:
            if self._scratch is None:
                engine = self._make_engine()
                handoff = HandoffService(engine) if self.agent.handoff is not None else None
                context = (
                    self._make_tool_context(engine, handoff)
                    if self._make_tool_context is not None and handoff is not None
                    else None
                )
                self._scratch = (ConversationStore(engine), handoff, context)
            return self._scratch

    def run(
        self, message: str, *, drafts: Mapping[str, int], session_id: str | None = None
    ) -> tuple[TurnResult, dict[str, int]]:
        """One turn with `drafts` in place of the live versions; the reply and the versions it used.

        An unknown `session_id` raises UnknownSessionError (trial sessions are not customer sessions).
        """
        live = self.agent
        store, handoff, tool_context = self._parts()
        trial = SupportAgent(
            store=store,
            backend=live.backend,
            prompts=PinnedPrompts(live.prompts, drafts),
            config=live.config,
            retriever=live.retriever,
            tools=live.tools,
            handoff=handoff,
            tool_context=tool_context,
            answer_checker=live.answer_checker,
        )
        result = trial.run(message, session_id=session_id)
        stored = store.message(result.message_id)
        used = dict((stored.trace or {}).get("prompt_versions", {})) if stored is not None else {}
        return result, used

    def check_fits(self, drafts: Mapping[str, int]) -> None:
        """Refuse (PromptTooLongError) a system prompt that, with no excerpt and the answer's room,
        leaves the conversation less than an eighth of the context: every turn would be refused."""
        if "system" not in drafts:
            return
        agent, backend = self.agent, self.agent.backend
        prompts = agent.prompts.prompt_set(drafts)
        config = agent.config
        branding = prompts.branding or {
            "company": config.company,
            "assistant_name": config.assistant_name,
            "topics": config.topics,
        }
        text = prompts.render("system", **branding).text
        used = backend.count_text(text) + MESSAGE_OVERHEAD_TOKENS + backend.prompt_overhead_tokens
        answer = prompts.decoding.max_answer_tokens or config.answer_tokens
        left, needed = config.context_tokens - used - answer, config.context_tokens // 8
        if left < needed:
            raise PromptTooLongError(
                f"this system prompt takes {used} tokens: with {answer} kept for the answer, "
                f"{max(left, 0)} of the model's {config.context_tokens}-token context would remain for "
                f"the conversation, and at least {needed} are needed"
            )

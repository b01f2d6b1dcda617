"""What a turn says without the model: its prompts rendered with their branding, and the fallback
replies built on them.

`TurnReplies` renders the turn's prompt set (the system prompt and excerpts for the model too) and
gives the replies the agent falls back on: the honest "I don't know" with the offer of a person,
the friendly answer to small talk, the stand-in for an empty reply, and the hand-over, which queues
the conversation for a person (when the agent hands over by itself: `escalation.py`). Each fallback
notes itself in the trace.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agents.escalation import last_reply_was_no_answer
from agents.small_talk import small_talk
from agents.trace import TurnTrace
from handoff import ConversationState, HandoffService
from memory.store import StoredMessage
from prompts.source import PromptSet

if TYPE_CHECKING:
    from agents.config import AgentConfig

__all__ = ["EMPTY_REPLY", "TurnReplies"]

EMPTY_REPLY = (
    "I'm sorry, I couldn't put together an answer just now. "
    "Would you like me to connect you with a human agent?"
)


@dataclass(frozen=True)
class TurnReplies:
    """One turn's prompts, rendered, and its fallback replies."""

    session_id: str
    # The prompt versions live when the turn started: the whole turn uses these.
    prompts: PromptSet
    config: AgentConfig
    trace: TurnTrace
    # The conversation state machine (bot / queued / human / closed); None: always the bot.
    handoff: HandoffService | None

    @property
    def branding(self) -> dict[str, Any]:
        """The company, assistant name and topics: those stored with the system prompt, else the
        configured ones (the file source)."""
        config = self.config
        return self.prompts.branding or {
            "company": config.company,
            "assistant_name": config.assistant_name,
            "topics": config.topics,
        }

    @property
    def names(self) -> list[str]:
        """The company's and the assistant's names (of `branding`): a reply may say them, no source has."""
        branding = self.branding
        return [n for n in (branding.get("company"), branding.get("assistant_name")) if n]

    def render(self, name: str, **variables: Any) -> str:
        """Render a prompt of this turn's set with its branding."""
        return self.prompts.render(name, **self.branding, **variables).text

    def no_answer(self, conversation: list[StoredMessage], why: str) -> str:
        """The honest "I don't know" with the offer of a person; the second in a row hands over."""
        self.trace.grounding = why
        self.trace.handoff_offered = True
        if self.handoff is not None and last_reply_was_no_answer(conversation):
            return self.escalate("the assistant could not answer twice in a row")
        return self.render("no_answer")

    def escalate(self, reason: str) -> str:
        """Queue the conversation for a person (the agent's own decision); the reply that says so."""
        assert self.handoff is not None
        self.handoff.transition(self.session_id, ConversationState.QUEUED, by="assistant", reason=reason)
        self.trace.escalated = reason
        self.trace.handoff_offered = True
        return self.render("handoff")

    def small_talk(self, text: str) -> str | None:
        """The friendly reply to a greeting, thanks or goodbye (`small_talk.py`); None for anything else."""
        kind = small_talk(text, self.names)
        if kind is None:
            return None
        self.trace.grounding = "small_talk"
        return self.render("small_talk", kind=kind)

    def empty(self) -> str:
        """The stand-in for a reply that came out empty: an apology with the offer of a person."""
        self.trace.grounding = "empty_reply"
        self.trace.handoff_offered = True
        return EMPTY_REPLY

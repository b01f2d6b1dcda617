"""What a turn produces: events while it runs, and the finished result in the REST contract's shape."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from knowledge.types import RetrievedChunk
    from memory.store import StoredMessage
    from tools.registry import ToolOutcome


@dataclass
class TurnResult:
    """The finished turn, shaped as the REST contract's reply object."""

    session_id: str
    message_id: int
    reply: str
    citations: list[dict[str, Any]]
    tool_calls: list[dict[str, Any]]
    # Whether a person has (or is about to take) the conversation, and the conversation's state.
    handoff: bool = False
    state: str = "bot"

    def public(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "message_id": self.message_id,
            "reply": self.reply,
            "citations": self.citations,
            "tool_calls": self.tool_calls,
            "handoff": self.handoff,
            "state": str(self.state),
        }


@dataclass
class TurnEvent:
    """`token` carries answer text as it is generated, `tool` a finished tool call (`tool`, public;
    `outcome`, the whole of it), `done` the result."""

    kind: Literal["token", "tool", "done"]
    text: str = ""
    tool: dict[str, Any] | None = None
    result: TurnResult | None = None
    found: Sequence[RetrievedChunk] = ()  # the help-center excerpts a knowledge search returned
    outcome: ToolOutcome | None = None


def replayed(message: StoredMessage, reply: StoredMessage) -> list[TurnEvent]:
    """The events of a message that another worker already answered with `reply` (from the store)."""
    tool_calls = [
        {"name": c["name"], "arguments": c["arguments"], "result": c["result"]}
        for c in (reply.trace or {}).get("tool_calls", [])
    ]
    result = TurnResult(
        session_id=message.session_id,
        message_id=reply.id,
        reply=reply.content,
        citations=reply.citations or [],
        tool_calls=tool_calls,
    )
    return [TurnEvent("token", text=reply.content), TurnEvent("done", result=result)]

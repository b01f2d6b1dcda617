"""Every store write of one turn, in one place: tool steps, tool results, the reply, or the failure.

Each row names the customer message it answers (`reply_to`), and the final reply marks that
message answered in the same transaction, so a crash can never leave a reply without its message
counted as answered, nor the reverse. Given the turn's lease, the reply's transaction also gives the
session back to the next turn (one commit instead of two).
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage, ToolMessage

from llm.factory import MESSAGE_OVERHEAD_TOKENS, ChatBackend, estimate_tokens
from memory.store import ConversationStore, StoredMessage
from memory.turnlock import Lease


def count_text_safely(backend: ChatBackend, text: str) -> int:
    """Tokens of `text`; counting may need the backend (vLLM's /tokenize), storing a message must not."""
    try:
        return backend.count_text(text)
    except Exception:
        return estimate_tokens(text)


class TurnRecorder:
    """Writes the rows of the turn that answers message `message_id` of session `session_id`."""

    def __init__(
        self,
        store: ConversationStore,
        backend: ChatBackend,
        *,
        session_id: str,
        message_id: int,
        lease: Lease | None = None,
    ):
        self.store = store
        self.backend = backend
        self.session_id = session_id
        self.message_id = message_id
        self.lease = lease

    def tool_step(self, message: AIMessage) -> None:
        self.store.add_message(
            session_id=self.session_id,
            role="assistant",
            content=message.text,
            tool_calls=[{"name": c["name"], "args": c["args"], "id": c["id"]} for c in message.tool_calls],
            token_count=self.backend.count_message(message),
            reply_to=self.message_id,
        )

    def tool_result(self, message: ToolMessage) -> None:
        self.store.add_message(
            session_id=self.session_id,
            role="tool",
            content=str(message.content),
            tool_call_id=message.tool_call_id,
            token_count=self.backend.count_message(message),
            reply_to=self.message_id,
        )

    def reply(self, text: str, *, citations: list[dict[str, Any]], trace: dict[str, Any]) -> StoredMessage:
        """Store the final reply and mark the customer's message answered, together (and give the
        session's lease back in the same commit, when the recorder holds it)."""
        stored = self.store.add_message(
            session_id=self.session_id,
            role="assistant",
            content=text,
            citations=citations,
            trace=trace,
            token_count=count_text_safely(self.backend, text) + MESSAGE_OVERHEAD_TOKENS,
            reply_to=self.message_id,
            also=self.lease.release_in if self.lease is not None else None,
        )
        if self.lease is not None:
            self.lease.released()
        return stored

    def failed(self) -> None:
        """The turn could not answer: the message stays stored, shown, and out of later windows."""
        self.store.set_status(message_id=self.message_id, status="failed")

"""Conversation memory: the stored history (SQLAlchemy) and the FIFO context window over it."""

from memory.store import ConversationStore, SessionSummary, StoredMessage, UnknownSessionError
from memory.window import ContextOverflowError, to_langchain, trim_to_budget

__all__ = [
    "ContextOverflowError",
    "ConversationStore",
    "SessionSummary",
    "StoredMessage",
    "UnknownSessionError",
    "to_langchain",
    "trim_to_budget",
]

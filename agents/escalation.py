"""When the agent hands a conversation to a person by itself: an upset customer, a second "I don't
know" in a row, or a refund request (a person must approve it).

An upset customer whose message also asks for something a tool does (a damage report's ticket, an
order lookup, a refund) gets it done first: the reply tells its result (agents/told.py `to_tell`),
then the hand-over."""

from __future__ import annotations

import re
from collections.abc import Sequence

from memory.store import StoredMessage

UPSET = "the customer sounds upset"
REFUND_WAITS = "a refund request waits for a person's approval"
# The tools after whose success the conversation is a person's: the reply is the handoff notice.
HANDED_OVER_BY = frozenset({"request_human", "request_refund"})

_UPSET = re.compile(
    r"\b(ridiculous|unacceptable|useless|terrible|worst|furious|angry|outrageous|scam|fed up|"
    r"waste of (my )?time|this is a joke|not helpful|stupid bot)\b",
    re.IGNORECASE,
)
# Replies that say "I don't know" (trace.grounding), see agents/replies.py and agents/turn.py.
NO_ANSWER = {"no_relevant_knowledge", "no_supported_answer", "empty_reply"}


def sounds_upset(text: str) -> bool:
    """Strong words, or shouting (mostly capitals with several exclamation marks)."""
    letters = [c for c in text if c.isalpha()]
    shouting = len(letters) >= 12 and sum(c.isupper() for c in letters) / len(letters) > 0.7
    return bool(_UPSET.search(text)) or (shouting and text.count("!") >= 2)


def last_reply_was_no_answer(conversation: Sequence[StoredMessage]) -> bool:
    """Whether the bot's previous final reply in this conversation was an "I don't know"."""
    for row in reversed(conversation):
        if row.is_final_reply:
            return (row.trace or {}).get("grounding") in NO_ANSWER
    return False

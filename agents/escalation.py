"""When the agent hands a conversation to a person by itself: an upset customer, a second "I don't
know" in a row, or a refund request (a person must approve it).

An upset customer whose message also asks for something a tool does (a damage report's ticket, an
order lookup, a refund) gets it done first: the reply tells its result, then the hand-over."""

from __future__ import annotations

import re
from collections.abc import Sequence

from memory.store import StoredMessage
from tools.registry import ToolOutcome

UPSET = "the customer sounds upset"
REFUND_WAITS = "a refund request waits for a person's approval"
# The tools after whose success the conversation is a person's: the reply is the handoff notice.
HANDED_OVER_BY = frozenset({"request_human", "request_refund"})
# The tools whose result the customer still reads when the turn hands over: what was done for them.
TOLD_ON_HANDOVER = frozenset({"lookup_order", "open_ticket", "request_refund"})

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


def told_on_handover(outcomes: Sequence[ToolOutcome]) -> list[str]:
    """What the tools did for the customer in a turn that hands over (a ticket's number, the order's
    status, the refund request), or what they need to do it (a refusal written to the customer)."""
    return [o.result for o in outcomes if o.name in TOLD_ON_HANDOVER and (o.ok or o.for_customer)]

"""Routing before the model: clear intents pick a tool deterministically, so small models can use tools.

The bundled 135M model never chooses a tool under tool_choice="auto", but fills a *named* call
correctly. So a message with an order number, a request for a person, or an arithmetic expression
names its tool here; the model then fills that one call and writes the answer from its result. A
message that only completes an earlier one (the email on an order asked about a message before) is
routed with the earlier message's order number.
`FRONTDESK_TOOL_ROUTING` says whether these rules run (`rules`), the model chooses (`auto`), or both.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

RoutingMode = Literal["rules", "auto", "both"]

ORDER_ID = re.compile(r"\b(NW-\d{3,8})\b", re.IGNORECASE)
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_HUMAN = re.compile(
    r"\b(human|real person|a person|someone real|live agent|real agent|support agent|an agent|"
    r"representative|operator|speak to someone|talk to someone|escalate)\b",
    re.IGNORECASE,
)
# "where is my order 1002": a number given as the order's that is not an order number. Routed all
# the same, so that the tool's refusal says what one looks like, rather than the model guessing.
_OTHER_ORDER_NUMBER = re.compile(
    r"\border\s*(?:number\s*|no\.?\s*|#\s*|id\s*)?(?:is\s*)?:?\s*(#?\d{3,12})\b", re.IGNORECASE
)
# "Can I still cancel it?", "when will my order arrive?": about an order named a message or two before.
_ORDER_ACTION = (
    r"(cancel|change|modify|edit|update|return|exchange|refund|redirect|track|arrive|deliver|ship)"
)
_ABOUT_THE_ORDER = re.compile(
    rf"\b{_ORDER_ACTION}\w*\s+(?:\w+\s+)?it\b|\bit\s+(?:\w+\s+)?{_ORDER_ACTION}|"
    rf"\b(my|the|this|that) (order|package|parcel)\b.*\b{_ORDER_ACTION}|"
    rf"\b{_ORDER_ACTION}\w*\b.*\b(my|the|this|that) (order|package|parcel)\b",
    re.IGNORECASE,
)
_REFUND = re.compile(r"\b(refund|money back|reimburse)", re.IGNORECASE)
_DAMAGE = re.compile(
    r"\b(broken|broke|cracked|damaged|defective|faulty|missing part|doesn'?t work|does not work|stopped working|"
    r"dent|dented|scratched|shattered|smashed|chipped|torn|ripped|leaks|leaking|wrong item|"
    r"open a ticket|file a complaint|complain)\b",
    re.IGNORECASE,
)
# The words a question starts with. "Do I pay return shipping if the item was damaged?" asks about a
# policy; "my kettle arrived with a dent" reports a problem: a question reports one only when it says
# whose item it is.
QUESTION_START = re.compile(
    r"^\s*(do|does|did|can|could|is|are|was|were|will|would|should|how|what|when|where|which|who|why)\b",
    re.IGNORECASE,
)
_MINE = re.compile(r"\b(my|mine|our|i got|i received|we got|we received)\b", re.IGNORECASE)
_ASKS_FOR_TICKET = re.compile(r"\b(open a ticket|file a complaint|complain)\b", re.IGNORECASE)
# Two numbers joined by an operator ("3 × 19.99", "120/4", "19.99*3 - 10%").
_ARITHMETIC = re.compile(
    r"\d[\d.,]*\s*(?:[-+*/×x÷^]|\*\*|minus|plus|times|divided by)\s*\(?\s*\d", re.IGNORECASE
)

# The whole expression around it, handed to the calculator as written (a small model copying it
# into a tool call gets it wrong: "3 × 19.99 minus 10 %" became "3 * 19.99 - 0 %").
_EXPRESSION = re.compile(
    r"\(?\d[\d.,]*(?:\s*(?:[-+*/×÷^%()]|\*\*|minus|plus|times|divided by|of|x)\s*\(?\s*[\d.,]*\)?%?)+",
    re.IGNORECASE,
)


# How many of the customer's earlier messages a route looks back at for the piece a message lacks.
RECENT_MESSAGES = 3
SUBJECT_CHARS = 80


@dataclass(frozen=True)
class Route:
    """A tool chosen by rule, why, and the arguments the rule already knows (the model fills the rest)."""

    tool: str
    reason: str
    known_args: dict[str, Any] = field(default_factory=dict)


def route(message: str, *, tools: Collection[str], earlier: Sequence[str] = ()) -> Route | None:
    """The tool a clear intent in `message` calls, if that tool is available; None lets the model decide.

    `earlier` is the customer's earlier messages in this conversation (oldest first). An order
    needs its number and the email on it (tools/orders.py): when `message` gives one of the two and
    one of the last `RECENT_MESSAGES` of them gave the other ("Where is NW-10042?", then only the
    email), the route has both; the order's intent (a refund or a lookup) is that of the message
    that named the order. A message about "it" or "my order" that names none ("Can I still cancel
    it?") looks up the order named last in the conversation again: what can be done depends on its
    status. Free-text arguments are the customer's own words: a ticket's description
    is the message and its subject the message's first sentence; a refund's reason is the message
    that asked for it.
    """

    def offer(name: str, why: str, **known: Any) -> Route | None:
        return Route(name, why, known) if name in tools else None

    recent = list(earlier)[-RECENT_MESSAGES:][::-1]  # newest first
    order = ORDER_ID.search(message)
    email = EMAIL.search(message)
    order_message = message
    if order and not email:
        # The email may have come first ("my email is …", then the order number).
        email = next((found for m in recent if (found := EMAIL.search(m))), None)
    if _HUMAN.search(message):
        return offer("request_human", "the customer asked for a person", reason=message[:500])
    if email and not order:
        # Only the email: the order number it verifies is in a recent message.
        order_message = next((m for m in recent if ORDER_ID.search(m)), message)
        order = ORDER_ID.search(order_message)
    elif not order and _ABOUT_THE_ORDER.search(message):
        # A follow-up about the order named last in the conversation, however many messages ago:
        # looked up again (for its status), with the email given before if any (a verified
        # conversation needs none).
        everything = list(earlier)[::-1]
        if named := next((m for m in everything if ORDER_ID.search(m)), None):
            order = ORDER_ID.search(named)
            email = email or next((given for m in everything if (given := EMAIL.search(m))), None)
    # The email on the order verifies the customer (tools/orders.py); it is passed when given.
    verify = {"email": email.group(0)} if email else {}
    if order and _REFUND.search(order_message):
        return offer(
            "request_refund",
            "a refund for an order",
            order_id=order.group(1).upper(),
            reason=order_message,
            **verify,
        )
    if reports_problem(message):
        return offer("open_ticket", "a problem to report", subject=subject_of(message), description=message)
    if order:
        why = (
            "an order number in the message" if ORDER_ID.search(message) else "an order number given earlier"
        )
        return offer("lookup_order", why, order_id=order.group(1).upper(), **verify)
    if other := _OTHER_ORDER_NUMBER.search(message):
        return offer("lookup_order", "a number given as the order's", order_id=other.group(1), **verify)
    expression = _EXPRESSION.search(message) if _ARITHMETIC.search(message) else None
    if expression:
        return offer(
            "calculator", "an arithmetic expression in the message", expression=expression.group(0).strip()
        )
    return None


def reports_problem(message: str) -> bool:
    """Whether `message` reports a damaged, broken or wrong item (or asks for a ticket): a sentence
    that says so, not a question about the policy for one."""
    for sentence in _sentences(message):
        if not _DAMAGE.search(sentence):
            continue
        asks = sentence.rstrip().endswith("?") or QUESTION_START.match(sentence)
        if not asks or _MINE.search(sentence) or _ASKS_FOR_TICKET.search(sentence):
            return True
    return False


def _sentences(message: str) -> list[str]:
    text = " ".join(message.split())
    return [s for s in re.split(r"(?<=[.!?])\s+", text) if s.strip(".!? ")] or [text]


def subject_of(message: str) -> str:
    """A ticket's subject in the customer's words: the message's first sentence that reports the
    problem (else its first), on one line, cut at a word to at most `SUBJECT_CHARS` characters.
    "This is ridiculous!!! My blender arrived cracked." is about the blender."""
    text = " ".join(message.split())
    sentences = _sentences(text)
    first = next((s for s in sentences if _DAMAGE.search(s)), sentences[0]).rstrip(".!? ")
    if len(first) <= SUBJECT_CHARS:
        return first or text[:SUBJECT_CHARS]
    return first[: SUBJECT_CHARS - 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"

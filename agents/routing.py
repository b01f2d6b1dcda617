"""Routing before the model: clear intents pick a tool deterministically, so small models can use tools.

The bundled 135M model never chooses a tool under tool_choice="auto", but fills a *named* call
correctly. So a message with an order number, a request for a person, or an arithmetic expression
names its tool here; the model then fills that one call and writes the answer from its result.
`FRONTDESK_TOOL_ROUTING` says whether these rules run (`rules`), the model chooses (`auto`), or both.
"""

from __future__ import annotations

import re
from collections.abc import Collection
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
_REFUND = re.compile(r"\b(refund|money back|reimburse)", re.IGNORECASE)
_DAMAGE = re.compile(
    r"\b(broken|cracked|damaged|defective|faulty|missing part|doesn'?t work|does not work|stopped working|"
    r"open a ticket|file a complaint|complain)\b",
    re.IGNORECASE,
)
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


@dataclass(frozen=True)
class Route:
    """A tool chosen by rule, why, and the arguments the rule already knows (the model fills the rest)."""

    tool: str
    reason: str
    known_args: dict[str, Any] = field(default_factory=dict)


def route(message: str, *, tools: Collection[str]) -> Route | None:
    """The tool a clear intent in `message` calls, if that tool is available; None lets the model decide."""

    def offer(name: str, why: str, **known: Any) -> Route | None:
        return Route(name, why, known) if name in tools else None

    order = ORDER_ID.search(message)
    email = EMAIL.search(message)
    # The email on the order verifies the customer (tools/orders.py); it is passed when given.
    verify = {"email": email.group(0)} if email else {}
    if _HUMAN.search(message):
        return offer("request_human", "the customer asked for a person", reason=message[:500])
    if order and _REFUND.search(message):
        return offer("request_refund", "a refund for an order", order_id=order.group(1).upper(), **verify)
    if _DAMAGE.search(message):
        return offer("open_ticket", "a problem to report")
    if order:
        return offer(
            "lookup_order", "an order number in the message", order_id=order.group(1).upper(), **verify
        )
    expression = _EXPRESSION.search(message) if _ARITHMETIC.search(message) else None
    if expression:
        return offer(
            "calculator", "an arithmetic expression in the message", expression=expression.group(0).strip()
        )
    return None

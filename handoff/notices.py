"""What the customer is told when a person moves their conversation (they joined, they handed it back
to the assistant, or they closed it) or decides their refund request. Stored in the conversation as a
`notice` row: the chat and the conversation's channel show it, and the model never reads it
(memory/window.py takes only the customer's, the assistant's and people's messages)."""

from __future__ import annotations

from typing import Literal

NOTICE_ROLE = "notice"

Move = Literal["take", "release", "close"]


def notice(action: Move, by: str) -> str:
    """The customer's line for `action` by the person named `by`."""
    if action == "take":
        return f"{by} from our support team has joined the conversation."
    if action == "release":
        return f"{by} has handed this conversation back to our assistant, which answers from here."
    return f"{by} has closed this conversation. Write again to start a new one."


def refund_decided(number: str, order: str, approved: bool, note: str = "") -> str:
    """The customer's line when a person decides their refund request `number` for `order`."""
    if approved:
        return f"Your refund request {number} for order {order} has been approved."
    why = f" The reason: {note.rstrip('.')}." if note else ""
    return f"Your refund request {number} for order {order} was not approved.{why}"

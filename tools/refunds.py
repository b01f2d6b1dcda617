"""The `request_refund` tool: records a pending refund request for a person to approve or reject;
it never issues or promises money."""

from __future__ import annotations

from langchain_core.tools import BaseTool, StructuredTool, ToolException

from commerce import OrderNotFoundError, money
from tools.context import InjectedContext
from tools.orders import NOT_THEIRS, resolve_customer


def request_refund(order_id: str, reason: str, context: InjectedContext, email: str | None = None) -> str:
    """Record the customer's request for a refund on one of their orders, for our team to review.

    Args:
        order_id: The order number, like NW-10042.
        reason: Why the customer wants a refund, in their words.
        email: The email address used for the order, when the customer gave it in this conversation.
    """
    number, customer_id = resolve_customer(context, order_id, email)
    try:
        refund, created = context.commerce.request_refund(
            session_id=context.session_id, customer_id=customer_id, order_number=number, reason=reason
        )
    except OrderNotFoundError:
        raise ToolException(NOT_THEIRS.format(number=number)) from None
    except ValueError as exc:
        raise ToolException(f"Nothing was recorded: {exc}.") from None
    total = money(refund.order_total_cents, refund.currency)
    if not created:
        return (
            f"Nothing new was recorded: your order {number} already has refund request {refund.number} "
            f"(status: pending, recorded {refund.created_at:%Y-%m-%d}). A person on our team will review it. "
            "No refund has been issued or promised."
        )
    return (
        f"Your refund request {refund.number} for order {number} (order total {total}) is recorded; "
        "status: pending. A person on our team will review it, approve or reject it, and you will hear "
        "back. No refund has been issued or promised."
    )


def make_request_refund_tool() -> BaseTool:
    return StructuredTool.from_function(request_refund, parse_docstring=True, handle_tool_error=True)

"""The `lookup_order` tool: an order's status, carrier, tracking and dates, only for the customer
this conversation verified (order number + the email on that order)."""

from __future__ import annotations

from langchain_core.tools import BaseTool, StructuredTool, ToolException

from commerce import OrderRecord, VerificationFailedError, money, normalize_email, normalize_order_number
from tools.context import InjectedContext, ToolContext

STATUS_MEANING = {
    "received": "Received: we have the order and the payment is authorized.",
    "processing": "Processing: the order is being prepared in our warehouse.",
    "packed": "Packed: the items are boxed and waiting for the carrier pickup.",
    "shipped": "Shipped: the carrier has the package and tracking is active.",
    "delivered": "Delivered: the carrier marked the package as delivered.",
    "cancelled": "Cancelled: this order was cancelled.",
    "returned": "Returned: the items came back to our warehouse.",
}
# Every text here may be quoted to the customer as it is (agents/checking.py, agents/told.py): each
# is written to the customer, and says to the model as well what the customer must do next.
NOT_AN_ORDER_NUMBER = "That is not an order number. Northwind order numbers look like NW-10042."
NOT_AN_EMAIL = "That is not an email address. Please send the email address you used for the order."
NEED_EMAIL = (
    "I need the email address you used for order {number} before I can share anything about it. "
    "Please send me that email address."
)
NO_MATCH = (
    "The order number and the email address do not match our records, so I cannot share anything "
    "about this order. Please check both: the email address is the one you used at checkout."
)
NOT_THEIRS = (
    "Order {number} is not among the orders of the email address you confirmed in this conversation, "
    "so I cannot share anything about it. If you placed it with another email address, please send "
    "me that email address."
)


def resolve_customer(context: ToolContext, order_id: str, email: str | None) -> tuple[str, int]:
    """(normalised order number, verified customer id) or a ToolException that reveals nothing.

    With an email, the order number and email verify the customer first (remembered by the session).
    Without one, the session must already be verified. The order's owner is checked by the caller's
    query; every refusal reads the same whether or not the order exists.
    """
    number = normalize_order_number(order_id)
    if number is None:
        raise ToolException(NOT_AN_ORDER_NUMBER)
    if email is not None and email.strip():
        if normalize_email(email) is None:
            raise ToolException(NOT_AN_EMAIL)
        try:
            customer = context.verify(order_number=number, email=email)
        except VerificationFailedError:
            raise ToolException(NO_MATCH) from None
        return number, customer.id
    if context.verified_customer_id is None:
        raise ToolException(NEED_EMAIL.format(number=number))
    return number, context.verified_customer_id


def describe_order(order: OrderRecord) -> str:
    """The order as the model reads it: status and what it means, carrier, tracking, dates, items, total."""
    lines = [f"Order {order.number}", f"Status: {STATUS_MEANING.get(order.status, order.status)}"]
    if order.carrier or order.tracking_number:
        lines.append(
            f"Carrier: {order.carrier or 'not yet assigned'}; tracking number: {order.tracking_number or 'none yet'}"
        )
    dates = [f"placed {order.placed_at:%Y-%m-%d}"]
    if order.shipped_at:
        dates.append(f"shipped {order.shipped_at:%Y-%m-%d}")
    if order.delivered_at:
        dates.append(f"delivered {order.delivered_at:%Y-%m-%d}")
    elif order.estimated_delivery and order.status not in ("cancelled", "returned"):
        dates.append(f"estimated delivery {order.estimated_delivery:%Y-%m-%d}")
    lines.append("Dates: " + ", ".join(dates))
    items = ", ".join(
        f"{i.quantity} × {i.name} ({money(i.unit_price_cents, order.currency)} each)" for i in order.items
    )
    lines.append(f"Items: {items}")
    lines.append(
        f"Total: {money(order.total_cents, order.currency)} (items {money(order.subtotal_cents, order.currency)}, "
        f"shipping {money(order.shipping_cents, order.currency)}, tax {money(order.tax_cents, order.currency)})"
    )
    lines.append(
        f"Ships to: {order.ship_to_name}, {order.ship_to_city}, {order.ship_to_region} "
        f"{order.ship_to_postal_code}, {order.ship_to_country}"
    )
    return "\n".join(lines)


def lookup_order(order_id: str, context: InjectedContext, email: str | None = None) -> str:
    """Look up the status, carrier, tracking number and dates of one of the customer's orders.

    Args:
        order_id: The order number, like NW-10042.
        email: The email address used for the order, when the customer gave it in this conversation.
    """
    number, customer_id = resolve_customer(context, order_id, email)
    order = context.commerce.order_for_customer(customer_id=customer_id, order_number=number)
    if order is None:
        raise ToolException(NOT_THEIRS.format(number=number))
    return describe_order(order)


def make_lookup_order_tool() -> BaseTool:
    return StructuredTool.from_function(lookup_order, parse_docstring=True, handle_tool_error=True)

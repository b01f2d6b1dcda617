"""The `open_ticket` tool: records a support ticket for the conversation and returns its number."""

from __future__ import annotations

from langchain_core.tools import BaseTool, StructuredTool, ToolException

from tools.context import InjectedContext


def open_ticket(subject: str, description: str, context: InjectedContext) -> str:
    """Open a support ticket for a problem our team must handle, such as a damaged or missing item.

    Args:
        subject: A short title, like "Blender arrived cracked".
        description: What happened, with the details the customer gave (order number, item, dates).
    """
    try:
        ticket = context.commerce.open_ticket(
            session_id=context.session_id,
            subject=subject,
            description=description,
            customer_id=context.verified_customer_id,
        )
    except ValueError as exc:
        raise ToolException(f"No ticket was opened: {exc}.") from None
    return (
        f"Your support ticket {ticket.number} is open, with the subject “{ticket.subject}”. "
        "Our support team will follow up on it."
    )


def make_open_ticket_tool() -> BaseTool:
    return StructuredTool.from_function(open_ticket, parse_docstring=True, handle_tool_error=True)

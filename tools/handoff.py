"""The `request_human` tool: puts the conversation in the queue for a person (bot → queued)."""

from __future__ import annotations

from langchain_core.tools import BaseTool, StructuredTool, ToolException

from handoff import ConversationState, InvalidTransitionError
from tools.context import InjectedContext

DEFAULT_REASON = "The customer asked for a person."


def request_human(reason: str, context: InjectedContext) -> str:
    """Hand the conversation to a person on our support team, who will reply in this chat.

    Args:
        reason: Why the customer needs a person, in one sentence.
    """
    reason = " ".join(str(reason).split()) or DEFAULT_REASON
    try:
        context.handoff.transition(context.session_id, ConversationState.QUEUED, by="customer", reason=reason)
    except InvalidTransitionError as exc:
        if exc.current == ConversationState.QUEUED:
            return "This conversation is already waiting for a person; nothing changed. A person will reply here."
        if exc.current == ConversationState.HUMAN:
            return "A person is already handling this conversation; nothing changed. They will reply here."
        raise ToolException(
            "This conversation is closed, so it cannot be handed to a person. You can start a new "
            "conversation and ask for a person there."
        ) from None
    return (
        "This conversation is now in the queue for a person: a person from our team will reply here as "
        "soon as one is free. Until then the assistant will not answer."
    )


def make_request_human_tool() -> BaseTool:
    return StructuredTool.from_function(request_human, parse_docstring=True, handle_tool_error=True)

"""The agent's tool list, built in one place (app.py calls `build_tools`)."""

from __future__ import annotations

from langchain_core.tools import BaseTool

from knowledge.types import Retriever
from tools.calculator import make_calculator_tool
from tools.handoff import make_request_human_tool
from tools.knowledge import make_search_knowledge_base_tool
from tools.orders import make_lookup_order_tool
from tools.refunds import make_request_refund_tool
from tools.tickets import make_open_ticket_tool


def build_tools(*, retriever: Retriever | None = None) -> list[BaseTool]:
    """Every tool: the help-center search (when there is a retriever), the order, ticket, refund and
    handoff tools (which get a ToolContext per call from `run_tool_call`), and the calculator."""
    tools = [make_search_knowledge_base_tool(retriever)] if retriever is not None else []
    return [
        *tools,
        make_lookup_order_tool(),
        make_open_ticket_tool(),
        make_request_refund_tool(),
        make_request_human_tool(),
        make_calculator_tool(),
    ]

"""Typed tool functions the agent can call (one module per tool), the per-turn `ToolContext` they
receive, the tool list, and running a tool call so that errors become observations."""

from tools.calculator import CalculationError, evaluate
from tools.catalog import build_tools
from tools.context import InjectedContext, ToolContext
from tools.knowledge import make_search_knowledge_base_tool
from tools.registry import ToolOutcome, run_tool_call

__all__ = [
    "CalculationError",
    "InjectedContext",
    "ToolContext",
    "ToolOutcome",
    "build_tools",
    "evaluate",
    "make_search_knowledge_base_tool",
    "run_tool_call",
]

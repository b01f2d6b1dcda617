"""Typed tool functions the agent can call, and running a tool call so that errors become observations."""

from tools.knowledge import make_search_knowledge_base_tool
from tools.registry import ToolOutcome, run_tool_call

__all__ = ["ToolOutcome", "make_search_knowledge_base_tool", "run_tool_call"]

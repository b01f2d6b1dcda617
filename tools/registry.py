"""Runs one tool call: arguments validated by the tool's schema, any failure returned as text."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.tools import BaseTool

MAX_RESULT_CHARS = 4000


@dataclass
class ToolOutcome:
    name: str
    arguments: dict[str, Any]
    result: str
    ok: bool
    artifact: Any = field(default=None, repr=False)

    def public(self) -> dict[str, Any]:
        return {"name": self.name, "arguments": self.arguments, "result": self.result}


def run_tool_call(tools: Sequence[BaseTool], call: dict[str, Any]) -> ToolOutcome:
    """Run `call` ({"name", "args", "id"}) on the matching tool; an error is an observation, not a crash."""
    name, args = call.get("name", ""), call.get("args") or {}
    by_name = {t.name: t for t in tools}
    tool = by_name.get(name)
    if tool is None:
        known = ", ".join(sorted(by_name)) or "none"
        return ToolOutcome(name, args, f"Error: there is no tool named {name!r} (tools: {known}).", False)
    if "__raw__" in args:
        return ToolOutcome(name, args, "Error: the tool arguments were not valid JSON.", False)
    try:
        output = tool.invoke({**call, "type": "tool_call"})
    except Exception as exc:
        return ToolOutcome(name, args, f"Error: {type(exc).__name__}: {exc}"[:MAX_RESULT_CHARS], False)
    content = getattr(output, "content", output)
    artifact = getattr(output, "artifact", None)
    if not isinstance(content, str):
        content = json.dumps(content, default=str)
    ok = getattr(output, "status", "success") != "error"
    return ToolOutcome(name, args, content[:MAX_RESULT_CHARS], ok, artifact)

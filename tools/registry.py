"""Runs one tool call: arguments validated by the tool's schema, the per-turn context injected,
any failure returned as text."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.tools import BaseTool
from pydantic import ValidationError

MAX_RESULT_CHARS = 4000


@dataclass
class ToolOutcome:
    """One finished tool call. `result` is the tool's text: its output, or its own refusal (a
    ToolException), both written so that the customer may read them (`for_customer`); or an error
    about the call itself (no such tool, arguments that do not fit), which is for the model only."""

    name: str
    arguments: dict[str, Any]
    result: str
    ok: bool
    artifact: Any = field(default=None, repr=False)
    for_customer: bool = True

    def public(self) -> dict[str, Any]:
        return {"name": self.name, "arguments": self.arguments, "result": self.result}


def injected_arguments(tool: BaseTool) -> frozenset[str]:
    """The arguments of `tool` that the caller supplies (InjectedToolArg) and the model never sees."""
    every = getattr(tool.get_input_schema(), "model_fields", {})
    visible = getattr(tool.tool_call_schema, "model_fields", {})
    return frozenset(set(every) - set(visible))


def run_tool_call(tools: Sequence[BaseTool], call: dict[str, Any], context: Any = None) -> ToolOutcome:
    """Run `call` ({"name", "args", "id"}) on the matching tool; an error is an observation, not a crash.

    Every injected argument of the tool (see tools/context.py) receives `context`; whatever the
    model put under those names is dropped first, so it can never supply or replace the context.
    """
    name, args = call.get("name", ""), call.get("args")
    args = {} if args is None else args
    by_name = {t.name: t for t in tools}
    tool = by_name.get(name)
    if tool is None:
        known = ", ".join(sorted(by_name)) or "none"
        return _error(name, args, f"there is no tool named {name!r} (tools: {known})")
    if not isinstance(args, dict):
        return _error(name, {}, "the tool arguments must be a JSON object")
    if "__raw__" in args:
        return _error(name, args, "the tool arguments were not valid JSON")
    injected = injected_arguments(tool)
    args = {k: v for k, v in args.items() if k not in injected}
    if injected and context is None:
        return _error(name, args, f"{name} cannot run outside a conversation")
    try:
        payload: dict[str, Any] = {
            **call,
            "args": {**args, **dict.fromkeys(injected, context)},
            "type": "tool_call",
        }
        output = tool.invoke(payload)
    except ValidationError as exc:
        # Field and problem only: the input echo would include the injected context.
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}"
            for e in exc.errors(include_url=False, include_input=False, include_context=False)
        )
        return _error(name, args, f"invalid arguments for {name}: {problems}")
    except Exception as exc:
        return _error(name, args, f"{type(exc).__name__}: {exc}")
    content = getattr(output, "content", output)
    artifact = getattr(output, "artifact", None)
    if not isinstance(content, str):
        content = json.dumps(content, default=str)
    ok = getattr(output, "status", "success") != "error"
    return ToolOutcome(name, args, content[:MAX_RESULT_CHARS], ok, artifact)


def _error(name: str, args: dict[str, Any], problem: str) -> ToolOutcome:
    """A call that did not run as the tool meant: an observation for the model, not for the customer."""
    text = f"Error: {problem}" if problem.endswith((".", "!", "?")) else f"Error: {problem}."
    return ToolOutcome(name, args, text[:MAX_RESULT_CHARS], False, for_customer=False)

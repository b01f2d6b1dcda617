"""Parsing a tool call's JSON arguments the same way for every backend."""

from __future__ import annotations

import json
from typing import Any


def parse_arguments(raw: str | None) -> dict[str, Any]:
    """The arguments as a dict; text that is not JSON is kept under `__raw__` so the tool runner
    can tell the model its arguments were malformed."""
    try:
        args = json.loads(raw or "{}")
    except json.JSONDecodeError:
        return {"__raw__": raw}
    return args if isinstance(args, dict) else {"value": args}

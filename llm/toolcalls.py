"""Tool-call pieces every backend handles the same way: parsing arguments, naming a call."""

from __future__ import annotations

import json
import uuid
from typing import Any


def parse_arguments(raw: str | None) -> dict[str, Any]:
    """The arguments as a dict; text that is not JSON is kept under `__raw__` so the tool runner
    can tell the model its arguments were malformed."""
    try:
        args = json.loads(raw or "{}")
    except json.JSONDecodeError:
        return {"__raw__": raw}
    return args if isinstance(args, dict) else {"value": args}


def call_id(given: str | None) -> str:
    """The call's id, or a fresh one when the backend sent none."""
    return given or f"call_{uuid.uuid4().hex[:12]}"

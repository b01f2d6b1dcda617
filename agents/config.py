"""What an agent is configured with: branding, the window's and the answer's token budgets, the tool
loop's limits and how tools are chosen (built from settings in app.py)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from agents.routing import RoutingMode


@dataclass
class AgentConfig:
    company: str | None = None
    assistant_name: str | None = None
    topics: list[str] = dataclasses.field(default_factory=list)
    context_tokens: int = 2048
    answer_tokens: int = 256
    max_tool_steps: int = 4
    max_message_chars: int = 4000
    # rules: clear intents call their tool by name; auto: the model chooses; both (capable models).
    tool_routing: RoutingMode = "both"

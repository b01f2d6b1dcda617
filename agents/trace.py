"""The turn's trace: what the agent retrieved, kept in the window, asked the model and ran, and how long it took.

Stored as JSON with the reply, so an admin (and the benchmarks) can see why a reply is what it is.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class TurnTrace:
    retrieval: dict[str, Any] = field(default_factory=dict)
    window: dict[str, Any] = field(default_factory=dict)
    steps: list[dict[str, Any]] = field(default_factory=list)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    # The tool a routing rule chose before the model ran, and why (agents/routing.py).
    route: dict[str, str] | None = None
    step_limit_reached: bool = False
    # Why the reply is not (only) the model's text: "no_relevant_knowledge", "empty_reply", …
    grounding: str | None = None
    handoff_offered: bool = False
    # Why the agent itself handed the conversation to a person this turn (agents/escalation.py).
    escalated: str | None = None
    # The answer check's verdict per sentence and whether a fallback replaced the reply (grounding/).
    answer_check: dict[str, Any] | None = None
    # Earlier messages of the session this worker answered first, to keep the answers in order.
    answered_first: list[int] = field(default_factory=list)
    # The prompt versions the turn rendered (name → version; 0: the file in prompts/), prompts/store.py.
    prompt_versions: dict[str, int] = field(default_factory=dict)
    # The server refused the prompt as too long and the window was trimmed for a second try.
    context_retry: dict[str, Any] | None = None
    total_ms: float = 0.0

    def add_step(
        self, *, model_ms: float, usage: dict[str, int], finish_reason: str | None, counted: bool = False
    ) -> None:
        """`counted`: the tokens are the app's count (the prompt's, the pieces streamed), not the server's."""
        step: dict[str, Any] = {"model_ms": round(model_ms, 1), "finish_reason": finish_reason, **usage}
        if counted:
            step["counted"] = True
        self.steps.append(step)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

"""A model server's "prompt too long" answer, recognised: vLLM, llama.cpp's server and OpenAI all
answer 400 with "This model's maximum context length is N tokens. However, you requested M tokens
(P in the messages, A in the completion)…" (or "…your request has M input tokens").

Such an answer is not the backend failing: the server is up, our token count was short of its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from llm.factory import BackendUnavailableError

_LIMIT = re.compile(r"maximum context length is (\d+) tokens", re.IGNORECASE)
_REQUESTED = re.compile(r"However,? (?:you requested|your (?:request|messages?) (?:has|resulted in)) (\d+)")
_PARTS = re.compile(r"\((\d+) in the messages, (\d+) in the completion\)")
# llama.cpp's own wording (llama_cpp.server before it adopted OpenAI's).
_LLAMA = re.compile(r"Requested tokens \((\d+)\) exceed context window of (\d+)")


@dataclass(frozen=True)
class ContextLimit:
    """What the server said: its limit, and (when it says) what was asked for in all and for the answer."""

    limit: int
    requested: int | None = None
    completion: int | None = None

    def keep_share(self) -> float:
        """The share of the prompt's conversation to keep so that the next try fits, with a margin."""
        if self.requested is None or self.requested <= self.limit:
            return 0.5
        answer = self.completion or 0
        prompt_now = max(1, self.requested - answer)
        return max(0.1, min(0.9, (self.limit - answer) / prompt_now * 0.9))


class ContextLengthExceededError(BackendUnavailableError):
    """The server refused the prompt as longer than its context; unhandled, it is answered like a 503."""

    def __init__(self, limit: ContextLimit, message: str) -> None:
        super().__init__(message)
        self.context = limit


def parse_context_limit(text: str) -> ContextLimit | None:
    """The limit named in a server's context-length error, or None if `text` is not one."""
    llama = _LLAMA.search(text)
    if llama:
        return ContextLimit(limit=int(llama.group(2)), requested=int(llama.group(1)))
    limit = _LIMIT.search(text)
    if not limit:
        return None
    requested = _REQUESTED.search(text)
    parts = _PARTS.search(text)
    return ContextLimit(
        limit=int(limit.group(1)),
        requested=int(requested.group(1)) if requested else None,
        completion=int(parts.group(2)) if parts else None,
    )

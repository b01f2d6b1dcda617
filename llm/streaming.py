"""One streamed model call, the same for every backend: answer text as it comes, tool calls assembled.

Backend quirks live here rather than in the agent: llama.cpp's server repeats the function name in
every streamed tool-call fragment (so fragments are joined by index and the name taken once), and
which exceptions mean "the model is unavailable" is each backend's own list (`ChatBackend.errors`).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage

from llm.factory import BackendUnavailableError, ChatBackend
from llm.overflow import ContextLengthExceededError, parse_context_limit
from llm.resilience import CircuitOpenError, first_with_retries
from llm.toolcalls import call_id, parse_arguments


@dataclass
class ModelStep:
    """A finished model call: the whole message, how long it took, and the tokens the server reported."""

    message: AIMessage
    model_ms: float
    usage: dict[str, int] = field(default_factory=dict)
    finish_reason: str | None = None


def stream_step(
    backend: ChatBackend,
    model: Any,
    messages: Sequence[BaseMessage],
    *,
    stop_when: Callable[[str], bool] | None = None,
) -> Generator[str, None, ModelStep]:
    """Stream one call of `model` (the backend's model, possibly with tools bound), yielding answer text.

    Transient failures are retried before the first token (llm/resilience.py). A prompt the server
    refuses as too long raises ContextLengthExceededError (llm/overflow.py). Otherwise raises
    BackendUnavailableError when the backend fails in a way its `errors` name (down, timed out,
    malformed answers), when the call outlasts `total_timeout_s`, or while the breaker is open.
    """
    started = time.perf_counter()
    tokens: list[str] = []
    calls: dict[int, dict[str, str]] = {}
    usage: dict[str, int] = {}
    finish_reason: str | None = None
    failures: tuple[type[BaseException], ...] = (*backend.errors, TimeoutError)
    try:
        backend.breaker.before_call()
        first, rest = first_with_retries(
            lambda: model.stream(list(messages)),
            transient=backend.transient,
            attempts=backend.retries + 1,
            max_wait_s=backend.total_timeout_s,
        )
        for chunk in itertools.chain([first] if first is not None else [], rest):
            if time.perf_counter() - started > backend.total_timeout_s:
                raise TimeoutError(f"the answer took longer than {backend.total_timeout_s:.0f} s")
            text = chunk.text if chunk.content else ""
            if text:
                tokens.append(text)
                yield text
                # A generation that starts repeating itself is stopped (checked every 8 pieces).
                if stop_when is not None and len(tokens) % 8 == 0 and stop_when("".join(tokens)):
                    finish_reason = "repetition"
                    # Close the stream now: the embedded model holds its lock until it is closed.
                    close = getattr(rest, "close", None)
                    if close is not None:
                        close()
                    break
            for part in chunk.tool_call_chunks or []:
                slot = calls.setdefault(part.get("index") or 0, {"name": "", "args": "", "id": ""})
                slot["name"] = slot["name"] or (part.get("name") or "")
                slot["id"] = slot["id"] or (part.get("id") or "")
                slot["args"] += part.get("args") or ""
            if chunk.usage_metadata:
                usage = {
                    "input_tokens": chunk.usage_metadata.get("input_tokens", 0),
                    "output_tokens": chunk.usage_metadata.get("output_tokens", 0),
                }
            finish_reason = (chunk.response_metadata or {}).get("finish_reason") or finish_reason
    except CircuitOpenError as exc:
        raise BackendUnavailableError(f"The language model is unavailable ({exc})") from exc
    except failures as exc:
        limit = parse_context_limit(str(exc))
        if limit is not None and not tokens:
            # The server is up and answered: the prompt was longer than its context.
            backend.breaker.succeeded()
            raise ContextLengthExceededError(
                limit, f"The prompt is longer than the model's context of {limit.limit} tokens"
            ) from exc
        backend.breaker.failed()
        raise BackendUnavailableError(
            f"The language model is unavailable ({type(exc).__name__}: {exc})"
        ) from exc
    backend.breaker.succeeded()
    tool_calls = [
        {"name": slot["name"], "args": parse_arguments(slot["args"]), "id": call_id(slot["id"])}
        for slot in calls.values()
    ]
    return ModelStep(
        message=AIMessage(content="".join(tokens), tool_calls=tool_calls),
        model_ms=(time.perf_counter() - started) * 1000,
        usage=usage,
        finish_reason=finish_reason,
    )

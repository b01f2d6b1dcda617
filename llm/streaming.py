"""One streamed model call, the same for every backend: answer text as it comes, tool calls assembled.

The call is asynchronous (the model's `astream`): no thread waits while the server generates.
Backend quirks live here rather than in the agent: llama.cpp's server repeats the function name in
every streamed tool-call fragment (so fragments are joined by index and the name taken once), and
which exceptions mean "the model is unavailable" is each backend's own list (`ChatBackend.errors`).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from langchain_core.messages import AIMessage, BaseMessage

from llm.factory import BackendUnavailableError, ChatBackend
from llm.overflow import ContextLengthExceededError, parse_context_limit
from llm.resilience import CircuitOpenError, first_with_retries
from llm.toolcalls import call_id, parse_arguments

T = TypeVar("T")


class Holder(Generic[T]):
    """Where an async generator leaves its result (an async generator cannot `return` a value)."""

    def __init__(self) -> None:
        self._value: T | None = None

    def set(self, value: T) -> None:
        self._value = value

    @property
    def value(self) -> T:
        if self._value is None:
            raise RuntimeError("the generator ended without a result")
        return self._value


@dataclass
class ModelStep:
    """A finished model call: the whole message, how long it took, and its tokens: as the server
    reported them, or, for a stream the app stopped before the server's count came (`counted`), the
    pieces it received (one token each as vLLM and llama.cpp stream)."""

    message: AIMessage
    model_ms: float
    usage: dict[str, int] = field(default_factory=dict)
    finish_reason: str | None = None
    counted: bool = False


async def stream_step(
    backend: ChatBackend,
    model: Any,
    messages: Sequence[BaseMessage],
    out: Holder[ModelStep],
    *,
    stop_when: Callable[[str], str | None] | None = None,
) -> AsyncGenerator[str, None]:
    """Stream one call of `model` (the backend's model, possibly with tools bound), yielding answer
    text; the finished step is left in `out`. `stop_when(text so far)`, asked every 8 pieces, ends the
    generation when it names a reason, which becomes the step's finish reason.

    Transient failures are retried before the first token (llm/resilience.py). A prompt the server
    refuses as too long raises ContextLengthExceededError (llm/overflow.py). Otherwise raises
    BackendUnavailableError when the backend fails in a way its `errors` name (down, timed out,
    malformed answers), when the call outlasts `total_timeout_s`, or while the breaker is open.
    A caller that stops reading (closes or cancels this generator) closes the model's stream, which
    ends the request on the server.
    """
    started = time.perf_counter()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + backend.total_timeout_s if math.isfinite(backend.total_timeout_s) else None
    tokens: list[str] = []
    calls: dict[int, dict[str, str]] = {}
    usage: dict[str, int] = {}
    finish_reason: str | None = None
    stopped = False
    failures: tuple[type[BaseException], ...] = (*backend.errors, TimeoutError)
    rest: AsyncIterator[Any] | None = None
    try:
        backend.breaker.before_call()
        try:
            async with asyncio.timeout_at(deadline):
                chunk, rest = await first_with_retries(
                    lambda: model.astream(list(messages)),
                    transient=backend.transient,
                    attempts=backend.retries + 1,
                    max_wait_s=backend.total_timeout_s,
                )
        except TimeoutError:
            raise TimeoutError(f"no answer within {backend.total_timeout_s:.0f} s") from None
        while chunk is not None:
            text = chunk.text if chunk.content else ""
            if text:
                tokens.append(text)
                yield text
                # A generation that repeats itself, or that the answer check gave up on, is stopped.
                if stop_when is not None and len(tokens) % 8 == 0 and (reason := stop_when("".join(tokens))):
                    finish_reason, stopped = reason, True
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
            try:
                async with asyncio.timeout_at(deadline):
                    chunk = await anext(rest, None)
            except TimeoutError:
                raise TimeoutError(f"the answer took longer than {backend.total_timeout_s:.0f} s") from None
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
    finally:
        # Close the stream now, whatever ended it: the server stops generating, and the embedded
        # model gives up its lock.
        close = getattr(rest, "aclose", None)
        if close is not None:
            await close()
    backend.breaker.succeeded()
    # A stream stopped here ends before the server's usage chunk: count what came.
    counted = stopped and not usage
    if counted:
        usage = {"output_tokens": len(tokens)}
    tool_calls = [
        {"name": slot["name"], "args": parse_arguments(slot["args"]), "id": call_id(slot["id"])}
        for slot in calls.values()
    ]
    out.set(
        ModelStep(
            message=AIMessage(content="".join(tokens), tool_calls=tool_calls),
            model_ms=(time.perf_counter() - started) * 1000,
            usage=usage,
            finish_reason=finish_reason,
            counted=counted,
        )
    )

"""The tool loop: call the model, run the tools it asks for, hand results back, until it answers.

Bounded by `max_steps`; the last call offers no tools, so the model must answer with what it has.
A tool error is an observation for the model, not a crash (tools/registry.py). A prompt the server
refuses as longer than its context is sent once more with fewer old turns (memory/window.py).
The loop is asynchronous: model calls are awaited, tool calls and store writes run in worker
threads (`asyncio.to_thread`), so the event loop never waits on them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.tools import BaseTool

from agents.events import TurnEvent
from agents.recorder import TurnRecorder
from agents.routing import Route
from agents.trace import TurnTrace
from knowledge.types import RetrievedChunk
from llm.factory import ChatBackend
from llm.overflow import ContextLengthExceededError
from llm.streaming import Holder, ModelStep, stream_step
from llm.toolcalls import call_id
from memory.window import ContextOverflowError, trim_further
from tools.registry import MAX_RESULT_CHARS, ToolOutcome, run_tool_call

# Starts one model step that streams its text and leaves the finished step in the holder.
StartStep = Callable[[Holder[ModelStep]], AsyncGenerator[str, None]]


@dataclass
class LoopResult:
    final: AIMessage | None = None
    outcomes: list[ToolOutcome] = field(default_factory=list)
    # Knowledge-base chunks that tools returned (the search tool): cited like retrieved ones.
    found_chunks: list[RetrievedChunk] = field(default_factory=list)
    # The routed call was refused and `final` is the refusal, written to the customer: the reply as it is.
    refused: bool = False


async def run_tool_loop(
    *,
    backend: ChatBackend,
    tools: Sequence[BaseTool],
    messages: list[BaseMessage],
    max_steps: int,
    recorder: TurnRecorder,
    trace: TurnTrace,
    offer_tools: bool,
    out: LoopResult,
    route: Route | None = None,
    context: Callable[[], Any] | None = None,
    stop_when: Callable[[str], str | None] | None = None,
    show_excerpts: Callable[[list[RetrievedChunk]], str] | None = None,
    ends_turn: Callable[[ToolOutcome], bool] | None = None,
) -> AsyncGenerator[TurnEvent, None]:
    """Run the loop over `messages` (extended in place), yielding answer tokens and finished tool
    calls; the model's final message, the tool outcomes and found chunks are filled into `out`.

    With a `route`, the first step is that one tool call: built from the route's arguments when
    they are complete, otherwise filled by the model with the tool named (tool_choice). Later steps
    offer the tools under "auto" only if `offer_tools`; the last step offers none. A tool result
    that carries knowledge-base chunks is shown to the model through `show_excerpts` (a template).
    When the tool refuses the routed call (the email on the order is missing), its refusal, written
    to the customer, is the answer: the arguments came from the customer's words, so the model has
    nothing to fix or to add (what it added was invented). A tool result for which `ends_turn` is
    true (the conversation went to a person) ends the loop with no final message: the turn's reply is
    then our own words, so no model step is spent writing one. `context` builds the tools' context
    (a database read) before the first call: a turn that calls no tool never builds it.
    """
    offer_tools = bool(tools) and offer_tools
    model = backend.model.bind_tools(list(tools)) if offer_tools else backend.model
    routed = next((t for t in tools if route and t.name == route.tool), None)
    tool_context: Any = None
    for step_no in range(max_steps + 1):
        if routed is not None and route is not None and step_no == 0:
            message = await _routed_call(backend, routed, route, messages, trace)
        else:
            last_step = step_no == max_steps or not offer_tools
            step_model = backend.model if last_step else model
            start = partial(stream_step, backend, step_model, messages, stop_when=stop_when)
            holder: Holder[ModelStep] = Holder()
            async with aclosing(_fitting(backend, messages, trace, start, holder)) as texts:
                async for text in texts:
                    yield TurnEvent("token", text=text)
            step = holder.value
            _record(trace, step, first=step_no == 0)
            message = step.message
            if not message.tool_calls or last_step:
                out.final = message
                return
        await asyncio.to_thread(recorder.tool_step, message)
        messages.append(message)
        refusals: list[str] = []
        if tool_context is None and context is not None:
            tool_context = await asyncio.to_thread(context)
        for call in message.tool_calls:
            started = time.perf_counter()
            outcome = await asyncio.to_thread(run_tool_call, tools, dict(call), tool_context)
            tool_ms = round((time.perf_counter() - started) * 1000, 1)
            found = [c for c in outcome.artifact or [] if isinstance(c, RetrievedChunk)]
            if found and show_excerpts is not None:
                outcome.result = show_excerpts(found)[:MAX_RESULT_CHARS]
            out.outcomes.append(outcome)
            out.found_chunks.extend(found)
            trace.tool_calls.append({**outcome.public(), "ok": outcome.ok, "ms": tool_ms})
            tool_message = ToolMessage(content=outcome.result, tool_call_id=call["id"])
            await asyncio.to_thread(recorder.tool_result, tool_message)
            messages.append(tool_message)
            yield TurnEvent("tool", tool=outcome.public(), outcome=outcome, found=found)
            if not outcome.ok and outcome.for_customer:
                refusals.append(outcome.result)
        if step_no == 0 and routed is not None and refusals and len(refusals) == len(message.tool_calls):
            out.final, out.refused = AIMessage(content="\n\n".join(refusals)), True
            return
        if ends_turn is not None and any(ends_turn(o) for o in out.outcomes):
            return
        if step_no + 1 == max_steps:
            trace.step_limit_reached = True


def _record(trace: TurnTrace, step: ModelStep, *, first: bool) -> None:
    """The step in the trace. A stream the app stopped has the app's counts: the pieces it received,
    and for the turn's first call the prompt as the window counted it (later calls add tool results)."""
    usage = dict(step.usage)
    if step.counted and first and "prompt_tokens" in trace.window:
        usage.setdefault("input_tokens", trace.window["prompt_tokens"])
    trace.add_step(
        model_ms=step.model_ms, usage=usage, finish_reason=step.finish_reason, counted=step.counted
    )


async def _routed_call(
    backend: ChatBackend, tool: BaseTool, route: Route, messages: list[BaseMessage], trace: TurnTrace
) -> AIMessage:
    """The routed tool's call: from the rule's arguments, or the model filling the named tool."""
    schema = tool.tool_call_schema
    json_schema = schema if isinstance(schema, dict) else schema.model_json_schema()  # type: ignore[union-attr]
    required = set(json_schema.get("required", []))
    args = dict(route.known_args)
    if not required <= set(args):
        model = backend.model.bind_tools([tool], tool_choice=tool.name)
        holder: Holder[ModelStep] = Holder()
        # The step's text is not part of the answer: read and dropped.
        start = partial(stream_step, backend, model, messages)
        async with aclosing(_fitting(backend, messages, trace, start, holder)) as texts:
            async for _ in texts:
                pass
        step = holder.value
        _record(trace, step, first=True)
        filled = next((c for c in step.message.tool_calls if c["name"] == tool.name), None)
        # What the rule read from the message is more reliable than what a small model copies.
        args = {**(filled["args"] if filled else {}), **route.known_args}
    call = {"name": tool.name, "args": args, "id": call_id(None)}
    return AIMessage(content="", tool_calls=[call])


async def _fitting(
    backend: ChatBackend,
    messages: list[BaseMessage],
    trace: TurnTrace,
    start: StartStep,
    out: Holder[ModelStep],
) -> AsyncGenerator[str, None]:
    """A model step; if the server says the prompt is longer than its context (before any token),
    `messages` loses old turns and the step runs once more. Twice too long: ContextOverflowError."""
    try:
        async with aclosing(start(out)) as texts:
            async for text in texts:
                yield text
        return
    except ContextLengthExceededError as exc:
        if trace.context_retry is not None:
            raise ContextOverflowError(exc.context.requested or exc.context.limit, exc.context.limit) from exc
        before = len(messages)
        messages[:] = await asyncio.to_thread(
            trim_further, messages, keep_share=exc.context.keep_share(), count_tokens=backend.count_message
        )
        trace.context_retry = {
            "limit": exc.context.limit,
            "requested": exc.context.requested,
            "messages_before": before,
            "messages_after": len(messages),
        }
    try:
        async with aclosing(start(out)) as texts:
            async for text in texts:
                yield text
    except ContextLengthExceededError as exc:
        raise ContextOverflowError(exc.context.requested or exc.context.limit, exc.context.limit) from exc

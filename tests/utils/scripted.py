"""A scripted chat model for testing the loop's logic deterministically (never the only proof)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.utils.function_calling import convert_to_openai_tool

from llm.factory import ChatBackend


class ScriptedChatModel(BaseChatModel):
    """Answers with the given messages in order and records every call (messages and bound tools)."""

    # Each entry: an AIMessage to answer, an exception to raise, or a function of the messages.
    script: list[Any]
    calls: list[dict[str, Any]] = []

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any):
        return self.bind(tools=[convert_to_openai_tool(t) for t in tools], **kwargs)

    def _next(self, messages: list[BaseMessage], kwargs: dict[str, Any]) -> AIMessage:
        self.calls.append({"messages": list(messages), "tools": kwargs.get("tools")})
        if not self.script:
            raise AssertionError("the scripted model ran out of answers")
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        return step(messages) if callable(step) else step

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._next(messages, kwargs))])

    def _stream(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> Iterator[ChatGenerationChunk]:
        message = self._next(messages, kwargs)
        for word in message.text.split(" ") if message.text else []:
            yield ChatGenerationChunk(message=AIMessageChunk(content=word + " "))
        for i, call in enumerate(message.tool_calls):
            yield ChatGenerationChunk(
                message=AIMessageChunk(
                    content="",
                    tool_call_chunks=[
                        {"name": call["name"], "args": json.dumps(call["args"]), "id": call["id"], "index": i}
                    ],
                )
            )


def word_count(text: str) -> int:
    return len(text.split()) + 1


def scripted_backend(
    script: list, *, errors: tuple[type[BaseException], ...] = (ConnectionError,)
) -> ChatBackend:
    model = ScriptedChatModel(script=list(script), calls=[])
    return ChatBackend(
        model=model, count_text=word_count, description="scripted", errors=errors, auto_tool_calls=True
    )


def tool_call(name: str, args: dict[str, Any], call_id: str = "call_1") -> AIMessage:
    return AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": call_id}])

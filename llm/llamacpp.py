"""A LangChain chat model over an in-process llama.cpp `Llama`, with tool calling and streaming.

Every answer carries its token usage (`usage_metadata`): llama.cpp's own counts for an answer in
one piece, and for a streamed one (llama.cpp's stream has none) the tokens of the prompt its chat
handler rendered and of the answer, counted with the model's tokenizer, on the last piece.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    convert_to_openai_messages,
)
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ConfigDict, Field

from llm.toolcalls import call_id, parse_arguments

_LOADING = threading.Lock()


@contextmanager
def extra_buffer_types_off() -> Iterator[None]:
    """While it lasts, llama.cpp models load with its extra CPU buffer types off (`use_extra_bufts`,
    which llama-cpp-python's `Llama` does not expose: its default model params are swapped).

    On a CPU with AMX (Xeon Sapphire Rapids and later) llama.cpp otherwise puts the weights in its
    AMX buffer, and the first decode of the bundled Q4_1 model kills the process with a
    segmentation fault. The plain CPU path has no such buffer and is as fast for this model.
    """
    import llama_cpp.llama_cpp as low_level

    with _LOADING:
        default = low_level.llama_model_default_params

        def without_extra_buffers() -> Any:
            params = default()
            params.use_extra_bufts = False
            return params

        low_level.llama_model_default_params = without_extra_buffers
        try:
            yield
        finally:
            low_level.llama_model_default_params = default


def load_llama(**kwargs: Any) -> Any:
    """A `llama_cpp.Llama(**kwargs)` loaded with `extra_buffer_types_off`."""
    from llama_cpp import Llama

    with extra_buffer_types_off():
        return Llama(**kwargs)


def _function_calling_handler() -> Callable[..., Any]:
    """llama.cpp's constrained tool-call handler, used only for requests that carry tools.

    It is not the model's default chat format because its template HTML-escapes message text
    (an apostrophe becomes `&#39;`), which corrupts ordinary answers and inflates the prompt.
    """
    from llama_cpp import llama_chat_format

    return llama_chat_format.get_chat_completion_handler("chatml-function-calling")


def prompt_cache(capacity_bytes: int) -> Any:
    """llama.cpp's RAM prompt cache, bounded to `capacity_bytes` of model state, for `Llama.set_cache`.

    Llama by itself reuses only the longest common prefix with the prompt it read last: with several
    conversations taking turns, each turn reads its whole prompt again. With this cache, each
    completion's state (the KV cache of its prompt and answer) is kept, least recently used first
    out, and a prompt that extends a kept state more than the live one starts from it; the layout
    of agents/prompt.py makes each turn's prompt extend the previous turn's.
    """
    from llama_cpp.llama_cache import LlamaRAMCache

    class PromptCache(LlamaRAMCache):
        def __setitem__(self, key: Any, value: Any) -> None:
            # A saved state also carries the logits of up to n_batch positions (n_batch × the
            # vocabulary in floats: ~100 MB for SmolLM2), uncounted against the capacity. Only
            # logprobs read them, and load_state re-evaluates at least one token before sampling,
            # so one row is kept (load_state broadcasts it over the rows it restores).
            value.scores = value.scores[-1:]
            super().__setitem__(key, value)

    return PromptCache(capacity_bytes)


def _tool_choice(choice: str | dict | None) -> str | dict | None:
    """Map LangChain's tool_choice spellings onto the OpenAI form llama.cpp understands."""
    if choice is None or isinstance(choice, dict):
        return choice
    if choice in ("auto", "none"):
        return choice
    if choice in ("any", "required"):
        # llama.cpp's chatml-function-calling has no "required"; "auto" is the closest it offers.
        return "auto"
    return {"type": "function", "function": {"name": choice}}


def _usage(raw: dict | None) -> UsageMetadata | None:
    if not raw:
        return None
    return UsageMetadata(
        input_tokens=raw.get("prompt_tokens", 0),
        output_tokens=raw.get("completion_tokens", 0),
        total_tokens=raw.get("total_tokens", 0),
    )


class LlamaCppChatModel(BaseChatModel):
    """Chat completions from a llama_cpp.Llama; one generation at a time (llama.cpp is not re-entrant)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    llama: Any
    model_name: str = "embedded"
    max_tokens: int = 256
    temperature: float = 0.2
    # llama.cpp's own default; a prompt version may set another (llm/decoding.py).
    top_p: float = 0.95
    # Sequences that end the answer, besides the chat template's own end.
    stop: list[str] = Field(default_factory=list)
    # Small models loop on a sentence without it.
    repeat_penalty: float = 1.15
    lock: Any = Field(default_factory=threading.Lock, exclude=True)
    # The one thread that runs generations for `astream` (copies with other decoding settings share
    # it and the lock): the event loop never waits on the model, and a waiting turn holds no thread.
    worker: Any = Field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="llama"), exclude=True
    )

    @property
    def _llm_type(self) -> str:
        return "llama-cpp"

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable | BaseTool],
        *,
        tool_choice: str | dict | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        formatted = [convert_to_openai_tool(t) for t in tools]
        return self.bind(tools=formatted, tool_choice=_tool_choice(tool_choice or "auto"), **kwargs)

    def _request(self, messages: list[BaseMessage], stop: list[str] | None, **kwargs: Any) -> dict:
        request: dict[str, Any] = {
            "messages": convert_to_openai_messages(messages),
            "max_tokens": kwargs.pop("max_tokens", self.max_tokens),
            "temperature": kwargs.pop("temperature", self.temperature),
            "top_p": kwargs.pop("top_p", self.top_p),
            "stop": [*(stop or []), *self.stop] or None,
            "repeat_penalty": kwargs.pop("repeat_penalty", self.repeat_penalty),
        }
        if kwargs.get("tools"):
            request["tools"] = kwargs["tools"]
            request["tool_choice"] = kwargs.get("tool_choice") or "auto"
        return request

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        request = self._request(messages, stop, **kwargs)
        with self.lock:
            if request.get("tools"):
                response = _function_calling_handler()(llama=self.llama, **request)
            else:
                response = self.llama.create_chat_completion(**request)
        choice = response["choices"][0]
        raw = choice["message"]
        tool_calls = []
        for call in raw.get("tool_calls") or []:
            tool_calls.append(
                {
                    "name": call["function"]["name"],
                    "args": parse_arguments(call["function"]["arguments"]),
                    "id": call_id(call.get("id")),
                }
            )
        message = AIMessage(
            content=raw.get("content") or "",
            tool_calls=tool_calls,
            usage_metadata=_usage(response.get("usage")),
            response_metadata={"finish_reason": choice.get("finish_reason")},
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        request = self._request(messages, stop, **kwargs)
        if request.get("tools"):
            # llama.cpp's constrained tool-call path does not stream reliably: answer in one piece.
            result = self._generate(messages, stop, run_manager, **kwargs)
            message = result.generations[0].message
            assert isinstance(message, AIMessage)
            whole = AIMessageChunk(
                content=message.content,
                tool_call_chunks=[
                    {"name": c["name"], "args": json.dumps(c["args"]), "id": c["id"], "index": i}
                    for i, c in enumerate(message.tool_calls)
                ],
                usage_metadata=message.usage_metadata,
                response_metadata=message.response_metadata,
            )
            yield ChatGenerationChunk(message=whole)
            return
        with self.lock:
            # llama.cpp's stream carries no usage: the prompt's tokens are counted as its chat handler
            # tokenizes the rendered prompt, the answer's with the model's tokenizer at the end.
            counted = _CountingLlama(self.llama)
            pieces: list[str] = []
            parts = type(self.llama).create_chat_completion(counted, **request, stream=True)
            for part in parts:
                choice = part["choices"][0]
                text = choice.get("delta", {}).get("content") or ""
                finish = choice.get("finish_reason")
                if not text and not finish:
                    continue
                pieces.append(text)
                chunk = ChatGenerationChunk(
                    message=AIMessageChunk(
                        content=text,
                        response_metadata={"finish_reason": finish} if finish else {},
                        usage_metadata=counted.usage("".join(pieces)) if finish else None,
                    )
                )
                if run_manager and text:
                    run_manager.on_llm_new_token(text, chunk=chunk)
                yield chunk

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        """`_stream` run whole on the model's own thread, its chunks handed to the event loop.

        LangChain's default `_astream` would run each `next()` in the loop's shared executor: turns
        waiting for the lock would fill that executor while the turn holding the lock waits for a
        thread to take its next token. A reader that stops (closed, cancelled) stops the generation
        at the next token, which releases the lock.
        """
        loop = asyncio.get_running_loop()
        chunks: asyncio.Queue[object] = asyncio.Queue()
        stopped = threading.Event()

        def hand(item: object) -> None:
            try:
                loop.call_soon_threadsafe(chunks.put_nowait, item)
            except RuntimeError:  # the loop is closed: nobody reads any more
                stopped.set()

        def produce() -> None:
            try:
                for chunk in self._stream(messages, stop, None, **kwargs):
                    if stopped.is_set():
                        break
                    hand(chunk)
            except BaseException as exc:  # handed to the reader
                hand(_Failed(exc))
            finally:
                hand(_END)

        loop.run_in_executor(self.worker, produce)
        try:
            while (item := await chunks.get()) is not _END:
                if isinstance(item, _Failed):
                    raise item.exc
                assert isinstance(item, ChatGenerationChunk)
                if run_manager and item.text:
                    await run_manager.on_llm_new_token(item.text, chunk=item)
                yield item
        finally:
            stopped.set()


class _CountingLlama:
    """The model as llama.cpp's chat handler sees it, counting the tokens of the prompt the handler
    renders from the messages (a handler tokenizes the whole rendered prompt once, then completes
    it); everything else is the model's own."""

    def __init__(self, llama: Any) -> None:
        self._llama = llama
        self.prompt_tokens: int | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._llama, name)

    def tokenize(self, text: bytes, *args: Any, **kwargs: Any) -> list[int]:
        tokens = self._llama.tokenize(text, *args, **kwargs)
        self.prompt_tokens = len(tokens)
        return tokens

    def usage(self, answer: str) -> UsageMetadata | None:
        """The step's usage: the prompt's tokens, and the answer's counted with the model's
        tokenizer (None when the handler tokenized no prompt: nothing to report)."""
        if self.prompt_tokens is None:
            return None
        output = (
            len(self._llama.tokenize(answer.encode("utf-8"), add_bos=False, special=True)) if answer else 0
        )
        return UsageMetadata(
            input_tokens=self.prompt_tokens, output_tokens=output, total_tokens=self.prompt_tokens + output
        )


class _Failed:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


_END = object()

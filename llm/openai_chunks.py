"""Streamed chat completions as plain dicts: the OpenAI SDK's transport without its per-chunk models.

The SDK turns every streamed chunk into a `ChatCompletionChunk` through its slow, introspecting
`construct`, and LangChain turns it straight back into a dict (`chunk.model_dump()`). Under load that
round trip was the largest cost of a turn in the app's process (bench/README.md, serve_load): about
a third of the turn loop's time at 256 concurrent conversations. `DictChunkCompletions` stands in for
ChatOpenAI's `async_client` and sends streamed requests through the same `AsyncOpenAI` client
(`post` with `cast_to=object`), so connections, headers, timeouts, status errors (`BadRequestError`
for a context overflow, `RateLimitError`, …) and errors sent inside the stream are the SDK's own,
while the chunks stay the dicts that LangChain reads (`_convert_chunk_to_generation_chunk` takes
either). Requests that do not stream go to the SDK's `create` unchanged.
"""

from __future__ import annotations

from typing import Any

from openai import AsyncOpenAI, AsyncStream

# `create`'s keyword arguments that are request options rather than body fields.
_OPTIONS = {"extra_headers": "headers", "extra_query": "params", "timeout": "timeout"}


class DictChunkCompletions:
    """`client.chat.completions` whose streamed `create` yields each chunk as a plain dict."""

    def __init__(self, client: AsyncOpenAI) -> None:
        self._client = client
        self._completions = client.chat.completions

    def __getattr__(self, name: str) -> Any:
        # `with_raw_response` and the rest: the SDK's own.
        return getattr(self._completions, name)

    async def create(self, **params: Any) -> Any:
        if not params.get("stream"):
            return await self._completions.create(**params)
        options: dict[str, Any] = {key: params.pop(arg) for arg, key in _OPTIONS.items() if arg in params}
        extra_body = params.pop("extra_body", None) or {}
        body = {**params, **extra_body}
        # The options are the SDK's RequestOptions (a TypedDict), built from `create`'s arguments.
        return await self._client.post(  # type: ignore[call-overload]
            "/chat/completions",
            body=body,
            options=options,
            cast_to=object,
            stream=True,
            stream_cls=AsyncStream[object],
        )

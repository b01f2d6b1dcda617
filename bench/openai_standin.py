"""A stand-in for a GPU inference server: an OpenAI-compatible HTTP server in plain asyncio that
answers every chat request with a fixed number of tokens at a fixed rate, with no concurrency limit.

A GPU serving a small model with continuous batching behaves much like this up to its batch size:
each request streams at about the same rate whatever the number of requests in flight. With this
as the backend, whatever limits the throughput of the app in front of it is the app's own ceiling.

    .venv/bin/python bench/openai_standin.py --port 8001 --tokens 64 --rate 32

Serves `GET /v1/models` (with vLLM's `max_model_len`), `POST /v1/chat/completions` (streamed or
not; a request that names a tool in `tool_choice` gets a call of that tool, as vLLM with tool
flags does), vLLM's `POST /tokenize` (a whitespace count), and `GET /stats` (requests, in flight,
peak in flight, and streams the client closed before their end). `--echo` answers with the words
of the newest user message (where the app puts its excerpts), as a model that quotes its sources
does, so that the answer check keeps what it checks. Options make it answer like a vLLM started
without tool flags (`--no-tools`: "auto" tool choice refused, named still works) or answer an
over-long prompt with vLLM's context-length 400 (`--max-model-len`); `--vary` makes every answer
different (bench/serve_load.py uses it: the app keeps recent embeddings, and the same answer each
time would be checked from that memory). Standard library only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any


def word(i: int) -> str:
    """The i-th token of every answer: distinct words in sentences of eight, so that nothing repeats
    (the app stops a generation that repeats itself)."""
    return f"t{i}. " if i % 8 == 7 else f"t{i} "


# vLLM's wording (vllm/entrypoints/openai/serving_engine.py), which clients match on.
CONTEXT_ERROR = (
    "This model's maximum context length is {limit} tokens. However, you requested {asked} tokens "
    "({prompt} in the messages, {answer} in the completion). Please reduce the length of the "
    "messages or completion."
)
TOOLS_OFF_ERROR = '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set'


@dataclass
class StandIn:
    tokens: int = 64
    rate: float = 32.0
    model: str = "standin"
    max_model_len: int = 8192
    tools: bool = True
    # Whether /v1/models says `max_model_len` (vLLM does; most other servers don't).
    advertise_len: bool = True
    requests: int = 0
    in_flight: int = 0
    peak_in_flight: int = 0
    # Streams whose client went away before the answer's end (the client cancelled the generation).
    closed_early: int = 0
    # Answer with the newest user message's own words (where the app puts the retrieved excerpts),
    # as a model that quotes its sources does, instead of the distinct words t0 t1 …
    echo: bool = False
    # Number each answer's words on from the last answer's (t64 t65 …), so that no two answers are
    # alike, as a sampled model's are not; the default answers every request with t0 t1 ….
    vary: bool = False
    words_sent: int = 0


def count_tokens(text: str) -> int:
    return len(text.split())


def echoed(body: dict[str, Any]) -> list[str]:
    """The newest user message's words, each with its trailing space (empty: no such message)."""
    users = [m for m in body.get("messages") or [] if m.get("role") == "user"]
    content = users[-1].get("content") if users else ""
    if isinstance(content, list):
        content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return [f"{w} " for w in str(content or "").split()]


def prompt_tokens(body: dict[str, Any]) -> int:
    total = 0
    for message in body.get("messages") or []:
        content = message.get("content")
        if isinstance(content, list):
            content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
        total += count_tokens(str(content or "")) + 4
    return total


def _json_response(status: int, body: dict[str, Any]) -> bytes:
    payload = json.dumps(body).encode()
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}.get(status, "Error")
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(payload)}\r\nconnection: keep-alive\r\n\r\n"
    )
    return head.encode() + payload


def _error(status: int, message: str) -> bytes:
    return _json_response(
        status, {"object": "error", "message": message, "type": "BadRequestError", "code": status}
    )


def _chunk(model: str, delta: dict[str, Any], finish: str | None = None, usage: dict | None = None) -> bytes:
    body: dict[str, Any] = {
        "id": "chatcmpl-standin",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}] if usage is None else [],
    }
    if usage is not None:
        body["usage"] = usage
    data = b"data: " + json.dumps(body).encode() + b"\n\n"
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


class Handler:
    def __init__(self, standin: StandIn) -> None:
        self.s = standin

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {
                    k.strip().lower(): v.strip()
                    for k, v in (ln.split(":", 1) for ln in lines[1:] if ":" in ln)
                }
                length = int(headers.get("content-length") or 0)
                raw = await reader.readexactly(length) if length else b""
                await self.answer(method, path.split("?")[0], raw, writer)
                if headers.get("connection", "").lower() == "close":
                    break
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()

    async def answer(self, method: str, path: str, raw: bytes, writer: asyncio.StreamWriter) -> None:
        s = self.s
        if method == "GET" and path in ("/v1/models", "/models"):
            model: dict[str, Any] = {"id": s.model, "object": "model", "owned_by": "standin"}
            if s.advertise_len:
                model["max_model_len"] = s.max_model_len
            writer.write(_json_response(200, {"object": "list", "data": [model]}))
        elif method == "GET" and path == "/stats":
            stats = {k: getattr(s, k) for k in ("requests", "in_flight", "peak_in_flight", "closed_early")}
            writer.write(_json_response(200, stats))
        elif method == "GET" and path == "/health":
            writer.write(_json_response(200, {}))
        elif method == "POST" and path == "/tokenize":
            body = json.loads(raw or b"{}")
            count = count_tokens(str(body.get("prompt", "")))
            writer.write(
                _json_response(200, {"count": count, "max_model_len": s.max_model_len, "tokens": []})
            )
        elif method == "POST" and path in ("/v1/chat/completions", "/chat/completions"):
            await self.chat(json.loads(raw or b"{}"), writer)
        else:
            writer.write(_error(404, f"no route {method} {path}"))
        await writer.drain()

    async def chat(self, body: dict[str, Any], writer: asyncio.StreamWriter) -> None:
        s = self.s
        s.requests += 1
        answer = int(body.get("max_tokens") or body.get("max_completion_tokens") or s.tokens)
        answer = min(answer, s.tokens)
        prompt = prompt_tokens(body)
        if prompt + answer > s.max_model_len:
            text = CONTEXT_ERROR.format(
                limit=s.max_model_len, asked=prompt + answer, prompt=prompt, answer=answer
            )
            writer.write(_error(400, text))
            return
        choice = body.get("tool_choice")
        named = choice.get("function", {}).get("name") if isinstance(choice, dict) else None
        # As vLLM: a named tool_choice works on any server (guided decoding); "auto" needs the flags.
        if body.get("tools") and not s.tools and choice in (None, "auto"):
            writer.write(_error(400, TOOLS_OFF_ERROR))
            return
        usage = {"prompt_tokens": prompt, "completion_tokens": answer, "total_tokens": prompt + answer}
        first = s.words_sent if s.vary else 0
        s.words_sent += answer
        words = (echoed(body) if s.echo else []) or [word(first + i) for i in range(answer)]

        def token(i: int) -> str:
            return words[i % len(words)]

        if not body.get("stream"):
            await asyncio.sleep(answer / s.rate)
            message: dict[str, Any] = {"role": "assistant", "content": "".join(map(token, range(answer)))}
            if named:
                message = {"role": "assistant", "content": None, "tool_calls": [_tool_call(named)]}
            choices = [{"index": 0, "message": message, "finish_reason": "tool_calls" if named else "stop"}]
            writer.write(
                _json_response(
                    200,
                    {
                        "id": "chatcmpl-standin",
                        "object": "chat.completion",
                        "model": s.model,
                        "choices": choices,
                        "usage": usage,
                    },
                )
            )
            return
        s.in_flight += 1
        s.peak_in_flight = max(s.peak_in_flight, s.in_flight)
        try:
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                b"transfer-encoding: chunked\r\nconnection: keep-alive\r\n\r\n"
            )
            started = time.perf_counter()
            if named:
                await asyncio.sleep(1 / s.rate)
                call = _tool_call(named)
                delta = {"role": "assistant", "tool_calls": [{"index": 0, **call}]}
                writer.write(_chunk(s.model, delta))
                writer.write(_chunk(s.model, {}, "tool_calls"))
            else:
                for i in range(answer):
                    # Sleep until this token is due, so the rate holds however busy the loop is.
                    delay = started + (i + 1) / s.rate - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    delta = {"content": token(i)} if i else {"role": "assistant", "content": token(i)}
                    writer.write(_chunk(s.model, delta))
                    await writer.drain()
                writer.write(_chunk(s.model, {}, "stop"))
            if (body.get("stream_options") or {}).get("include_usage"):
                writer.write(_chunk(s.model, {}, usage=usage))
            done = b"data: [DONE]\n\n"
            writer.write(f"{len(done):x}\r\n".encode() + done + b"\r\n0\r\n\r\n")
        except ConnectionError:
            s.closed_early += 1
            raise
        finally:
            s.in_flight -= 1


def _tool_call(name: str) -> dict[str, Any]:
    return {"id": "call_standin", "type": "function", "function": {"name": name, "arguments": "{}"}}


async def serve(standin: StandIn, host: str, port: int, ready: asyncio.Event | None = None) -> None:
    server = await asyncio.start_server(Handler(standin).serve, host, port, backlog=4096)
    if ready is not None:
        ready.set()
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--tokens", type=int, default=64, help="answer tokens per request (at most)")
    parser.add_argument("--rate", type=float, default=32.0, help="tokens per second per request")
    parser.add_argument("--model", default="standin")
    parser.add_argument("--max-model-len", type=int, default=8192)
    parser.add_argument(
        "--no-tools", action="store_true", help="answer tool requests as vLLM without tool flags"
    )
    parser.add_argument("--hide-max-model-len", action="store_true", help="enforce it, but not in /v1/models")
    parser.add_argument("--echo", action="store_true", help="answer with the newest user message's words")
    parser.add_argument("--vary", action="store_true", help="no two answers alike (numbered on)")
    args = parser.parse_args()
    standin = StandIn(
        tokens=args.tokens,
        rate=args.rate,
        model=args.model,
        max_model_len=args.max_model_len,
        tools=not args.no_tools,
        advertise_len=not args.hide_max_model_len,
        echo=args.echo,
        vary=args.vary,
    )
    print(f"OpenAI-compatible stand-in on http://{args.host}:{args.port}/v1", flush=True)
    try:
        asyncio.run(serve(standin, args.host, args.port))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()

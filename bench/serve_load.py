"""Concurrent conversations through the app's REST API against an OpenAI-compatible server, and the
same requests sent to that server directly, in one run: how much of the backend's throughput the
app passes on.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/serve_load.py                       # the stand-in
    HF_HUB_OFFLINE=1 .venv/bin/python bench/serve_load.py --levels 1,16 --turns 2
    HF_HUB_OFFLINE=1 .venv/bin/python bench/serve_load.py --backend-url http://127.0.0.1:8000/v1 \\
        --model HuggingFaceTB/SmolLM2-135M-Instruct                                # a real vLLM

Without `--backend-url` the backend is bench/openai_standin.py (a fixed number of tokens at a fixed
rate per request, no concurrency limit, no two answers alike), started here. The app is the real `python app.py` on
loopback (demo help center, its own temporary data dir, `FRONTDESK_LLM_BACKEND=openai`). For each
level N: N conversations of `--turns` turns each, first against the backend directly (a system
prompt about the size of the app's, the question, the same answer length), then through
`POST /api/v1/chat`. Each level is bounded by `--level-timeout` seconds; requests still unfinished
then are counted and cancelled. The app's own overhead per turn (turn − model − retrieval) is read
from each reply's stored trace in the app's database; the app process's CPU time per finished turn
(all threads, from /proc) says what a turn costs the app whatever else runs on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from _common import ROOT, machine, percentile, quiet, table

from tests.utils.server import free_port, running, running_app_process

QUESTIONS = [
    json.loads(line)["question"]
    for line in (ROOT / "bench" / "data" / "retrieval_questions.jsonl").read_text().splitlines()
    if line.strip() and json.loads(line).get("document")
]
# About the size of the app's system prompt with its excerpts (bench/README.md: ~650 tokens).
RAW_SYSTEM = "You are a helpful support assistant for Northwind Goods. " + "Policy text excerpt. " * 160


@dataclass
class Level:
    done: list[float] = field(default_factory=list)  # latency of each finished request, seconds
    tokens: int = 0
    failed: int = 0
    unfinished: int = 0
    wall_s: float = 0.0
    sessions: list[str] = field(default_factory=list)
    # Why requests failed: HTTP status and error code, or the exception's name.
    errors: Counter[str] = field(default_factory=Counter)


async def _bounded(level: Level, conversations: list[Any], timeout: float) -> None:
    started = time.perf_counter()
    tasks = [asyncio.create_task(c) for c in conversations]
    _, pending = await asyncio.wait(tasks, timeout=timeout)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    level.wall_s = time.perf_counter() - started


async def run_raw(
    client: httpx.AsyncClient, url: str, model: str, n: int, turns: int, tokens: int, timeout: float
) -> Level:
    level = Level()

    async def conversation(i: int) -> None:
        for t in range(turns):
            body = {
                "model": model,
                "stream": True,
                "max_tokens": tokens,
                "stream_options": {"include_usage": True},
                "messages": [
                    {"role": "system", "content": RAW_SYSTEM},
                    {"role": "user", "content": QUESTIONS[(i * turns + t) % len(QUESTIONS)]},
                ],
            }
            started = time.perf_counter()
            usage = 0
            try:
                async with client.stream("POST", f"{url}/chat/completions", json=body) as response:
                    response.raise_for_status()
                    async for line in response.aiter_lines():
                        if line.startswith("data: {") and '"usage"' in line:
                            usage = (json.loads(line[6:]).get("usage") or {}).get(
                                "completion_tokens", usage
                            ) or usage
            except httpx.HTTPError:
                level.failed += 1
                continue
            level.done.append(time.perf_counter() - started)
            level.tokens += usage

    await _bounded(level, [conversation(i) for i in range(n)], timeout)
    level.unfinished = n * turns - len(level.done) - level.failed
    return level


async def run_app(client: httpx.AsyncClient, base: str, n: int, turns: int, timeout: float) -> Level:
    level = Level()

    async def conversation(i: int) -> None:
        session: str | None = None
        for t in range(turns):
            body = {"message": QUESTIONS[(i * turns + t) % len(QUESTIONS)], "session_id": session}
            started = time.perf_counter()
            try:
                response = await client.post(f"{base}/api/v1/chat", json=body)
            except httpx.HTTPError as exc:
                level.failed += 1
                level.errors[type(exc).__name__] += 1
                continue
            if response.status_code != 200:
                level.failed += 1
                try:
                    body = response.json()
                except ValueError:
                    body = {}
                level.errors[f"{response.status_code} {(body.get('error') or {}).get('code', '')}"] += 1
                session = session or body.get("session_id")
                continue
            level.done.append(time.perf_counter() - started)
            if session is None:
                session = response.json()["session_id"]
                level.sessions.append(session)

    await _bounded(level, [conversation(i) for i in range(n)], timeout)
    level.unfinished = n * turns - len(level.done) - level.failed
    return level


def app_traces(database_url: str, sessions: list[str]) -> list[dict[str, Any]]:
    """The stored trace of every reply in `sessions` (read from the app's database)."""
    from memory.store import ConversationStore
    from storage import make_engine

    store = ConversationStore(make_engine(database_url))
    traces = []
    for session in sessions:
        for message in store.messages(session):
            if message.role == "assistant" and message.trace and message.trace.get("total_ms"):
                traces.append(message.trace)
    return traces


def overhead(trace: dict[str, Any]) -> tuple[float, float, float, float, int]:
    model = sum(s.get("model_ms", 0.0) for s in trace.get("steps", []))
    retrieval = (trace.get("retrieval") or {}).get("ms", 0.0)
    out = sum(int(s.get("output_tokens", 0)) for s in trace.get("steps", []))
    return trace["total_ms"], model, retrieval, trace["total_ms"] - model - retrieval, out


def _app_log(tmp: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in tmp.glob("app-*.log"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", default="1,16,64,256", help="concurrent conversations per level")
    parser.add_argument("--turns", type=int, default=2, help="turns per conversation")
    parser.add_argument("--tokens", type=int, default=64, help="answer tokens per request")
    parser.add_argument("--rate", type=float, default=32.0, help="stand-in: tokens per second per request")
    parser.add_argument("--level-timeout", type=float, default=60.0, help="seconds per level, per side")
    parser.add_argument("--backend-url", help="an OpenAI-compatible /v1 URL instead of the stand-in")
    parser.add_argument("--model", default="standin")
    parser.add_argument(
        "--database-url", help="the app's database (default: SQLite in its temporary data dir)"
    )
    parser.add_argument(
        "--answer-mode",
        default="generative",
        help="FRONTDESK_ANSWER_MODE of the app (checked embeds replies)",
    )
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",") if x.strip()]
    if max(levels) > 1024 or args.turns > 20:
        parser.error("at most 1024 conversations of 20 turns")
    quiet()
    print(f"# serve_load — {machine()}")
    with tempfile.TemporaryDirectory(prefix="serve-load-") as tmp:
        asyncio.run(_run(args, levels, Path(tmp)))


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads (Linux: /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _run(args: argparse.Namespace, levels: list[int], tmp: Path) -> None:
    from contextlib import ExitStack

    with ExitStack() as stack:
        url = args.backend_url
        if url is None:
            port = free_port()
            stack.enter_context(
                running(
                    [
                        sys.executable,
                        "bench/openai_standin.py",
                        "--port",
                        str(port),
                        "--tokens",
                        str(args.tokens),
                        "--rate",
                        str(args.rate),
                        "--model",
                        args.model,
                        "--vary",
                    ],
                    ready_url=f"http://127.0.0.1:{port}/v1/models",
                    log=tmp / "standin.log",
                )
            )
            url = f"http://127.0.0.1:{port}/v1"
            print(
                f"# backend: bench/openai_standin.py ({args.tokens} tokens at {args.rate:g} tokens/s per request, no two answers alike, "
                "no concurrency limit)"
            )
        else:
            print(f"# backend: {url} ({args.model})")
        data_dir = tmp / "data"
        data_dir.mkdir()
        env = {
            "FRONTDESK_LLM_BACKEND": "openai",
            "FRONTDESK_LLM_BASE_URL": url,
            "FRONTDESK_LLM_MODEL": args.model,
            "FRONTDESK_ANSWER_TOKENS": str(args.tokens),
            "FRONTDESK_ANSWER_MODE": args.answer_mode,
            # Every conversation of the bench comes from one loopback address: its per-address
            # limit (300/minute) would answer most of the 256 level with 429s.
            "FRONTDESK_RATE_LIMIT_PER_IP": "100000/minute",
            "TQDM_DISABLE": "1",
        }
        if args.database_url:
            env["FRONTDESK_DATABASE_URL"] = args.database_url
        started = time.perf_counter()
        base, process = stack.enter_context(running_app_process(data_dir, env=env))
        print(
            f"# app: python app.py on {base}, answer mode {args.answer_mode}, started in "
            f"{time.perf_counter() - started:.1f} s; {args.turns} turns per conversation, "
            f"{args.level_timeout:g} s per level and side"
        )
        database_url = args.database_url or f"sqlite:///{(data_dir / 'frontdesk.db').resolve()}"
        limits = httpx.Limits(max_connections=2048, max_keepalive_connections=2048)
        timeout = httpx.Timeout(args.level_timeout + 30)
        rows, cost_rows = [], []
        async with httpx.AsyncClient(limits=limits, timeout=timeout) as client:
            # One unmeasured turn each way: connections, caches and lazy loads are warm.
            await run_raw(client, url, args.model, 1, 1, args.tokens, args.level_timeout)
            await run_app(client, base, 1, 1, args.level_timeout)
            for n in levels:
                raw = await run_raw(client, url, args.model, n, args.turns, args.tokens, args.level_timeout)
                cpu_before = cpu_seconds(process.pid)
                app = await run_app(client, base, n, args.turns, args.level_timeout)
                cpu_ms = 1000 * (cpu_seconds(process.pid) - cpu_before) / max(len(app.done), 1)
                traces = [overhead(t) for t in app_traces(database_url, app.sessions)]
                app.tokens = sum(t[4] for t in traces)
                raw_rps = len(raw.done) / raw.wall_s if raw.wall_s else 0.0
                app_rps = len(app.done) / app.wall_s if app.wall_s else 0.0
                rows.append(
                    [
                        n,
                        len(raw.done),
                        raw_rps,
                        raw.tokens / raw.wall_s if raw.wall_s else 0.0,
                        1000 * percentile(raw.done, 50),
                        1000 * percentile(raw.done, 95),
                        len(app.done),
                        app.failed,
                        app.unfinished,
                        app_rps,
                        app.tokens / app.wall_s if app.wall_s else 0.0,
                        1000 * percentile(app.done, 50),
                        1000 * percentile(app.done, 95),
                        f"{app_rps / raw_rps:.2f}" if raw_rps else "-",
                    ]
                )
                cost_rows.append(
                    [
                        n,
                        len(traces),
                        percentile([t[0] for t in traces], 50),
                        percentile([t[1] for t in traces], 50),
                        percentile([t[2] for t in traces], 50),
                        percentile([t[2] for t in traces], 95),
                        percentile([t[3] for t in traces], 50),
                        percentile([t[3] for t in traces], 95),
                        cpu_ms,
                    ]
                )
                failures = ", ".join(f"{k}: {v}" for k, v in app.errors.most_common()) or "none"
                print(
                    f"# level {n} done ({raw.wall_s:.1f} s raw, {app.wall_s:.1f} s app; app failures: {failures})",
                    flush=True,
                )
        print()
        print(
            table(
                [
                    "conversations",
                    "raw done",
                    "raw req/s",
                    "raw tok/s",
                    "raw p50 ms",
                    "raw p95 ms",
                    "app done",
                    "app failed",
                    "app unfinished",
                    "app req/s",
                    "app tok/s",
                    "app p50 ms",
                    "app p95 ms",
                    "app/raw",
                ],
                rows,
                title="Throughput: the backend directly (raw) and through POST /api/v1/chat (app)",
            )
        )
        print()
        print(
            table(
                [
                    "conversations",
                    "traces",
                    "turn p50",
                    "model p50",
                    "retrieval p50",
                    "retrieval p95",
                    "overhead p50",
                    "overhead p95",
                    "app CPU/turn",
                ],
                cost_rows,
                title="Inside the app's turns (ms, from the stored traces): overhead = turn − model − retrieval; "
                "app CPU/turn = the app process's CPU time (all threads) over the level / finished turns",
            )
        )
        error_line = re.compile(r"(ERROR|[\w.]+(Error|Exception):)|\S+ \S+ ERROR ")
        errors = [ln for ln in _app_log(tmp).splitlines() if error_line.match(ln)]
        if errors:
            print(f"\n# the app logged {len(errors)} error lines; the last: {errors[-1][:300]}")
        print(f"\n# end: {machine()}")


if __name__ == "__main__":
    os.chdir(ROOT)
    main()

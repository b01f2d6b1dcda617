"""Time to first token by turn number in long sessions: does the model re-read the whole prompt?

Builds the services exactly as `python app.py` does (app.build_services: SQLite and embedded Chroma
in a temporary data dir, the demo help center seeded, the embedded SmolLM2 via llama.cpp unless
FRONTDESK_LLM_BACKEND says otherwise) and runs several long sessions through SupportAgent (accept +
respond, consuming the event stream like the REST API does). By default the sessions take turns
(turn 1 of every session, then turn 2 of every session, …), as customers chatting at the same time
do; `--sequential` finishes each session before the next starts.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/prompt_cache.py                 # 2 sessions × 10 turns
    HF_HUB_OFFLINE=1 .venv/bin/python bench/prompt_cache.py --sequential --sessions 2

Per turn: the prompt's tokens as the app counts them (trace.window: the system prompt, the excerpts
and the kept history), and from llama.cpp's own counters (llama_perf_context, reset before each
turn) the prompt tokens it actually evaluated (the rest came from its KV cache or its prompt cache)
and the time that took; time to first token is wall clock from `accept` to the first streamed token.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import fmt, machine, percentile, quiet, table

# In-scope questions of a long conversation with one customer: shipping, returns, warranty,
# payments, orders, account. Session k starts k × 7 questions further on (wrapping around).
QUESTIONS = [
    "hi, how long does standard shipping take?",
    "and how much is it? is there free shipping",
    "what if i'm in canada, do you ship to vancouver?",
    "will i have to pay duties on that",
    "ok thanks. where can i track my order once it ships",
    "i want to return a lamp i bought 2 weeks ago",
    "how do i print the return label",
    "is the return shipping free?",
    "how long until i get my refund",
    "i paid with paypal if that matters",
    "my new blender stopped working after a month",
    "is that covered by the warranty",
    "where do i find the serial number",
    "can i get a replacement instead of a repair",
    "do you accept apple pay",
    "can i split the payment into installments",
    "my card got declined, why",
    "can i use a promo code together with a gift card",
    "do gift cards expire?",
    "i just placed an order, can i still cancel it",
    "can i change the shipping address instead",
    "the box arrived and one mug is broken",
    "do i need to send the broken mug back",
    "how do i reset my password",
    "my account is locked after too many tries",
    "how do the rewards points work",
    "what's your phone number and hours",
]


def perf(llama: Any) -> tuple[int, float] | None:
    """(prompt tokens evaluated, ms) since the last reset, from llama.cpp's context counters."""
    if llama is None:
        return None
    import llama_cpp

    data = llama_cpp.llama_perf_context(llama._ctx.ctx)
    return int(data.n_p_eval), float(data.t_p_eval_ms)


def reset_perf(llama: Any) -> None:
    if llama is not None:
        import llama_cpp

        llama_cpp.llama_perf_context_reset(llama._ctx.ctx)


def run_turn(agent: Any, store: Any, llama: Any, question: str, session_id: str | None) -> dict:
    reset_perf(llama)
    t0 = time.perf_counter()
    stored = agent.accept(question, session_id=session_id)
    first = None
    for event in agent.respond(stored.session_id):
        if event.kind == "token" and event.text and first is None:
            first = time.perf_counter()
    t_end = time.perf_counter()
    history = store.messages(stored.session_id)
    trace = history[-1].trace or {}
    window = trace.get("window") or {}
    rows = {str(m.id): m for m in history}
    kept = [rows[str(i)] for i in window.get("kept_ids", []) if str(i) in rows]
    steps = trace.get("steps", [])
    evaluated = perf(llama)
    return {
        "session_id": stored.session_id,
        "answered": bool(steps),
        # What the app counts: the system prompt (on main with the excerpts inside it), this
        # turn's excerpts where they are a part of their own, and the kept history.
        "prompt_tokens": window.get("system_tokens", 0)
        + window.get("excerpt_tokens", 0)
        + sum(m.token_count for m in kept)
        if window
        else None,
        "kept": window.get("messages_kept"),
        "evaluated": evaluated[0] if evaluated and steps else None,
        "prompt_eval_ms": evaluated[1] if evaluated and steps else None,
        "first_token_ms": (first - t0) * 1000 if first and steps else None,
        "model_ms": sum(s.get("model_ms", 0.0) for s in steps) if steps else None,
        "turn_ms": (t_end - t0) * 1000,
    }


def mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=2)
    parser.add_argument("--turns", type=int, default=10, help="turns per session (default 10)")
    parser.add_argument("--sequential", action="store_true", help="one session after the other")
    parser.add_argument(
        "--answer-tokens", type=int, default=None, help="FRONTDESK_ANSWER_TOKENS (default: settings, 256)"
    )
    args = parser.parse_args()
    quiet()

    import app
    from settings import Settings

    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="frontdesk-bench-") as tmp:
        overrides: dict[str, Any] = {
            "data_dir": Path(tmp) / "data",
            "admin_password": "bench-admin",
            "demo_data": True,
        }
        if args.answer_tokens is not None:
            overrides["answer_tokens"] = args.answer_tokens
        settings = Settings(**overrides)
        print(f"# prompt cache benchmark — {machine()}")
        services = app.build_services(settings)
        agent, store = services.agent, services.store
        llama = getattr(agent.backend.model, "llama", None)
        print(
            f"# {services.model_description}; answer_tokens={settings.answer_tokens}, "
            f"context_tokens={settings.context_tokens}, embedded_threads={settings.embedded_threads or 'all'}, "
            f"prompt cache {settings.embedded_prompt_cache_mb} MB; {args.sessions} sessions × {args.turns} turns, "
            f"{'one after the other' if args.sequential else 'taking turns'}\n"
        )
        # One unmeasured turn first: the model's first call pays for loading its weights.
        run_turn(agent, store, llama, "hello, what can you help me with?", None)

        sessions: list[str | None] = [None] * args.sessions
        order = (
            [(s, t) for s in range(args.sessions) for t in range(args.turns)]
            if args.sequential
            else [(s, t) for t in range(args.turns) for s in range(args.sessions)]
        )
        for s, t in order:
            question = QUESTIONS[(s * 7 + t) % len(QUESTIONS)]
            row = run_turn(agent, store, llama, question, sessions[s])
            sessions[s] = row["session_id"]
            rows.append({**row, "turn": t + 1, "session": s})
            # As it goes, so that a run stopped early still says something.
            print(
                f"session {s + 1} turn {t + 1:2d}: prompt {fmt(row['prompt_tokens'], 0)} tokens, "
                f"evaluated {fmt(row['evaluated'], 0)} in {fmt(row['prompt_eval_ms'], 0)} ms, "
                f"first token {fmt(row['first_token_ms'], 0)} ms, turn {row['turn_ms']:,.0f} ms",
                flush=True,
            )
        print()

    body = []
    for turn in range(1, args.turns + 1):
        these = [r for r in rows if r["turn"] == turn and r["answered"]]

        def col(key: str, source: list[dict] = these) -> list[float]:
            return [r[key] for r in source if r[key] is not None]

        body.append(
            [
                str(turn),
                len(these),
                mean(col("prompt_tokens")),
                mean(col("evaluated")),
                mean(col("prompt_eval_ms")),
                percentile(col("first_token_ms"), 50),
                mean(col("first_token_ms")),
                mean(col("model_ms")),
            ]
        )
    later = [r for r in rows if r["turn"] >= 5 and r["answered"]]
    body.append(
        [
            "turns 5+",
            len(later),
            mean([r["prompt_tokens"] for r in later if r["prompt_tokens"] is not None]),
            mean([r["evaluated"] for r in later if r["evaluated"] is not None]),
            mean([r["prompt_eval_ms"] for r in later if r["prompt_eval_ms"] is not None]),
            percentile([r["first_token_ms"] for r in later if r["first_token_ms"] is not None], 50),
            mean([r["first_token_ms"] for r in later if r["first_token_ms"] is not None]),
            mean([r["model_ms"] for r in later if r["model_ms"] is not None]),
        ]
    )
    print(
        table(
            [
                "turn",
                "answered",
                "prompt tokens",
                "evaluated",
                "prompt eval ms",
                "first token p50 ms",
                "first token mean ms",
                "model ms",
            ],
            body,
            title="Per turn number (means over the sessions' answered turns; refused turns left out)",
        )
    )
    print(f"\n({machine().split(', ')[-1]} at the end)")


if __name__ == "__main__":
    main()

"""Where a turn's time goes: model vs retrieval vs everything else, on the real services.

Builds the services exactly as `python app.py` does (app.build_services: SQLite and embedded Chroma
in a temporary data dir, the demo help center seeded, the embedded SmolLM2 via llama.cpp unless
FRONTDESK_LLM_BACKEND says otherwise), then runs customer turns through SupportAgent
(accept + respond, consuming the event stream like the REST API does) in a few sessions.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/turn_overhead.py
    HF_HUB_OFFLINE=1 .venv/bin/python bench/turn_overhead.py --turns 60 --answer-tokens 128
    HF_HUB_OFFLINE=1 .venv/bin/python bench/turn_overhead.py --tools --turns 10   # tool turns

Per turn, read from the stored assistant message's trace (ConversationStore.messages(session)[-1]):
model time = sum of trace.steps[*].model_ms, retrieval = trace.retrieval.ms; app overhead = the
whole turn (wall clock, accept through the stored reply) − model − retrieval. Output tokens come from
the trace's usage where the backend reports it, else backend.count_text(reply).
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import tempfile
import time
from pathlib import Path

from _common import machine, percentile, quiet, table

# Demo-style sessions: an opening question and follow-ups, as a customer would type them. A few
# questions are out of scope on purpose: those turns take the "nothing relevant" path (no model call).
SESSIONS = [
    [
        "hi, how long does standard shipping take?",
        "and how much is it? is there free shipping",
        "what if i'm in canada, do you ship to vancouver?",
        "will i have to pay duties on that",
        "ok thanks. where can i track my order once it ships",
    ],
    [
        "i want to return a lamp i bought 2 weeks ago",
        "how do i print the return label",
        "is the return shipping free?",
        "how long until i get my refund",
        "i paid with paypal if that matters",
    ],
    [
        "my new blender stopped working after a month",
        "is that covered by the warranty",
        "where do i find the serial number",
        "can i get a replacement instead of a repair",
        "what's the weather like in seattle today",
    ],
    [
        "do you accept apple pay",
        "can i split the payment into installments",
        "my card got declined, why",
        "can i use a promo code together with a gift card",
        "do gift cards expire?",
    ],
    [
        "i just placed an order, can i still cancel it",
        "can i change the shipping address instead",
        "the box arrived and one mug is broken",
        "do i need to send the broken mug back",
        "can you recommend a good pasta recipe",
    ],
    [
        "how do i reset my password",
        "my account is locked after too many tries",
        "how do i delete my account and my data",
        "how do the rewards points work",
        "what's your phone number and hours",
    ],
]

# Tool turns (issue 8): routed to a tool by rule, the model writes the answer from its result.
# Each session starts fresh, so a verified customer, an unverified one and a person request all occur.
TOOL_SESSIONS = [
    [
        "Where is my order NW-10042? I'm maria.lopez@example.com",
        "what is 3 × 19.99 minus 10 %?",
        "can you check NW-10042 again?",
        "how much is 120/4 plus 7",
        "I want to talk to a human please",
    ],
    [
        "where is order NW-10017",
        "what's 15% of 80",
        "my kettle arrived cracked",
        "how much is 2 x 49.99",
        "can I speak to a real person",
    ],
]


def summarize(name: str, values: list[float], unit_digits: int = 1) -> list:
    if not values:
        return [name, 0, "-", "-", "-", "-", "-"]

    def r(x: float) -> float | int:
        return round(x) if unit_digits == 0 else round(x, unit_digits)

    return [
        name,
        len(values),
        r(percentile(values, 50)),
        r(percentile(values, 95)),
        r(statistics.fmean(values)),
        r(min(values)),
        r(max(values)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--turns", type=int, default=30, help="measured turns (default 30)")
    parser.add_argument(
        "--answer-tokens", type=int, default=None, help="FRONTDESK_ANSWER_TOKENS (default: settings, 256)"
    )
    parser.add_argument("--turns-per-session", type=int, default=5)
    parser.add_argument(
        "--tools", action="store_true", help="tool turns (order lookup, calculator, ticket, handoff)"
    )
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured turns first (model warm-up)")
    parser.add_argument("--show-replies", action="store_true", help="print each turn's timings and reply")
    args = parser.parse_args()
    quiet()

    import app
    from settings import Settings

    with tempfile.TemporaryDirectory(prefix="frontdesk-bench-") as tmp:
        overrides = {"data_dir": Path(tmp) / "data", "admin_password": "bench-admin", "demo_data": True}
        if args.answer_tokens is not None:
            overrides["answer_tokens"] = args.answer_tokens
        settings = Settings(**overrides)
        print(f"# turn overhead benchmark — {machine()}")
        started = time.perf_counter()
        services = app.build_services(settings)
        build_s = time.perf_counter() - started
        agent, store, backend = services.agent, services.store, services.agent.backend
        print(
            f"# {services.model_description}; answer_tokens={settings.answer_tokens}, "
            f"context_tokens={settings.context_tokens}, retrieval k={settings.retrieval_k} "
            f"threshold={settings.retrieval_threshold}; {services.knowledge.chunk_count()} chunks; "
            f"build_services {build_s:.1f} s\n"
        )

        sessions = TOOL_SESSIONS if args.tools else SESSIONS
        questions = itertools.cycle(q for s in sessions for q in s[: args.turns_per_session])
        rows: list[dict] = []
        session_id: str | None = None
        for n in range(args.warmup + args.turns):
            if n % args.turns_per_session == 0:
                session_id = None
            question = next(questions)
            t0 = time.perf_counter()
            stored = agent.accept(question, session_id=session_id)
            t_accepted = time.perf_counter()
            session_id = stored.session_id
            first = last = None
            token_events = 0
            result = None
            for event in agent.respond(session_id):
                now = time.perf_counter()
                if event.kind == "token" and event.text:
                    token_events += 1
                    first = first or now
                    last = now
                elif event.kind == "done":
                    result = event.result
            t_end = time.perf_counter()
            assert result is not None
            history = store.messages(session_id)
            trace = history[-1].trace or {}
            window = trace.get("window", {})
            kept = history[:-1][-window["messages_kept"] :] if window.get("messages_kept") else []
            # The prompt as the app counts it (system prompt with the chunks + the kept history).
            prompt_tokens = (
                window.get("system_tokens", 0) + sum(m.token_count for m in kept) if window else None
            )
            steps = trace.get("steps", [])
            model_ms = sum(s.get("model_ms", 0.0) for s in steps)
            out_tokens = sum(s.get("output_tokens", 0) for s in steps) or (
                backend.count_text(result.reply) if steps else 0
            )
            turn_ms = (t_end - t0) * 1000
            retrieval_ms = trace.get("retrieval", {}).get("ms", 0.0)
            row = {
                "tools": len(trace.get("tool_calls", [])),
                "question": question,
                "reply": result.reply,
                "answered": bool(steps),
                "turn_ms": turn_ms,
                "first_token_ms": ((first or t_end) - t0) * 1000,
                "model_ms": model_ms,
                "retrieval_ms": retrieval_ms,
                "overhead_ms": turn_ms - model_ms - retrieval_ms,
                "accept_ms": (t_accepted - t0) * 1000,
                "store_reply_ms": turn_ms - (t_accepted - t0) * 1000 - trace.get("total_ms", 0.0),
                "out_tokens": out_tokens,
                "tok_s": out_tokens / (model_ms / 1000) if model_ms else None,
                # Streaming rate after the first token: what the customer sees once text starts.
                "decode_tok_s": (token_events - 1) / (last - first)
                if first and last and last > first
                else None,
                "prefill_ms": ((first - t_accepted) * 1000 - retrieval_ms) if first and steps else None,
                "system_tokens": window.get("system_tokens"),
                "prompt_tokens": prompt_tokens,
                "chunks": len(trace.get("retrieval", {}).get("chunks", [])),
            }
            if row["prefill_ms"] and prompt_tokens:
                row["prefill_tok_s"] = prompt_tokens / (row["prefill_ms"] / 1000)
            else:
                row["prefill_tok_s"] = None
            if n >= args.warmup:
                rows.append(row)
            if args.show_replies:
                tag = "warm-up" if n < args.warmup else f"turn {n - args.warmup + 1}"
                print(
                    f"[{tag}] {turn_ms / 1000:.1f} s, model {model_ms / 1000:.1f} s, {out_tokens} tok, "
                    f"{row['chunks']} chunks: {question!r}\n    → {result.reply[:200]!r}"
                )

    answered = [r for r in rows if r["answered"]]
    refused = [r for r in rows if not r["answered"]]

    def col(key: str, source: list[dict] = answered) -> list[float]:
        return [r[key] for r in source if r[key] is not None]

    body = [
        summarize("turn (all turns)", col("turn_ms", rows), 0),
        summarize("turn (model answered)", col("turn_ms"), 0),
        summarize("turn (nothing relevant: no model call)", col("turn_ms", refused), 1),
        summarize("time to first token", col("first_token_ms"), 0),
        summarize("model (sum of steps' model_ms)", col("model_ms"), 0),
        summarize("  prompt eval ≈ first token − accept − retrieval", col("prefill_ms"), 0),
        summarize("retrieval (trace.retrieval.ms)", col("retrieval_ms", rows), 1),
        summarize("app overhead = turn − model − retrieval", col("overhead_ms", rows), 1),
        summarize("  accept: validate + commit user message", col("accept_ms", rows), 1),
        summarize("  store the reply + trace", col("store_reply_ms", rows), 1),
        summarize("  the rest (history, window, prompt, tools, stream)", rest(rows), 1),
    ]
    if args.tools:
        tool_rows = [r for r in rows if r["tools"]]
        body.append(summarize("turns that ran a tool: turn", col("turn_ms", tool_rows), 0))
        body.append(summarize("  their app overhead (incl. the tool)", col("overhead_ms", tool_rows), 1))
    print(
        table(
            ["milliseconds per turn", "n", "p50", "p95", "mean", "min", "max"],
            body,
            title=f"Turn timings ({len(rows)} turns, {len(answered)} answered by the model, {len(refused)} refused)",
        )
    )
    print()
    print(
        table(
            ["model throughput (answered turns)", "n", "p50", "p95", "mean", "min", "max"],
            [
                summarize("output tokens per turn", col("out_tokens"), 0),
                summarize("tokens/s = output tokens / model time", col("tok_s")),
                summarize("streaming tokens/s after the first token", col("decode_tok_s")),
                summarize("system prompt tokens (incl. retrieved chunks)", col("system_tokens"), 0),
                summarize("prompt tokens (system + kept history)", col("prompt_tokens"), 0),
                summarize("prompt eval tokens/s ≈ prompt tokens / prompt eval", col("prefill_tok_s")),
            ],
        )
    )
    share = sum(col("model_ms", rows)) / sum(col("turn_ms", rows)) if rows else 0
    print(f"\nmodel share of all turn time: {100 * share:.1f}%   ({machine().split(', ')[-1]} at the end)")


def rest(rows: list[dict]) -> list[float]:
    return [r["overhead_ms"] - r["accept_ms"] - r["store_reply_ms"] for r in rows]


if __name__ == "__main__":
    main()

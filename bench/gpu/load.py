"""Frontdesk over vLLM: the app's REST API (one or several replicas) against the same requests sent
straight to vLLM, at rising concurrency. Derived from the GPU kit's `load.py` (`../shared/gpu`).

    python3 bench/gpu/load.py --raw http://127.0.0.1:8000/v1 \\
        --app http://127.0.0.1:7860,http://127.0.0.1:7861 --db /tmp/fd/frontdesk.db \\
        [--conc 1,16,64,256] [--phase-cap 30] [--total-cap 300] [--json out.json]

Per level, first the app: max(16, 2×conc) questions with at most conc in flight, each a new session,
spread round-robin over the `--app` URLs (a stand-in for a load balancer in front of replicas).
Then raw vLLM with **requests of the same size**: for each question, as many prompt tokens as the
app's model calls for it used (from the app's stored traces, `--db`) and exactly as many output
tokens (`min_tokens` = `max_tokens`), streamed as the app streams. The prompt is a shared system
part (prefix-cached, like the app's persona and rules) and a part of its own per question (like the
app's excerpts and question; identical across the repeats of a question, as the app's are).
Unfinished requests are cancelled at the phase cap and counted. Loopback only; needs httpx.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import sqlite3
import statistics
import sys
import time
from urllib.parse import urlparse

import httpx

QUESTIONS = [
    "How long does shipping take?",
    "How much does shipping cost?",
    "Do you ship to Canada?",
    "What is your return policy?",
    "How do I start a return?",
    "Can I change or cancel my order?",
    "My item arrived damaged, what can I do?",
    "What payment methods do you accept?",
    "How do refunds work?",
    "Do you offer price matching?",
    "How do I track my order?",
    "How does the rewards program work?",
]
# Filler for the raw prompts: plain help-center prose, so it tokenizes like the app's excerpts.
FILLER = (
    "Orders placed before noon ship the same business day from our warehouse. Standard delivery "
    "takes three to five business days, and express delivery arrives in one or two. Returns are "
    "accepted within thirty days of delivery for unused items in their original packaging. "
)
SHARED_SHARE = 0.5  # of a raw prompt's tokens in the shared system part


def _loopback(url: str) -> str:
    host = urlparse(url).hostname or ""
    if not (host == "localhost" or host.startswith("127.") or host == "::1"):
        sys.exit(f"refusing a non-loopback target: {url}")
    return url.rstrip("/")


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


def read_traces(db: str, sessions: list[str]) -> dict[str, dict]:
    """The first assistant trace of each session, straight from the app's database: a SQLite file,
    or a `postgresql://` URL (read with psycopg)."""
    out: dict[str, dict] = {}
    if not sessions:
        return out
    postgres = db.startswith(("postgresql://", "postgres://"))
    try:
        if postgres:
            import psycopg

            con = psycopg.connect(db)
        else:
            con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
        for i in range(0, len(sessions), 500):
            part = sessions[i : i + 500]
            mark = "%s" if postgres else "?"
            q = (
                "SELECT session_id, trace FROM messages WHERE role='assistant' AND trace IS NOT NULL "
                f"AND session_id IN ({','.join([mark] * len(part))}) ORDER BY id"
            )
            for sid, raw in con.execute(q, part).fetchall():
                trace = json.loads(raw) if isinstance(raw, str) else raw
                if sid not in out and isinstance(trace, dict):
                    out[sid] = trace
        con.close()
    except (sqlite3.Error, ValueError, ImportError, OSError) as exc:
        print(f"(traces not read from {db}: {exc})")
    return out


def trace_summary(traces: list[dict], outside: list[float]) -> dict:
    """Percentiles of the stored traces; `outside` = each request's latency at the client less its
    turn's total_ms: the time the app spent on it outside the traced turn (storing the message,
    taking the conversation, storing the reply, HTTP), which `other` does not count."""
    total = [t.get("total_ms", 0.0) for t in traces]
    model = [sum(s.get("model_ms", 0.0) for s in t.get("steps", [])) for t in traces]
    retr = [(t.get("retrieval") or {}).get("ms", 0.0) for t in traces]
    other = [a - b - c for a, b, c in zip(total, model, retr, strict=True)]
    return {
        "turns": len(traces),
        "total_ms_p50": round(pct(total, 0.5), 1),
        "model_ms_p50": round(pct(model, 0.5), 1),
        "retrieval_ms_p50": round(pct(retr, 0.5), 1),
        "other_ms_p50": round(pct(other, 0.5), 1),
        "other_ms_p95": round(pct(other, 0.95), 1),
        "outside_ms_p50": round(pct(outside, 0.5), 1),
        "outside_ms_p95": round(pct(outside, 0.95), 1),
        "steps_mean": round(statistics.fmean(len(t.get("steps", [])) for t in traces), 2),
        "input_tokens_mean": round(
            statistics.fmean(sum(s.get("input_tokens", 0) for s in t.get("steps", [])) for t in traces), 1
        ),
        "output_tokens_mean": round(
            statistics.fmean(sum(s.get("output_tokens", 0) for s in t.get("steps", [])) for t in traces), 1
        ),
    }


class RawShapes:
    """Per question: the raw request that matches what the app asked of the model for it."""

    def __init__(self, chars_per_token: float) -> None:
        self.chars_per_token = chars_per_token
        self.shape: dict[int, tuple[int, int]] = {}  # question → (prompt tokens, output tokens)

    def learn(self, by_question: dict[int, list[dict]]) -> None:
        for i, traces in by_question.items():
            # Turns without a reported model call (none made, or no usage) say nothing of the size.
            traces = [t for t in traces if t.get("steps") and t["steps"][0].get("input_tokens")]
            steps = [t["steps"][0] for t in traces]
            outs = [sum(s.get("output_tokens", 0) for s in t.get("steps", [])) for t in traces]
            if steps:
                prompt = int(statistics.median(s.get("input_tokens", 0) for s in steps))
                self.shape[i] = (max(prompt, 16), max(int(statistics.median(outs)), 1))

    def text(self, tokens: int, salt: str) -> str:
        chars = int(tokens * self.chars_per_token)
        body = (FILLER * (chars // len(FILLER) + 1))[:chars]
        return f"{salt} {body}"

    def request(self, i: int, model: str, fallback_tokens: int) -> dict:
        prompt, out = self.shape.get(i, (600, fallback_tokens))
        shared = int(prompt * SHARED_SHARE)
        q = QUESTIONS[i % len(QUESTIONS)]
        return {
            "model": model,
            "messages": [
                {"role": "system", "content": self.text(shared, "You are a support assistant.")},
                {
                    "role": "user",
                    "content": self.text(prompt - shared - 40, f"Excerpts for question {i}:") + q,
                },
            ],
            "max_tokens": out,
            "min_tokens": out,
            "temperature": 0,
            "stream": True,
            "stream_options": {"include_usage": True},
        }


async def chars_per_token(client: httpx.AsyncClient, raw: str, model: str) -> float:
    root = raw[: -len("/v1")] if raw.endswith("/v1") else raw
    try:
        r = await client.post(f"{root}/tokenize", json={"model": model, "prompt": FILLER * 4}, timeout=10)
        count = r.json().get("count") or len(r.json().get("tokens", []))
        return len(FILLER * 4) / count if count else 4.0
    except (httpx.HTTPError, ValueError, AttributeError):
        return 4.0


async def one_raw(client: httpx.AsyncClient, raw: str, body: dict) -> dict:
    usage: dict = {}
    async with client.stream("POST", f"{raw}/chat/completions", json=body) as r:
        r.raise_for_status()
        async for line in r.aiter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                chunk = json.loads(line[6:])
                usage = chunk.get("usage") or usage
    return {
        "prompt_tokens": usage.get("prompt_tokens", 0),
        "completion_tokens": usage.get("completion_tokens", 0),
    }


async def one_app(client: httpx.AsyncClient, app: str, q: str) -> dict:
    r = await client.post(f"{app}/api/v1/chat", json={"message": q, "session_id": None})
    r.raise_for_status()
    out = r.json()
    return {"session_id": out.get("session_id"), "citations": len(out.get("citations") or [])}


async def phase(name: str, conc: int, n: int, cap: float, call) -> dict:
    """n requests (call(i)) with at most conc in flight; those unfinished at cap seconds are cancelled."""
    sem = asyncio.Semaphore(conc)
    lat: list[float] = []
    results: list[tuple[int, dict]] = []
    errors: dict[str, int] = {}

    async def worker(i: int) -> None:
        async with sem:
            t = time.perf_counter()
            try:
                res = await call(i)
            except (httpx.HTTPError, ValueError) as exc:
                key = (
                    f"HTTP {exc.response.status_code}"
                    if isinstance(exc, httpx.HTTPStatusError)
                    else type(exc).__name__
                )
                errors[key] = errors.get(key, 0) + 1
                return
            lat.append(time.perf_counter() - t)
            res["latency_s"] = lat[-1]
            results.append((i, res))

    t0 = time.perf_counter()
    tasks = [asyncio.create_task(worker(i)) for i in range(n)]
    _, pending = await asyncio.wait(tasks, timeout=cap)
    for t in pending:
        t.cancel()
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)
    wall = time.perf_counter() - t0
    row = {
        "target": name, "conc": conc, "sent": n, "ok": len(lat), "errors": errors,
        "cancelled": len(pending), "wall_s": round(wall, 3),
        "req_s": round(len(lat) / wall, 2) if wall > 0 else 0.0,
        "p50_s": round(pct(lat, 0.5), 3), "p95_s": round(pct(lat, 0.95), 3),
    }  # fmt: skip
    if name == "raw":
        row["tok_in_mean"] = (
            round(statistics.fmean(r["prompt_tokens"] for _, r in results), 1) if results else 0
        )
        row["tok_out_mean"] = (
            round(statistics.fmean(r["completion_tokens"] for _, r in results), 1) if results else 0
        )
    else:
        row["sessions"] = {
            r["session_id"]: (i % len(QUESTIONS), r["latency_s"]) for i, r in results if r.get("session_id")
        }
        row["with_citations"] = sum(1 for _, r in results if r["citations"])
    print(
        f"  {name:3} conc={conc:<3} ok {row['ok']}/{n} err {errors or 0} cancelled {row['cancelled']} "
        f"in {wall:.2f}s: {row['req_s']} req/s, p50 {row['p50_s']}s p95 {row['p95_s']}s"
        + (
            f", tokens in/out {row['tok_in_mean']}/{row['tok_out_mean']}"
            if name == "raw"
            else f", citations in {row['with_citations']}"
        ),
        flush=True,
    )
    return row


async def drain(client: httpx.AsyncClient, raw: str, cap: float = 20.0) -> None:
    """After cancelled requests (the app finishes them anyway), wait until vLLM runs nothing."""
    root = raw[: -len("/v1")] if raw.endswith("/v1") else raw
    t0, zeros = time.perf_counter(), 0
    while time.perf_counter() - t0 < cap and zeros < 2:
        try:
            text = (await client.get(f"{root}/metrics", timeout=5)).text
        except httpx.HTTPError:
            return
        busy = sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith(("vllm:num_requests_running", "vllm:num_requests_waiting"))
        )
        zeros = zeros + 1 if busy == 0 else 0
        await asyncio.sleep(0.5)
    print(f"  drained in {time.perf_counter() - t0:.1f}s", flush=True)


async def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--raw", default="http://127.0.0.1:8000/v1")
    ap.add_argument("--app", default="http://127.0.0.1:7860", help="one URL, or several comma-separated")
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--conc", default="1,16,64,256")
    ap.add_argument("--max-tokens", type=int, default=128, help="raw output tokens before any trace is read")
    ap.add_argument("--phase-cap", type=float, default=30.0)
    ap.add_argument("--total-cap", type=float, default=300.0)
    ap.add_argument("--db", required=True, help="the app's SQLite file or postgresql:// URL (traces)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    raw = _loopback(args.raw)
    apps = [_loopback(u) for u in args.app.split(",") if u.strip()]
    concs = [int(c) for c in args.conc.split(",") if c.strip()]
    limits = httpx.Limits(max_connections=max(concs) + 8, max_keepalive_connections=max(concs) + 8)
    report: dict = {"apps": len(apps), "rows": [], "traces": {}}
    async with httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(args.phase_cap + 5)) as client:
        shapes = RawShapes(await chars_per_token(client, raw, args.model))
        print(
            f"== {len(apps)} app replica(s); raw filler {shapes.chars_per_token:.2f} chars/token", flush=True
        )
        # Warm-up, not measured: every replica once (its first turn loads lazily), then learn the shapes.
        warm = await asyncio.gather(
            *(one_app(client, a, q) for a in apps for q in QUESTIONS), return_exceptions=True
        )
        learned: dict[int, list[dict]] = {}
        ok = [w for w in warm if isinstance(w, dict)]
        traces = read_traces(args.db, [w["session_id"] for w in ok])
        for k, w in enumerate(warm):
            if isinstance(w, dict) and w["session_id"] in traces:
                learned.setdefault(k % len(QUESTIONS), []).append(traces[w["session_id"]])
        shapes.learn(learned)
        print(
            f"  warm-up: {len(ok)}/{len(warm)} answered; raw shapes (prompt, output tokens): {shapes.shape}"
        )
        deadline = time.perf_counter() + args.total_cap
        for conc in concs:
            n = max(16, 2 * conc)
            pair: dict[str, dict] = {}
            rr = itertools.cycle(apps)
            for name in ("app", "raw"):
                left = deadline - time.perf_counter()
                if left < 3:
                    print(f"  total cap reached; skipping {name} conc={conc}")
                    continue
                if name == "app":
                    row = await phase(
                        name, conc, n, min(args.phase_cap, left),
                        lambda i, rr=rr: one_app(client, next(rr), QUESTIONS[i % len(QUESTIONS)]),
                    )  # fmt: skip
                    sessions = row.pop("sessions")
                    traced = read_traces(args.db, list(sessions))
                    by_q: dict[int, list[dict]] = {}
                    outside = []
                    for sid, t in traced.items():
                        question, latency = sessions[sid]
                        by_q.setdefault(question, []).append(t)
                        outside.append(latency * 1000 - t.get("total_ms", 0.0))
                    shapes.learn(by_q)
                    if traced:
                        summary = trace_summary(list(traced.values()), outside)
                        report["traces"][str(conc)] = summary
                        print(f"  traces conc={conc}: {json.dumps(summary)}", flush=True)
                else:
                    row = await phase(
                        name, conc, n, min(args.phase_cap, left),
                        lambda i: one_raw(client, raw, shapes.request(i % len(QUESTIONS), args.model, args.max_tokens)),
                    )  # fmt: skip
                pair[name] = row
                report["rows"].append(row)
                await drain(client, raw)
            if "raw" in pair and "app" in pair and pair["raw"]["req_s"]:
                ratio = pair["app"]["req_s"] / pair["raw"]["req_s"]
                print(f"  ratio conc={conc}: app/raw req/s {ratio:.3f}", flush=True)
    print(
        "== summary (the last phase of each level): req/s raw | app | app/raw ; p50 s raw | app ;"
        " app overhead p50 ms: in the turn (turn − model − retrieval) | outside it (latency − turn)"
    )
    by = {(r["target"], r["conc"]): r for r in report["rows"]}
    for conc in dict.fromkeys(concs):
        r, a = by.get(("raw", conc)), by.get(("app", conc))
        ratio = f"{a['req_s'] / r['req_s']:.3f}" if r and a and r["req_s"] else "-"
        tr = report["traces"].get(str(conc), {})
        print(
            f"  conc {conc:<3}: {r and r['req_s']} | {a and a['req_s']} | {ratio} ; "
            f"{r and r['p50_s']} | {a and a['p50_s']} ; {tr.get('other_ms_p50', '-')} | {tr.get('outside_ms_p50', '-')}",
            flush=True,
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

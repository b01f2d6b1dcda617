"""Answer quality per answer mode (checked / generative / extractive) on the demo help center.

Runs every labelled question of bench/data/retrieval_questions.jsonl through the real turn (services built
as `python app.py` builds them: the demo help center in a temporary data dir, the configured chat backend,
embedded SmolLM2 by default), each question in a new session, and prints per mode:

- in-scope questions: replies containing every key fact (`"facts"` in the data file), replies stating a
  number, price, duration or time that none of the turn's sources contains, extractive and "don't know"
  replies;
- out-of-scope questions (plain and near misses): honest "I don't know" (the no-answer reply);
- turn time p50/p95 and the answer check's own time.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/answers.py                 # one generation per question
    HF_HUB_OFFLINE=1 .venv/bin/python bench/answers.py --every 3       # a third of the questions
    HF_HUB_OFFLINE=1 .venv/bin/python bench/answers.py --turn-per-mode # a real turn per mode (3× slower)

By default each question gets one real turn, in `checked` mode, and the other modes' checkers are applied
to exactly what that turn handed its checker (question, model reply, sources): a paired comparison on the
same generation, at a third of the cost. Their turn time is the checked turn's time with the checked check
replaced by theirs. `--turn-per-mode` instead runs a separate real turn per mode.

`--save FILE` keeps each turn's inputs to the check and its timings (JSON lines); `--replay FILE` scores
the current checker on them without running the model (turn time: the recorded turn with the recorded
check replaced by the new one), which is how the thresholds were tuned on a shared 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import tempfile
import time
from pathlib import Path

from _common import ROOT, machine, percentile, quiet, table
from _recording import Recorder, demo_checker

MODES = ("checked", "generative", "extractive")


def load_questions(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def has_fact(reply: str, fact: str) -> bool:
    """Whether `reply` states `fact` (alternatives separated by "|"): values by value, words as phrases."""
    from grounding.facts import extract_facts, fact_keys, fact_supported

    reply_keys = fact_keys(extract_facts(reply))
    text = reply.lower().replace("’", "'")
    for alternative in fact.split("|"):
        wanted = extract_facts(alternative)
        if wanted:
            if all(fact_supported(f, reply_keys) for f in wanted):
                return True
        elif re.search(rf"(?<!\w){re.escape(alternative.lower())}(?!\w)", text):
            return True
    return False


def invented_numbers(reply: str, sources: list[str]) -> list[str]:
    """The numbers, prices, durations and times in `reply` that no source contains."""
    from grounding.facts import extract_facts, fact_keys, fact_supported

    keys = fact_keys([f for s in sources for f in extract_facts(s)])
    # A numbered list's "2." states nothing.
    reply = re.sub(r"(?m)^\s*\d{1,2}[.)]\s", "", reply)
    return [f.surface for f in extract_facts(reply) if not fact_supported(f, keys)]


def run_turn(agent, question: str) -> tuple[str, float, dict]:
    started = time.perf_counter()
    stored = agent.accept(question, session_id=None)
    result = None
    for event in agent.respond(stored.session_id):
        if event.kind == "done":
            result = event.result
    assert result is not None
    turn_ms = (time.perf_counter() - started) * 1000
    trace = agent.store.messages(stored.session_id)[-1].trace or {}
    return result.reply, turn_ms, trace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--questions", type=Path, default=ROOT / "bench" / "data" / "retrieval_questions.jsonl"
    )
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--every", type=int, default=1, help="only every n-th question (a subset)")
    parser.add_argument(
        "--shuffle",
        type=int,
        default=None,
        help="run the questions in a random order (this seed), so that "
        "a run stopped early with --save still holds a random subset",
    )
    parser.add_argument(
        "--help-center",
        type=Path,
        help="another company's articles (a folder of .md files) instead of the demo help center",
    )
    parser.add_argument("--company", default=None, help="that company's name (with --help-center)")
    parser.add_argument("--answer-tokens", type=int, default=None)
    parser.add_argument("--turn-per-mode", action="store_true", help="a separate real turn per mode")
    parser.add_argument("--show-replies", action="store_true")
    parser.add_argument("--save", type=Path, help="write each turn's check inputs and timings here")
    parser.add_argument("--replay", type=Path, help="score saved turns instead of running the model")
    args = parser.parse_args()
    quiet()
    if args.replay:
        replay(args)
        return

    import app
    from knowledge.embeddings import LocalEmbedder
    from settings import Settings

    modes = [m for m in args.modes.split(",") if m]
    questions = load_questions(args.questions)[:: args.every]
    if args.shuffle is not None:
        random.Random(args.shuffle).shuffle(questions)
    embedder = LocalEmbedder()
    words = embedder.whole_words()
    rows: dict[str, list[dict]] = {m: [] for m in modes}
    with tempfile.TemporaryDirectory(prefix="frontdesk-bench-") as tmp:
        overrides = {"data_dir": Path(tmp) / "data", "admin_password": "bench-admin", "demo_data": True}
        if args.help_center:
            overrides.update(demo_data=False, company_name=args.company or args.help_center.name)
        if args.answer_tokens is not None:
            overrides["answer_tokens"] = args.answer_tokens
        settings = Settings(**overrides)
        print(f"# answer benchmark — {machine()}")
        services = app.build_services(settings, embedder=embedder)
        agent, kb = services.agent, services.knowledge
        if args.help_center:
            failed = [
                o for o in kb.ingest_paths(sorted(args.help_center.glob("*.md"))) if isinstance(o, Exception)
            ]
            assert not failed, failed
        branding = {"company": agent.config.company, "assistant_name": None, "topics": agent.config.topics}
        no_answer = agent.prompts.prompt_set().render("no_answer", **branding).text
        in_scope = sum(1 for q in questions if q["document"])
        print(
            f"# {services.model_description}; answer_tokens={settings.answer_tokens}; "
            f"{len(questions)} questions ({in_scope} in scope, {len(questions) - in_scope} out of scope); "
            f"{'a real turn per mode' if args.turn_per_mode else 'one real turn per question, every mode on it'}\n"
        )

        def checkers() -> dict:
            return {m: demo_checker(embedder, m, words, settings.company_name or "") for m in modes}

        agent.run("warm up the model", session_id=None)
        plans = [[m] for m in modes] if args.turn_per_mode else [modes]
        for plan in plans:
            recorder = Recorder(checkers={m: c for m, c in checkers().items() if m in plan}, primary=plan[0])
            agent.answer_checker = recorder
            for q in questions:
                before = len(recorder.calls)
                reply, turn_ms, trace = run_turn(agent, q["question"])
                call = recorder.calls[-1] if len(recorder.calls) > before else None
                primary_ms = (trace.get("answer_check") or {}).get("ms", 0.0)
                sources = (
                    [c.text for c in kb.retrieve(trace["retrieval"]["query"])]
                    if trace.get("retrieval")
                    else []
                )
                for m in plan:
                    if call is None:  # nothing relevant was retrieved: the turn said so without the model
                        text, fallback, check_ms = reply, "no_relevant_knowledge", 0.0
                    else:
                        verdict = call["verdicts"][m]
                        text = verdict.text if verdict.text is not None else no_answer
                        fallback, check_ms = verdict.fallback, verdict.ms
                    facts = q.get("facts") or []
                    row = {
                        "question": q["question"],
                        "in_scope": q["document"] is not None,
                        "near_miss": bool(q.get("near_miss")),
                        "reply": text,
                        "raw": call["raw"] if call else None,
                        "facts_ok": all(has_fact(text, f) for f in facts) if facts else None,
                        "invented": invented_numbers(text, (call or {}).get("sources", sources)),
                        "dont_know": text.strip() == no_answer.strip(),
                        "fallback": fallback,
                        "turn_ms": turn_ms - primary_ms + check_ms,
                        "check_ms": check_ms,
                    }
                    rows[m].append(row)
                    if args.show_replies:
                        show(m, row, fallback)
                if args.save:
                    record = {
                        **q,
                        "turn_ms": turn_ms,
                        "check_ms": primary_ms,
                        "raw": call["raw"] if call else None,
                        "sources": call["sources"] if call else None,
                        "titles": call["titles"] if call else None,
                        "reply": reply,
                        "no_answer": no_answer,
                    }
                    with args.save.open("a") as out:
                        out.write(json.dumps(record) + "\n")

    print_tables(rows)


def show(mode: str, row: dict, fallback: str) -> None:
    print(
        f"[{mode}] {row['question']!r} facts={row['facts_ok']} invented={row['invented']} {fallback}\n"
        f"    raw: {(row['raw'] or '')[:200]!r}\n    → {row['reply'][:300]!r}",
        flush=True,
    )


def replay(args: argparse.Namespace) -> None:
    """Score saved turns with the current checker (no model): the tables as if the turns ran again."""
    from grounding import Source
    from knowledge.embeddings import LocalEmbedder
    from prompts import PromptLibrary
    from settings import DEMO_COMPANY_NAME, DEMO_TOPICS

    modes = [m for m in args.modes.split(",") if m]
    records = load_questions(args.replay)[:: args.every]
    print(f"# answer benchmark, replaying {args.replay} ({len(records)} turns) — {machine()}\n")
    embedder = LocalEmbedder()
    words = embedder.whole_words()
    rendered = PromptLibrary().render(
        "no_answer", company=DEMO_COMPANY_NAME, assistant_name=None, topics=list(DEMO_TOPICS)
    )
    rows: dict[str, list[dict]] = {m: [] for m in modes}
    for mode in modes:
        checker = demo_checker(embedder, mode, words, args.company or DEMO_COMPANY_NAME)
        for r in records:
            no_answer = r.get("no_answer") or rendered  # recordings made before it was saved
            if r["raw"] is None:
                text, fallback, check_ms, sources = r["reply"], "no_relevant_knowledge", 0.0, []
            else:
                sources = [
                    Source(title=t, text=x, document=d)
                    for x, (t, d) in zip(r["sources"], r["titles"], strict=True)
                ]
                if mode == "checked":  # as the turn does it: sentence by sentence while it streams
                    checking = checker.start(question=r["question"], sources=sources)
                    for piece in re.findall(r"\s*\S+", r["raw"]):
                        checking.feed(piece)
                    verdict = checking.finish()
                else:
                    verdict = checker.check(question=r["question"], reply=r["raw"], sources=sources)
                text = verdict.text if verdict.text is not None else no_answer
                fallback, check_ms = verdict.fallback, verdict.ms
            facts = r.get("facts") or []
            row = {
                "question": r["question"],
                "in_scope": r["document"] is not None,
                "near_miss": bool(r.get("near_miss")),
                "reply": text,
                "raw": r["raw"],
                "facts_ok": all(has_fact(text, f) for f in facts) if facts else None,
                "invented": invented_numbers(text, [s.text for s in sources]),
                "dont_know": text.strip() == no_answer.strip(),
                "fallback": fallback,
                "turn_ms": r["turn_ms"] - r["check_ms"] + check_ms,
                "check_ms": check_ms,
            }
            rows[mode].append(row)
            if args.show_replies:
                show(mode, row, fallback)
    print_tables(rows)


def pct(n: int, total: int) -> str:
    return f"{100 * n / total:5.1f}% ({n}/{total})" if total else "-"


def print_tables(rows: dict[str, list[dict]]) -> None:
    body = []
    for mode, rs in rows.items():
        ins = [r for r in rs if r["in_scope"]]
        oos = [r for r in rs if not r["in_scope"] and not r["near_miss"]]
        near = [r for r in rs if r["near_miss"]]
        turn = [r["turn_ms"] for r in rs]
        check = [r["check_ms"] for r in rs if r["fallback"] != "no_relevant_knowledge"]
        body.append(
            [
                mode,
                pct(sum(1 for r in ins if r["facts_ok"]), len(ins)),
                pct(sum(1 for r in rs if r["invented"]), len(rs)),
                pct(sum(1 for r in ins if r["fallback"] == "extractive"), len(ins)),
                pct(sum(1 for r in ins if r["dont_know"]), len(ins)),
                pct(sum(1 for r in oos if r["dont_know"]), len(oos)),
                pct(sum(1 for r in near if r["dont_know"]), len(near)),
                round(percentile(turn, 50)),
                round(percentile(turn, 95)),
                round(percentile(check, 50), 1) if check else "-",
                round(percentile(check, 95), 1) if check else "-",
            ]
        )
    print(
        table(
            [
                "mode",
                "in-scope: every key fact",
                "replies with a number not in sources",
                "in-scope: extractive",
                "in-scope: don't know",
                "out-of-scope: don't know",
                "near miss: don't know",
                "turn p50 ms",
                "turn p95 ms",
                "check p50 ms",
                "check p95 ms",
            ],
            body,
        )
    )
    if rows:
        any_rows = next(iter(rows.values()))
        mean_turn = statistics.fmean(r["turn_ms"] for r in any_rows) if any_rows else 0
        print(f"\nmean turn {mean_turn:,.0f} ms ({machine().split(', ')[-1]} at the end)")


if __name__ == "__main__":
    main()

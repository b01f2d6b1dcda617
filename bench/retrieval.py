"""Retrieval quality on the demo help center: search modes × chunk sizes, and the relevance threshold.

Uses the labelled questions in bench/data/retrieval_questions.jsonl (question → document slug, or null
for out-of-scope). Hits are document-level: any chunk of the labelled document counts.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/retrieval.py
    HF_HUB_OFFLINE=1 .venv/bin/python bench/retrieval.py --chunk-sizes 300:40,800:100 --misses

Chunk size is varied by swapping the `split_text` that KnowledgeBase._index calls for one with other
defaults (knowledge.splitting.split_text's own defaults are bound when it is defined, so patching
CHUNK_CHARS would change nothing).
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from _common import DEMO_DIR, ROOT, machine, make_kb, percentile, quiet, table
from answers import has_fact

MODES = ("dense", "bm25", "hybrid")


@dataclass
class ModeResult:
    ranks: list[int | None] = field(default_factory=list)  # 1-based rank of the labelled doc, in-scope only
    search_ms: list[float] = field(default_factory=list)


@dataclass
class Gate:
    """What KnowledgeBase.retrieve would see for one question: top-k (doc, cosine score), best first."""

    expected: str | None
    hits: list[tuple[str, float]]
    has_facts: list[bool] = field(default_factory=list)  # per hit: the chunk holds every key fact


def load_questions(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def doc_rank(docs: list[str], expected: str) -> int | None:
    for i, d in enumerate(docs, start=1):
        if d == expected:
            return i
    return None


def evaluate(kb, questions: list[dict], *, depth: int, retrieve_k: int):
    results = {m: ModeResult() for m in MODES}
    gates: dict[str, list[Gate]] = {"dense": [], "hybrid": []}
    for q in questions:
        for mode in MODES:
            started = time.perf_counter()
            found = kb.search(q["question"], k=depth, mode=mode)
            results[mode].search_ms.append((time.perf_counter() - started) * 1000)
            if q["document"] is not None:
                results[mode].ranks.append(doc_rank([c.document for c in found], q["document"]))
        for mode in gates:
            # The same call KnowledgeBase.retrieve makes (k = the production k), before its threshold.
            found = kb.search(q["question"], k=retrieve_k, mode=mode)
            facts = q.get("facts") or []
            gates[mode].append(
                Gate(
                    q["document"],
                    [(c.document, c.score) for c in found],
                    [bool(facts) and all(has_fact(c.text, f) for f in facts) for c in found],
                )
            )
    return results, gates


def recall_at(ranks: list[int | None], k: int) -> float:
    return sum(1 for r in ranks if r is not None and r <= k) / len(ranks)


def mrr(ranks: list[int | None]) -> float:
    return sum(1 / r for r in ranks if r is not None) / len(ranks)


def pct(n: int, total: int) -> str:
    return f"{100 * n / total:5.1f}% ({n}/{total})" if total else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--chunk-sizes",
        default="200:30,400:50,800:100,1200:150",
        help="comma-separated chunk_chars:overlap pairs (800:100 is the current default)",
    )
    parser.add_argument(
        "--questions", type=Path, default=ROOT / "bench" / "data" / "retrieval_questions.jsonl"
    )
    parser.add_argument("--depth", type=int, default=10, help="ranking depth for MRR (MRR@depth)")
    parser.add_argument(
        "--retrieve-k", type=int, default=4, help="k used by retrieve() (settings.retrieval_k)"
    )
    parser.add_argument("--thresholds", default="0.25,0.3,0.35,0.4,0.45")
    parser.add_argument(
        "--baseline",
        default="800:100",
        help="chunk_chars:overlap whose dense mode the others are compared with",
    )
    parser.add_argument(
        "--misses",
        action="store_true",
        help="list in-scope questions missed at rank 1 or refused, and the out-of-scope questions' top hits",
    )
    parser.add_argument(
        "--near-misses",
        action="store_true",
        help="count the near-miss out-of-scope questions (retrieval finds a related article) as out-of-scope too",
    )
    args = parser.parse_args()
    quiet()

    import knowledge.store as store_module
    from knowledge.embeddings import LocalEmbedder
    from knowledge.splitting import split_text

    questions = load_questions(args.questions)
    if not args.near_misses:
        # The near misses were added for bench/answers.py; left out, the numbers stay comparable.
        questions = [q for q in questions if not q.get("near_miss")]
    in_scope = [q for q in questions if q["document"] is not None]
    thresholds = [float(t) for t in args.thresholds.split(",")]
    sizes = [tuple(int(x) for x in pair.split(":")) for pair in args.chunk_sizes.split(",")]
    paths = sorted(DEMO_DIR.glob("*.md"))
    print(f"# retrieval benchmark — {machine()}")
    print(
        f"# {len(paths)} demo articles, {len(in_scope)} in-scope + {len(questions) - len(in_scope)} "
        f"out-of-scope questions; embeddings: all-MiniLM-L6-v2 (CPU)\n"
    )

    embedder = LocalEmbedder()
    quality_rows, score_rows, threshold_rows, miss_rows, oos_rows = [], [], [], [], []
    all_ranks: dict[tuple[str, str], list[int | None]] = {}
    current = float(settings_threshold())
    original = store_module.split_text
    try:
        for chunk_chars, overlap in sizes:
            label = f"{chunk_chars}/{overlap}"
            store_module.split_text = functools.partial(split_text, chunk_chars=chunk_chars, overlap=overlap)
            with tempfile.TemporaryDirectory(prefix="frontdesk-bench-") as tmp:
                kb = make_kb(Path(tmp) / "data", embedder=embedder, k=args.retrieve_k)
                started = time.perf_counter()
                for outcome in kb.ingest_paths(paths):
                    if isinstance(outcome, Exception):
                        raise outcome
                ingest_s = time.perf_counter() - started
                n_chunks = kb.chunk_count()
                kb.search("warm up", k=1, mode="hybrid")  # builds the BM25 index outside the timings
                results, gates = evaluate(kb, questions, depth=args.depth, retrieve_k=args.retrieve_k)
            for mode in MODES:
                r = results[mode]
                all_ranks[(label, mode)] = r.ranks
                quality_rows.append(
                    [
                        label,
                        mode,
                        n_chunks,
                        f"{recall_at(r.ranks, 1):.3f}",
                        f"{recall_at(r.ranks, 3):.3f}",
                        f"{recall_at(r.ranks, args.retrieve_k):.3f}",
                        f"{mrr(r.ranks):.3f}",
                        statistics.median(r.search_ms),
                        ingest_s,
                    ]
                )
            for mode, gate in gates.items():
                # Top-1 cosine score distribution, split by in-scope (right / wrong doc at rank 1) and out-of-scope.
                groups = {
                    "in-scope, all": [g.hits[0][1] for g in gate if g.expected is not None],
                    "in-scope, top-1 right doc": [
                        g.hits[0][1] for g in gate if g.expected is not None and g.hits[0][0] == g.expected
                    ],
                    "in-scope, top-1 wrong doc": [
                        g.hits[0][1] for g in gate if g.expected is not None and g.hits[0][0] != g.expected
                    ],
                    "out-of-scope": [g.hits[0][1] for g in gate if g.expected is None],
                }
                if mode == "dense":
                    for name, scores in groups.items():
                        score_rows.append(
                            [label, name, len(scores)]
                            + [
                                f"{percentile(scores, q):.3f}" if scores else "-"
                                for q in (0, 10, 25, 50, 75, 90, 100)
                            ]
                        )
                inside = [g for g in gate if g.expected is not None]
                outside = [g for g in gate if g.expected is None]
                for t in thresholds:
                    top1_ok = sum(1 for g in inside if g.hits[0][0] == g.expected and g.hits[0][1] >= t)
                    any_ok = sum(1 for g in inside if any(d == g.expected and s >= t for d, s in g.hits))
                    fact_ok = sum(
                        1
                        for g in inside
                        if any(f and s >= t for (_, s), f in zip(g.hits, g.has_facts, strict=True))
                    )
                    refused = sum(1 for g in inside if all(s < t for _, s in g.hits))
                    rejected = sum(1 for g in outside if all(s < t for _, s in g.hits))
                    threshold_rows.append(
                        [
                            label,
                            mode,
                            f"{t:.2f}",
                            pct(top1_ok, len(inside)),
                            pct(any_ok, len(inside)),
                            pct(fact_ok, len(inside)),
                            pct(refused, len(inside)),
                            pct(rejected, len(outside)),
                        ]
                    )
            if args.misses:
                for q, gate_d in zip(questions, gates["dense"], strict=True):
                    top_doc, top_score = gate_d.hits[0]
                    if q["document"] is None:
                        oos_rows.append([label, q["question"][:60], top_doc, f"{top_score:.3f}"])
                    elif top_doc != q["document"] or top_score < current:
                        why = "refused" if top_score < current else "wrong doc"
                        miss_rows.append(
                            [label, q["question"][:60], q["document"], top_doc, f"{top_score:.3f}", why]
                        )
    finally:
        store_module.split_text = original

    base_label = "/".join(args.baseline.split(":"))
    base = all_ranks.get((base_label, "dense"))
    for row in quality_rows:
        ranks = all_ranks[(row[0], row[1])]
        if base is None:
            row.append("-")
            continue
        won = sum(1 for a, b in zip(ranks, base, strict=True) if a == 1 and b != 1)
        lost = sum(1 for a, b in zip(ranks, base, strict=True) if a != 1 and b == 1)
        row.append(f"+{won}/-{lost}")
    print(
        table(
            [
                "chunk/overlap",
                "mode",
                "chunks",
                "recall@1",
                "recall@3",
                f"recall@{args.retrieve_k}",
                f"MRR@{args.depth}",
                "ms/query p50",
                "ingest s",
                f"@1 vs {base_label} dense",
            ],
            quality_rows,
            title=f"Document-level retrieval quality ({len(in_scope)} in-scope questions)",
        )
    )
    print()
    print(
        table(
            ["chunk/overlap", "questions", "n", "min", "p10", "p25", "p50", "p75", "p90", "max"],
            score_rows,
            title="Top-1 dense cosine score",
        )
    )
    print()
    print(
        table(
            [
                "chunk/overlap",
                "mode",
                "threshold",
                "in-scope: top-1 right doc ≥ t",
                f"in-scope: right doc in retrieve() (k={args.retrieve_k})",
                "in-scope: a chunk with every key fact in retrieve()",
                "in-scope: refused",
                "out-of-scope: rejected",
            ],
            threshold_rows,
            title=(
                "Relevance threshold (score = cosine; bm25 mode is left out: its score is normalised so the "
                "top hit is always 1.0 and no threshold can reject anything)"
            ),
        )
    )
    if miss_rows:
        print()
        print(
            table(
                ["chunk/overlap", "question", "expected", "dense top-1", "score", "why"],
                miss_rows,
                title=f"In-scope questions whose dense top-1 is another document or under {current} (settings)",
            )
        )
    if oos_rows:
        print()
        print(
            table(
                ["chunk/overlap", "question", "dense top-1", "score"],
                oos_rows,
                title="Out-of-scope questions: best dense hit",
            )
        )


def settings_threshold() -> float:
    from settings import Settings

    return Settings.model_fields["retrieval_threshold"].default


if __name__ == "__main__":
    main()

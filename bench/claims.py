"""Wrong sentences the answer check lets through, and right ones it drops, on hand-labelled model replies.

`bench/data/labelled_claims.json` holds real replies of the embedded model (SmolLM2-135M) to the demo help
center's questions, recorded by `bench/answers.py --save`, with the sources of their turn; every claim
sentence of each reply (not small talk or "I don't know") is labelled `true` (everything it states is in
those sources, or follows from them directly) or `false` (it states something they do not say, contradicts
them, or ties a number to the wrong thing), with why. The current checker judges each whole reply, as the
turn does, and this prints how many false sentences it keeps (those reach a customer) and how many true
ones it drops, with each kept false sentence and why it was kept.

    .venv/bin/python bench/claims.py              # the table and the kept false sentences
    .venv/bin/python bench/claims.py --dropped    # and the dropped true ones
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from _common import ROOT, machine, quiet, table
from _recording import demo_checker

DATA = ROOT / "bench" / "data" / "labelled_claims.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--dropped", action="store_true", help="also list the true sentences dropped")
    args = parser.parse_args()
    quiet()
    from grounding import Source
    from knowledge.embeddings import LocalEmbedder

    turns = json.loads(args.data.read_text(encoding="utf-8"))
    print(f"# answer check on labelled claims ({args.data.name}, {len(turns)} replies) — {machine()}\n")
    embedder = LocalEmbedder()
    checker = demo_checker(embedder, "checked", embedder.whole_words())
    counts = {"true": [0, 0], "false": [0, 0]}  # label → [kept, dropped]
    kept_false, dropped_true, unmatched = [], [], 0
    for turn in turns:
        sources = [Source(title=t, text=x) for t, x in zip(turn["titles"], turn["sources"], strict=True)]
        verdict = checker.check(question=turn["question"], reply=turn["reply"], sources=sources)
        judged = {v.text: v for v in verdict.sentences}
        for sentence in turn["sentences"]:
            found = judged.get(sentence["text"])
            if found is None:
                unmatched += 1  # the sentence splitter changed since the labels were made
                continue
            counts[sentence["label"]][0 if found.kept else 1] += 1
            if found.kept and sentence["label"] == "false":
                kept_false.append((turn["question"], sentence, found))
            if not found.kept and sentence["label"] == "true":
                dropped_true.append((turn["question"], sentence, found))
    rows = [
        [
            label,
            kept + dropped,
            kept,
            dropped,
            f"{100 * kept / max(1, kept + dropped):.1f}%",
        ]
        for label, (kept, dropped) in counts.items()
    ]
    print(table(["label", "sentences", "kept", "dropped", "kept share"], rows))
    if unmatched:
        print(f"\n{unmatched} labelled sentences were not found among the check's sentences (not scored)")
    print(f"\nfalse sentences kept ({len(kept_false)}): these reach a customer")
    for question, sentence, found in kept_false:
        print(f"- {question!r}\n    {sentence['text']!r}\n    label: {sentence.get('why', '')}")
        print(f"    kept: {found.score:.2f} to {found.source_sentence!r}")
    if args.dropped:
        print(f"\ntrue sentences dropped ({len(dropped_true)})")
        for question, sentence, found in dropped_true:
            print(f"- {question!r}\n    {sentence['text']!r}\n    {found.reason}: {found.detail or ''}")


if __name__ == "__main__":
    main()

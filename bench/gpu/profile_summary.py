"""Summarise a py-spy raw profile (`py-spy record --threads --format raw`) of one app process.

    python bench/gpu/profile_summary.py profile0.txt [--top 12]

Prints a table of thread groups (threads named alike, e.g. `turn-work_0` … `turn-work_31`, count as
one) with their share of the samples, then for each group the commonest places: the deepest
frame in the app's own packages and the frame the thread was in (its leaf). With `--idle` in the
recording, a thread waiting (a lock, a socket, `select`) is sampled too, so a group's share is where
its threads spent their time, waiting included, not only CPU.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter, defaultdict
from pathlib import Path

APP = ("agents", "commerce", "grounding", "handoff", "integrations", "knowledge", "llm", "memory")
APP += ("prompts", "review", "storage", "tools", "web", "app.py", "settings.py")


def parse(path: Path) -> list[tuple[str, list[str], int]]:
    """(thread group, frames root first, samples) for each line of the raw profile."""
    rows = []
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit() or ";" not in stack:
            continue
        thread, *frames = stack.split(";")
        name = thread.partition(": ")[2] or thread
        rows.append((re.sub(r"[_-]\d+$", "", name), frames, int(count)))
    return rows


def place(frames: list[str]) -> str:
    """The deepest app frame and the leaf: where in our code, and what it was doing there."""
    ours = [f for f in frames if f.rpartition("(")[2].split("/")[0].split(":")[0] in APP]
    leaf = frames[-1] if frames else "?"
    top = ours[-1] if ours else "(no app frame)"
    return top if top == leaf else f"{top}  →  {leaf}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args()
    rows = parse(args.profile)
    total = sum(n for _, _, n in rows) or 1
    groups: dict[str, Counter[str]] = defaultdict(Counter)
    for group, frames, n in rows:
        groups[group][place(frames)] += n
    print(f"{total} samples\n\n| thread group | share | top place |\n|---|---|---|")
    ranked = sorted(groups.items(), key=lambda kv: -sum(kv[1].values()))
    for group, places in ranked:
        top, n = places.most_common(1)[0]
        print(f"| {group} | {100 * sum(places.values()) / total:.1f} % | {top} ({100 * n / total:.1f} %) |")
    for group, places in ranked:
        size = sum(places.values())
        print(f"\n{group}: {size} samples")
        for where, n in places.most_common(args.top):
            print(f"  {100 * n / size:5.1f} %  {where}")


if __name__ == "__main__":
    main()

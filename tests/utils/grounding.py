"""Helpers for the answer-check tests: the demo help center's articles as sources, and a check that
also asserts what every verdict must satisfy."""

from __future__ import annotations

import json

from grounding import AnswerChecker, Source, Verdict
from knowledge.seeding import DEMO_DIR


def article(slug: str) -> Source:
    """A demo article (knowledge/demo/<slug>.md) as a source, titled by its heading."""
    text = (DEMO_DIR / f"{slug}.md").read_text()
    return Source(title=text.splitlines()[0].lstrip("# "), text=text, document=slug)


def check(checker: AnswerChecker, question: str, reply: str, *sources: Source) -> Verdict:
    verdict = checker.check(question=question, reply=reply, sources=sources)
    json.dumps(verdict.trace())  # The trace must always be JSON-able.
    assert verdict.text is None or verdict.text.strip()
    return verdict

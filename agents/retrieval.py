"""What a turn looks up in the knowledge base: the question, or a follow-up with the question before it.

A follow-up that leans on the question before it ("and for Canada?", "what about PayPal?") is asked
as one question ("How much does shipping cost for Canada?", `standalone`): searched alone it finds
whatever mentions Canada, and the answer check would rank the quote by "Canada" alone.
"""

from __future__ import annotations

import re
import time
from typing import Any

from agents.routing import EMAIL, ORDER_ID, QUESTION_START
from grounding.facts import content_stems
from knowledge.types import RetrievedChunk, Retriever

_LEANS_ON = re.compile(r"^\s*(?:and\s+)?(?:what|how)\s+about\b\s*|^\s*and\b[\s,]*", re.IGNORECASE)
_PREPOSITION = re.compile(r"(?:for|to|in|on|with|from|at|by|of|if|when)\b", re.IGNORECASE)
# A follow-up of more content words than this asks its own question.
FOLLOW_UP_WORDS = 3


def standalone(question: str, previous_question: str | None) -> str:
    """`question` as a question of its own: a short one that leans on the one before ("and for
    Canada?") joined to it ("How much does shipping cost for Canada?"); a message that only gives
    the order number or email the one before needed ("It's NW-10042, maria@example.com" after "Can
    I cancel my order?") follows it; any other unchanged."""
    if previous_question is not None and _only_details(question):
        return f"{previous_question.strip()} {question.strip()}"
    lean = _LEANS_ON.match(question)
    if previous_question is None or lean is None:
        return question
    rest = question[lean.end() :].strip(" ?.!")
    if not rest or len(content_stems(rest)) > FOLLOW_UP_WORDS or QUESTION_START.match(rest):
        # Nothing to add, or a question of its own ("and how much is it there?": searched alone,
        # then with the one before if it finds nothing, `search_knowledge`).
        return question
    joined = rest if _PREPOSITION.match(rest) else f"for {rest}"
    return f"{previous_question.strip().rstrip('?.! ')} {joined}?"


def search_knowledge(
    retriever: Retriever | None, question: str, previous_question: str | None
) -> tuple[list[RetrievedChunk], dict[str, Any]]:
    """The chunks relevant to `question` (as a question of its own) and the trace of the search; a
    follow-up ("and to Canada?") that finds nothing on its own is searched together with the previous
    question."""
    if retriever is None:
        return [], {"enabled": False}
    started = time.perf_counter()
    query = standalone(question, previous_question)
    chunks = retriever.retrieve(query)
    if not chunks and previous_question and query == question:
        query = f"{previous_question}\n{question}"
        chunks = retriever.retrieve(query)
    return chunks, {
        "query": query,
        "ms": round((time.perf_counter() - started) * 1000, 1),
        "chunks": [{"chunk_id": c.chunk_id, "score": round(c.score, 4)} for c in chunks],
    }


def _only_details(message: str) -> bool:
    """An order number or an email, and at most two other words ("it's", "sure, here"): no question."""
    if not (ORDER_ID.search(message) or EMAIL.search(message)):
        return False
    rest = EMAIL.sub(" ", ORDER_ID.sub(" ", message))
    return len(content_stems(rest)) <= 2 and "?" not in rest

"""What a turn looks up in the knowledge base: the question, or a follow-up with the question before it."""

from __future__ import annotations

import time
from typing import Any

from knowledge.types import RetrievedChunk, Retriever


def search_knowledge(
    retriever: Retriever | None, question: str, previous_question: str | None
) -> tuple[list[RetrievedChunk], dict[str, Any]]:
    """The chunks relevant to `question` and the trace of the search; a follow-up ("and to Canada?")
    that finds nothing on its own is searched together with the previous question."""
    if retriever is None:
        return [], {"enabled": False}
    started = time.perf_counter()
    query = question
    chunks = retriever.retrieve(query)
    if not chunks and previous_question:
        query = f"{previous_question}\n{question}"
        chunks = retriever.retrieve(query)
    return chunks, {
        "query": query,
        "ms": round((time.perf_counter() - started) * 1000, 1),
        "chunks": [{"chunk_id": c.chunk_id, "score": round(c.score, 4)} for c in chunks],
    }

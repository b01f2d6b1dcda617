"""BM25 over the knowledge base's chunks (the `bm25` and `hybrid` search modes), built from the Chroma
collection the first time it is needed and again after each write."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from knowledge.types import RetrievedChunk

_WORD = re.compile(r"\w+")
PAGE = 5000


def _tokens(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def stored_chunks(collection: Any) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Every chunk of a Chroma collection as (id, text, metadata), read a page at a time."""
    offset = 0
    while True:
        got = collection.get(include=["documents", "metadatas"], limit=PAGE, offset=offset)
        for chunk_id, text, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
            if text is not None and meta is not None:
                yield chunk_id, text, meta
        if len(got["ids"]) < PAGE:
            return
        offset += PAGE


class LexicalIndex:
    """A BM25 index of every chunk (title, section and text), with scores scaled to the best one."""

    def __init__(self, collection: Any) -> None:
        from rank_bm25 import BM25Okapi

        self._records: dict[str, RetrievedChunk] = {
            chunk_id: RetrievedChunk(
                chunk_id, str(meta["document"]), str(meta["title"]), str(meta.get("section") or ""), text, 0.0
            )
            for chunk_id, text, meta in stored_chunks(collection)
        }
        self._ids = list(self._records)
        records = self._records
        self._index = BM25Okapi(
            [_tokens(f"{records[i].title} {records[i].section} {records[i].text}") for i in self._ids]
        )

    def search(self, query: str, k: int) -> list[RetrievedChunk]:
        scores = self._index.get_scores(_tokens(query))
        best = sorted(range(len(self._ids)), key=lambda i: -scores[i])[:k]
        top = max(scores[best[0]], 1e-9) if best else 1.0
        return [
            RetrievedChunk(**{**self._records[self._ids[i]].as_dict(), "score": float(scores[i] / top)})
            for i in best
        ]

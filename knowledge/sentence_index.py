"""Each chunk's sentences embedded on their own, beside the chunks, so that a question one sentence
answers finds that sentence's chunk even when the chunk as a whole is about something else.

"how long does it take you guys to answer emails" is 0.33 from the Contact Support chunk that holds
"We reply within 1 business day" (below the relevance threshold, behind three other chunks), and 0.68
from that sentence. A chunk's score is therefore the better of its own similarity and its best
sentence's, less `SENTENCE_MARGIN` (a short sentence matches a question more closely than 800
characters do, for any question; without the margin more out-of-scope questions pass the threshold).

The sentences are those the answer check compares a reply with (`grounding.sentences.split_markdown`,
with their heading or list lead-in), in a second Chroma collection keyed by chunk: `{chunk_id}/{n}`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from grounding.facts import tokens
from grounding.sentences import split_markdown
from knowledge.embeddings import Embedder
from knowledge.lexical import stored_chunks

log = logging.getLogger(__name__)

SENTENCE_MARGIN = 0.05
SENTENCES_PER_RESULT = 3  # sentence hits looked at per chunk asked for


def chunk_sentences(text: str) -> list[str]:
    """The sentences of a chunk worth matching a question with (two words or more), with their context."""
    return [u.context for u in split_markdown(text) if len(tokens(u.text)) >= 2]


class SentenceIndex:
    """The sentence vectors of every chunk in a Chroma collection of their own."""

    def __init__(self, chroma: Any, embedder: Embedder, *, name: str) -> None:
        self._chroma = chroma
        self._embedder = embedder
        self._collection = chroma.get_or_create_collection(
            name=name, metadata={"hnsw:space": "cosine"}, embedding_function=None
        )

    def count(self) -> int:
        return int(self._collection.count())

    def embed(self, document: str, chunks: Sequence[tuple[str, str]]) -> dict[str, Any]:
        """The rows for one document's `(chunk_id, text)` pairs, embedded; nothing is written yet."""
        ids: list[str] = []
        texts: list[str] = []
        metadatas: list[dict[str, str]] = []
        for chunk_id, text in chunks:
            for n, sentence in enumerate(chunk_sentences(text)):
                ids.append(f"{chunk_id}/{n}")
                texts.append(sentence)
                metadatas.append({"document": document, "chunk_id": chunk_id})
        vectors = self._embedder.embed_documents(texts) if texts else []
        return {"document": document, "ids": ids, "texts": texts, "metadatas": metadatas, "vectors": vectors}

    def replace(self, rows: dict[str, Any]) -> None:
        """Writes a document's rows from `embed` in place of the ones it had."""
        self.delete(rows["document"])
        batch = max(1, self._chroma.get_max_batch_size())
        for start in range(0, len(rows["ids"]), batch):
            end = start + batch
            self._collection.upsert(
                ids=rows["ids"][start:end],
                embeddings=rows["vectors"][start:end],
                documents=rows["texts"][start:end],
                metadatas=rows["metadatas"][start:end],
            )

    def delete(self, document: str) -> None:
        self._collection.delete(where={"document": document})

    def best(self, query_vector: Sequence[float], n: int) -> dict[str, float]:
        """The chunks of the `n` sentences nearest to the query, each with its best sentence's cosine."""
        if n <= 0:
            return {}
        result = self._collection.query(
            query_embeddings=[list(query_vector)], n_results=n, include=["metadatas", "distances"]
        )
        best: dict[str, float] = {}
        for meta, distance in zip(result["metadatas"][0], result["distances"][0], strict=True):
            if meta is None:  # deleted by another process since this one loaded its index
                continue
            chunk_id = str(meta["chunk_id"])
            best[chunk_id] = max(best.get(chunk_id, -1.0), 1.0 - float(distance))
        return best

    def backfill(self, chunks: Any) -> None:
        """Embeds the sentences of every chunk in the `chunks` collection (a knowledge base indexed
        before this index existed), a document at a time; documents already in it are left alone."""
        done = {str(m["document"]) for m in self._collection.get(include=["metadatas"])["metadatas"] if m}
        by_document: dict[str, list[tuple[str, str]]] = {}
        for chunk_id, text, meta in stored_chunks(chunks):
            if str(meta["document"]) not in done:
                by_document.setdefault(str(meta["document"]), []).append((chunk_id, text))
        for document, pairs in by_document.items():
            self.replace(self.embed(document, pairs))
        if by_document:
            log.info("Knowledge base: sentence index built for %d documents", len(by_document))

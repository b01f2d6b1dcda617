"""Each chunk's sentences embedded on their own, beside the chunks, so that a question one sentence
answers finds that sentence's chunk even when the chunk as a whole is about something else.

"how long does it take you guys to answer emails" is 0.33 from the Contact Support chunk that holds
"We reply within 1 business day" (below the relevance threshold, behind three other chunks), and 0.68
from that sentence. A chunk's score is therefore the better of its own similarity and its best
sentence's, less `SENTENCE_MARGIN` (a short sentence matches a question more closely than 800
characters do, for any question; without the margin more out-of-scope questions pass the threshold).

The sentences are those the answer check compares a reply with (`grounding.sentences.checkable_units`,
with their heading or list lead-in), in a second Chroma collection keyed by chunk: `{chunk_id}/{n}`.
Their vectors also go to the answer check's stored vectors (`stored`), so that no customer's turn
embeds an article sentence that ingestion already embedded.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from grounding.sentences import checkable_units
from knowledge.embeddings import Embedder
from knowledge.lexical import stored_chunks

if TYPE_CHECKING:
    from grounding.stored_vectors import StoredVectors

log = logging.getLogger(__name__)

SENTENCE_MARGIN = 0.05
SENTENCES_PER_RESULT = 3  # sentence hits looked at per chunk asked for


@dataclass(frozen=True)
class SentenceRows:
    """One document's sentences, embedded and ready to write (`SentenceIndex.embed`)."""

    document: str
    ids: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    metadatas: list[dict[str, str]] = field(default_factory=list)
    vectors: list[list[float]] = field(default_factory=list)


class SentenceIndex:
    """The sentence vectors of every chunk in a Chroma collection of their own."""

    def __init__(
        self, chroma: Any, embedder: Embedder, *, name: str, stored: StoredVectors | None = None
    ) -> None:
        self._chroma = chroma
        self._embedder = embedder
        self._stored = stored
        self._collection = chroma.get_or_create_collection(
            name=name, metadata={"hnsw:space": "cosine"}, embedding_function=None
        )

    def count(self) -> int:
        return int(self._collection.count())

    def embed(self, document: str, chunks: Sequence[tuple[str, str]]) -> SentenceRows:
        """The rows for one document's `(chunk_id, text)` pairs, embedded; nothing is written yet."""
        rows = SentenceRows(document)
        for chunk_id, text in chunks:
            for n, unit in enumerate(checkable_units(text)):
                rows.ids.append(f"{chunk_id}/{n}")
                rows.texts.append(unit.context)
                rows.metadatas.append({"document": document, "chunk_id": chunk_id})
        if rows.texts:
            rows.vectors.extend(self._embedder.embed_documents(rows.texts))
        return rows

    def replace(self, rows: SentenceRows) -> None:
        """Writes a document's rows from `embed` in place of the ones it had, and their vectors to the
        answer check's stored vectors (a failure there is logged: the check embeds what it lacks)."""
        self.delete(rows.document)
        batch = max(1, self._chroma.get_max_batch_size())
        for start in range(0, len(rows.ids), batch):
            end = start + batch
            self._collection.upsert(
                ids=rows.ids[start:end],
                embeddings=rows.vectors[start:end],
                documents=rows.texts[start:end],
                metadatas=rows.metadatas[start:end],
            )
        if self._stored is not None:
            self._stored.save(dict(zip(rows.texts, rows.vectors, strict=True)))

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
        """Embeds the sentences of every chunk in the `chunks` collection, a document at a time: for a
        knowledge base indexed before this index existed (the caller sees this one empty)."""
        by_document: dict[str, list[tuple[str, str]]] = {}
        for chunk_id, text, meta in stored_chunks(chunks):
            by_document.setdefault(str(meta["document"]), []).append((chunk_id, text))
        for document, pairs in by_document.items():
            self.replace(self.embed(document, pairs))
        if by_document:
            log.info("Knowledge base: sentence index built for %d documents", len(by_document))

"""The knowledge base: documents listed in SQL, their chunks and vectors in Chroma, and each chunk's
sentence vectors beside them (knowledge/sentence_index.py), kept consistent."""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlparse

from sqlalchemy import Engine, select
from sqlalchemy.orm import sessionmaker

from knowledge.embeddings import Embedder
from knowledge.lexical import LexicalIndex
from knowledge.loaders import DocumentError, LoadedDocument, load_document
from knowledge.sentence_index import SENTENCE_MARGIN, SENTENCES_PER_RESULT, SentenceIndex
from knowledge.splitting import Chunk, split_text
from knowledge.types import RetrievedChunk
from settings import Settings
from storage.models import Document

if TYPE_CHECKING:
    from grounding.stored_vectors import StoredVectors

log = logging.getLogger(__name__)

COLLECTION = "frontdesk_kb"
SearchMode = Literal["dense", "bm25", "hybrid"]


@dataclass(frozen=True)
class IngestResult:
    document: str
    title: str
    status: Literal["added", "updated", "unchanged"]
    chunks: int

    def public(self) -> dict[str, Any]:
        return {"document": self.document, "title": self.title, "status": self.status, "chunks": self.chunks}


def make_chroma_client(settings: Settings) -> Any:
    """An embedded PersistentClient under the data dir, or an HttpClient for FRONTDESK_CHROMA_URL."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        return chromadb.HttpClient(
            host=url.hostname or "localhost",
            port=url.port or (443 if url.scheme == "https" else 8000),
            ssl=url.scheme == "https",
            settings=chroma_settings,
        )
    path = settings.data_dir / "chroma"
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=chroma_settings)


class KnowledgeBase:
    """Ingest, list, delete and search help-center documents. Writes are serialised by a lock."""

    def __init__(
        self,
        *,
        engine: Engine,
        chroma: Any,
        embedder: Embedder,
        uploads_dir: Path,
        max_upload_bytes: int,
        k: int = 4,
        threshold: float = 0.35,
        mode: SearchMode = "dense",
        collection: str = COLLECTION,
        sentence_vectors: StoredVectors | None = None,
    ) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._chroma = chroma
        # No embedding function: vectors always come from `embedder`, so Chroma never downloads one.
        self._collection = chroma.get_or_create_collection(
            name=collection, metadata={"hnsw:space": "cosine"}, embedding_function=None
        )
        self._embedder = embedder
        # `sentence_vectors`: where the answer check finds the article sentences' vectors.
        self._sentences = SentenceIndex(
            chroma, embedder, name=f"{collection}_sentences", stored=sentence_vectors
        )
        if self._sentences.count() == 0 and self._collection.count() > 0:
            self._sentences.backfill(self._collection)
        self._uploads = uploads_dir
        self._uploads.mkdir(parents=True, exist_ok=True)
        self._max_bytes = max_upload_bytes
        self.k = k
        self.threshold = threshold
        self.mode: SearchMode = mode
        self._write_lock = threading.Lock()
        self._bm25: LexicalIndex | None = None

    # -- writes -----------------------------------------------------------------------------------

    def ingest(self, filename: str, data: bytes) -> IngestResult:
        """Add or replace one document; the same content again changes nothing."""
        loaded = load_document(filename, data, max_bytes=self._max_bytes)
        digest = hashlib.sha256(loaded.text.encode()).hexdigest()
        with self._write_lock:
            with self._sessions() as db:
                existing = db.get(Document, loaded.doc_id)
                twin = db.scalars(
                    select(Document).where(Document.content_hash == digest, Document.id != loaded.doc_id)
                ).first()
            if existing is not None and existing.content_hash == digest:
                return IngestResult(loaded.doc_id, existing.title, "unchanged", existing.chunk_count)
            if twin is not None:
                raise DocumentError(
                    "duplicate_document",
                    f"{loaded.filename!r} has the same content as the existing document {twin.id!r}.",
                    status=409,
                )
            count = self._index(loaded, digest, len(data), previous=existing.chunk_count if existing else 0)
            self._save_upload(loaded, data)
        status: Literal["added", "updated"] = "updated" if existing is not None else "added"
        log.info("Knowledge base: %s %s (%d chunks)", status, loaded.doc_id, count)
        return IngestResult(loaded.doc_id, loaded.title, status, count)

    def reindex(self, doc_id: str) -> IngestResult:
        """Re-split and re-embed a document from its saved upload (after a pipeline change)."""
        with self._sessions() as db:
            row = db.get(Document, doc_id)
        if row is None:
            raise KeyError(doc_id)
        data = (self._uploads / doc_id / row.filename).read_bytes()
        loaded = load_document(row.filename, data, max_bytes=self._max_bytes)
        with self._write_lock:
            count = self._index(loaded, row.content_hash, len(data), previous=row.chunk_count)
        return IngestResult(doc_id, loaded.title, "updated", count)

    def delete(self, doc_id: str) -> bool:
        """Remove a document and every chunk of it; False when there was no such document."""
        with self._write_lock:
            with self._sessions.begin() as db:
                row = db.get(Document, doc_id)
                if row is None:
                    return False
                self._collection.delete(where={"document": doc_id})
                self._sentences.delete(doc_id)
                db.delete(row)
            for path in (self._uploads / doc_id).glob("*"):
                path.unlink()
            self._bm25 = None
        return True

    def _index(self, loaded: LoadedDocument, digest: str, size: int, *, previous: int) -> int:
        chunks = split_text(loaded.text)
        if not chunks:
            raise DocumentError("empty_document", f"{loaded.filename!r} contains no text to index.")
        # Embed before touching the store, so a failure here leaves everything as it was.
        vectors = self._embedder.embed_documents([self._embedding_text(loaded, c) for c in chunks])
        ids = [f"{loaded.doc_id}:{c.position}" for c in chunks]
        sentences = self._sentences.embed(
            loaded.doc_id, [(i, c.text) for i, c in zip(ids, chunks, strict=True)]
        )
        try:
            batch = max(1, self._chroma.get_max_batch_size())
            for start in range(0, len(ids), batch):
                end = start + batch
                self._collection.upsert(
                    ids=ids[start:end],
                    embeddings=vectors[start:end],
                    documents=[c.text for c in chunks[start:end]],
                    metadatas=[
                        {
                            "document": loaded.doc_id,
                            "title": loaded.title,
                            "section": c.section,
                            "position": c.position,
                        }
                        for c in chunks[start:end]
                    ],
                )
            stale = [f"{loaded.doc_id}:{n}" for n in range(len(chunks), previous)]
            if stale:
                self._collection.delete(ids=stale)
            self._sentences.replace(sentences)
            now = datetime.now(UTC)
            with self._sessions.begin() as db:
                row = db.get(Document, loaded.doc_id)
                if row is None:
                    row = Document(id=loaded.doc_id, created_at=now)
                    db.add(row)
                row.title = loaded.title
                row.filename = loaded.filename
                row.content_hash = digest
                row.chunk_count = len(chunks)
                row.size_bytes = size
                row.updated_at = now
        except Exception:
            # Never leave chunks that the document list does not account for.
            self._collection.delete(where={"document": loaded.doc_id})
            self._sentences.delete(loaded.doc_id)
            with self._sessions.begin() as db:
                row = db.get(Document, loaded.doc_id)
                if row is not None:
                    db.delete(row)
            raise
        finally:
            self._bm25 = None
        return len(chunks)

    def _save_upload(self, loaded: LoadedDocument, data: bytes) -> None:
        folder = self._uploads / loaded.doc_id
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*"):
            old.unlink()
        (folder / PurePosixPath(loaded.filename).name).write_bytes(data)

    @staticmethod
    def _embedding_text(loaded: LoadedDocument, chunk: Chunk) -> str:
        heading = (
            f"{loaded.title} — {chunk.section}"
            if chunk.section and chunk.section != loaded.title
            else loaded.title
        )
        return f"{heading}\n{chunk.text}"

    # -- reads ------------------------------------------------------------------------------------

    def documents(self) -> list[dict[str, Any]]:
        with self._sessions() as db:
            rows = db.scalars(select(Document).order_by(Document.title))
            return [
                {
                    "id": r.id,
                    "title": r.title,
                    "filename": r.filename,
                    "chunks": r.chunk_count,
                    "size_bytes": r.size_bytes,
                    "updated_at": (
                        r.updated_at if r.updated_at.tzinfo else r.updated_at.replace(tzinfo=UTC)
                    ).isoformat(),
                }
                for r in rows
            ]

    def has_documents(self) -> bool:
        with self._sessions() as db:
            return db.scalars(select(Document.id).limit(1)).first() is not None

    def chunk_count(self) -> int:
        return self._collection.count()

    def retrieve(self, query: str, *, k: int | None = None) -> list[RetrievedChunk]:
        """The best chunks that pass the relevance threshold, best first."""
        return [c for c in self.search(query, k=k) if c.score >= self.threshold]

    def search(
        self, query: str, *, k: int | None = None, mode: SearchMode | None = None
    ) -> list[RetrievedChunk]:
        """Ranked chunks with their cosine similarity as `score` (no threshold)."""
        k = k or self.k
        mode = mode or self.mode
        # No count() first: against a Chroma server that is a request per search; an empty store
        # answers the query with nothing.
        if not query.strip():
            return []
        if mode == "bm25":
            return self._bm25_search(query, k)
        dense = self._dense_search(query, k if mode == "dense" else max(k * 4, 20))
        if mode == "dense" or not dense:
            return dense
        return self._fuse(query, dense, k)

    def _dense_search(self, query: str, k: int) -> list[RetrievedChunk]:
        """The `k` chunks nearest to the query, each scored by the better of its own similarity and its
        best sentence's (less SENTENCE_MARGIN: see knowledge/sentence_index.py)."""
        vector = self._embedder.embed_query(query)
        result = self._collection.query(
            query_embeddings=[vector], n_results=k, include=["documents", "metadatas", "distances"]
        )
        found = {
            chunk_id: (text, meta, 1.0 - float(distance))
            for chunk_id, text, meta, distance in zip(
                result["ids"][0],
                result["documents"][0],
                result["metadatas"][0],
                result["distances"][0],
                strict=True,
            )
        }
        by_sentence = self._sentences.best(vector, k * SENTENCES_PER_RESULT)
        # A chunk outside the chunk query's top k has a cosine no higher than the k-th's, so it can only
        # get in by its sentence: its score is then the sentence's, and its own vector is not needed.
        kth = (
            min((similarity for _, _, similarity in found.values()), default=-1.0)
            if len(found) >= k
            else -1.0
        )
        missing = [c for c, s in by_sentence.items() if c not in found and s - SENTENCE_MARGIN > kth]
        if missing:
            got = self._collection.get(ids=missing, include=["documents", "metadatas"])
            for chunk_id, text, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
                found[chunk_id] = (text, meta, -1.0)
        chunks = []
        for chunk_id, (text, meta, similarity) in found.items():
            if text is None or meta is None:
                # Another process deleted this chunk after this one loaded its vector index
                # (embedded Chroma caches the index per process): it no longer exists, skip it.
                log.warning("Knowledge base: chunk %s has vanished from the store; skipped", chunk_id)
                continue
            chunks.append(
                RetrievedChunk(
                    chunk_id=chunk_id,
                    document=str(meta["document"]),
                    title=str(meta["title"]),
                    section=str(meta.get("section") or ""),
                    text=text,
                    score=max(similarity, by_sentence.get(chunk_id, -1.0) - SENTENCE_MARGIN),
                )
            )
        chunks.sort(key=lambda c: -c.score)
        return chunks[:k]

    def _bm25_search(self, query: str, k: int) -> list[RetrievedChunk]:
        if self._bm25 is None:
            if self.chunk_count() == 0:  # once per index build, not per search
                return []
            self._bm25 = LexicalIndex(self._collection)
        return self._bm25.search(query, k)

    def _fuse(self, query: str, dense: list[RetrievedChunk], k: int) -> list[RetrievedChunk]:
        """Reciprocal-rank fusion of dense and BM25; the reported score stays the cosine similarity."""
        lexical = self._bm25_search(query, len(dense))
        fused: dict[str, float] = {}
        for ranking in (dense, lexical):
            for rank, chunk in enumerate(ranking):
                fused[chunk.chunk_id] = fused.get(chunk.chunk_id, 0.0) + 1.0 / (60 + rank)
        by_id = {c.chunk_id: c for c in dense}
        order = sorted((i for i in fused if i in by_id), key=lambda i: -fused[i])
        return [by_id[i] for i in order[:k]]

    def ingest_paths(
        self,
        paths: Iterable[Path],
        *,
        progress: Callable[[Path, IngestResult | Exception], None] | None = None,
    ) -> list[IngestResult | Exception]:
        """Ingest files from disk, one at a time; an error for one file does not stop the others."""
        results: list[IngestResult | Exception] = []
        for path in paths:
            try:
                outcome: IngestResult | Exception = self.ingest(path.name, path.read_bytes())
            except (DocumentError, OSError) as exc:
                outcome = exc
            results.append(outcome)
            if progress:
                progress(path, outcome)
        return results


def build_knowledge_base(
    settings: Settings,
    engine: Engine,
    embedder: Embedder | None = None,
    *,
    sentence_vectors: StoredVectors | None = None,
) -> KnowledgeBase:
    """The configured knowledge base; its sentence vectors also go to `sentence_vectors` (default: the
    answer check's table for the configured embedding model)."""
    from grounding.stored_vectors import StoredVectors
    from knowledge.embeddings import build_embedder

    return KnowledgeBase(
        engine=engine,
        chroma=make_chroma_client(settings),
        embedder=embedder or build_embedder(settings),
        uploads_dir=settings.data_dir / "uploads",
        max_upload_bytes=settings.max_upload_bytes,
        k=settings.retrieval_k,
        threshold=settings.retrieval_threshold,
        sentence_vectors=sentence_vectors or StoredVectors(engine, model=settings.embedding_model),
    )

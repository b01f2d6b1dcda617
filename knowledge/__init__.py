"""The knowledge base: loading and splitting documents, embeddings, the Chroma store (chunks and their
sentences), retrieval."""

from knowledge.loaders import DocumentError
from knowledge.store import IngestResult, KnowledgeBase, build_knowledge_base
from knowledge.types import RetrievedChunk, Retriever

__all__ = [
    "DocumentError",
    "IngestResult",
    "KnowledgeBase",
    "RetrievedChunk",
    "Retriever",
    "build_knowledge_base",
]

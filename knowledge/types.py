"""Value types shared by the knowledge package and its callers."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class RetrievedChunk:
    chunk_id: str
    document: str
    title: str
    section: str
    text: str
    score: float

    def citation(self) -> dict[str, Any]:
        """The chunk as the REST contract's `citations` entry."""
        return {
            "document": self.document,
            "title": self.title,
            "chunk_id": self.chunk_id,
            "score": round(self.score, 4),
        }

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Retriever(Protocol):
    """What a turn needs from the knowledge base."""

    def retrieve(self, query: str, *, k: int | None = None) -> list[RetrievedChunk]:
        """The best chunks for `query` that pass the relevance threshold, best first."""
        ...

    def has_documents(self) -> bool:
        """Whether any document is indexed at all."""
        ...

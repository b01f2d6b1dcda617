"""Heading-aware splitting with langchain-text-splitters: Markdown sections, then sized chunks."""

from __future__ import annotations

from dataclasses import dataclass

from langchain_text_splitters import MarkdownHeaderTextSplitter, RecursiveCharacterTextSplitter

CHUNK_CHARS = 800
CHUNK_OVERLAP = 100


@dataclass(frozen=True)
class Chunk:
    position: int
    section: str
    text: str


def split_text(text: str, *, chunk_chars: int = CHUNK_CHARS, overlap: int = CHUNK_OVERLAP) -> list[Chunk]:
    """Split on Markdown headings first (so a chunk stays inside one section), then by size."""
    by_heading = MarkdownHeaderTextSplitter(
        headers_to_split_on=[("#", "h1"), ("##", "h2"), ("###", "h3")], strip_headers=False
    ).split_text(text)
    sizer = RecursiveCharacterTextSplitter(chunk_size=chunk_chars, chunk_overlap=overlap)
    chunks: list[Chunk] = []
    for section in by_heading:
        heading = section.metadata.get("h3") or section.metadata.get("h2") or section.metadata.get("h1") or ""
        for piece in sizer.split_text(section.page_content):
            if piece.strip():
                chunks.append(Chunk(position=len(chunks), section=heading, text=piece.strip()))
    return chunks

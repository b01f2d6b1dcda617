"""The answer check's source-sentence vectors kept in the database (SQLite and PostgreSQL): a second
process (here a second checker on the same database) embeds only its own texts, and gets the same
verdict."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from grounding import AnswerChecker
from grounding.stored_vectors import StoredVectors
from grounding.verdict import Source
from storage import make_engine, migrate

ARTICLE = Source(
    title="Shipping",
    text=(
        "## Delivery times\n\nStandard shipping takes 3 to 5 business days. Express shipping takes "
        "1 to 2 business days.\n\n## Where we ship\n\nWe ship to the United States and Canada. "
        "Orders to Canada may owe import duties."
    ),
    document="shipping",
)
REPLY = "Standard shipping takes 3 to 5 business days. Express shipping takes 1 to 2 business days."


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_a_second_process_reuses_the_stored_sentence_vectors(
    embedder, data_dir: Path, database: str, request: pytest.FixtureRequest
) -> None:
    url = (
        f"sqlite:///{data_dir / 'vectors.db'}"
        if database == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    engine = make_engine(url)
    migrate(engine)
    calls: list[list[str]] = []

    def embed(texts: list[str]) -> list[list[float]]:
        calls.append(list(texts))
        return embedder.embed_documents(texts)

    def checker(model: str = "all-MiniLM-L6-v2") -> AnswerChecker:
        return AnswerChecker(embed, stored=StoredVectors(engine, model=model))

    first = checker().check(question="How long does shipping take?", reply=REPLY, sources=[ARTICLE])
    cold = calls.pop()
    second = checker().check(question="How long does shipping take?", reply=REPLY, sources=[ARTICLE])
    warm = calls.pop()

    assert second.text == first.text and first.text is not None and "3 to 5 business days" in first.text
    assert [(v.text, v.kept, v.reason) for v in second.sentences] == [
        (v.text, v.kept, v.reason) for v in first.sentences
    ]
    # The first checker embedded the article's sentences before the check's own texts; the second,
    # only the same texts of its own.
    sentences = cold[: len(cold) - len(warm)]
    assert len(sentences) >= 4 and cold[len(sentences) :] == warm
    stored = StoredVectors(engine, model="all-MiniLM-L6-v2").load(sentences)
    assert set(stored) == set(sentences)
    fresh = np.asarray(embedder.embed_documents(sentences[:1]), dtype=np.float32)[0]
    assert np.allclose(stored[sentences[0]], fresh / np.linalg.norm(fresh), atol=1e-5)
    # Another embedding model's vectors are not these; a sentence stored twice (two processes at
    # once) keeps the first row.
    assert StoredVectors(engine, model="another-model").load(sentences) == {}
    StoredVectors(engine, model="all-MiniLM-L6-v2").save({sentences[0]: np.zeros(384, dtype=np.float32)})
    assert np.allclose(
        StoredVectors(engine, model="all-MiniLM-L6-v2").load(sentences[:1])[sentences[0]],
        stored[sentences[0]],
    )
    engine.dispose()


def test_a_turn_after_ingestion_embeds_no_article_sentence(embedder, data_dir: Path) -> None:
    # The knowledge base as the app builds it: ingesting an article stores its sentences' vectors,
    # so checking a reply against the excerpt a search finds embeds only the check's own texts.
    from knowledge import build_knowledge_base
    from settings import Settings

    settings = Settings(data_dir=data_dir, chroma_url=None, database_url=None)
    engine = make_engine(settings.resolved_database_url)
    migrate(engine)
    kb = build_knowledge_base(settings, engine, embedder)
    kb.ingest("shipping.md", ("# Shipping\n\n" + ARTICLE.text).encode())
    question = "How long does standard shipping take?"
    found = [c for c in kb.search(question) if c.document == "shipping"]
    assert found
    calls: list[list[str]] = []

    def embed(texts: list[str]) -> list[list[float]]:
        calls.append(list(texts))
        return embedder.embed_documents(texts)

    checker = AnswerChecker(embed, stored=StoredVectors(engine, model=settings.embedding_model))
    verdict = checker.check(
        question=question,
        reply=REPLY,
        sources=[Source(title=c.title, text=c.text, document=c.document) for c in found],
    )

    assert verdict.text is not None and "3 to 5 business days" in verdict.text
    embedded = [t for call in calls for t in call]
    # The reply's two sentences and the question; none of the article's own sentences.
    assert question in embedded
    assert not any(t in c.text for c in found for t in embedded if t not in REPLY), embedded
    assert len(embedded) <= 4, embedded
    engine.dispose()

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

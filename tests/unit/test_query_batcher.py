"""Query embeddings batched across threads: fewer model calls than queries, the same vectors."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from knowledge.batching import QueryBatcher

QUESTIONS = [
    "how long does shipping take",
    "can i return a lamp",
    "do you accept apple pay",
    "my blender broke after a month",
    "how do i reset my password",
    "where is my order",
    "is return shipping free",
    "do gift cards expire",
] * 2


def ask_together(batcher: QueryBatcher, questions: list[str]) -> list:
    results: list = [None] * len(questions)
    start = threading.Barrier(len(questions))

    def ask(i: int) -> None:
        start.wait()
        try:
            results[i] = batcher.embed_query(questions[i])
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(questions))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    return results


def test_concurrent_queries_share_encode_calls_and_get_the_vectors_they_would_alone(embedder) -> None:
    batcher = QueryBatcher(embedder)
    vectors = ask_together(batcher, QUESTIONS)

    assert batcher.calls < len(QUESTIONS) / 3
    alone = {q: embedder.embed_query(q) for q in set(QUESTIONS)}
    for question, got in zip(QUESTIONS, vectors, strict=True):
        assert np.allclose(got, alone[question], atol=1e-5)


def test_one_query_at_a_time_is_one_call_each(embedder) -> None:
    batcher = QueryBatcher(embedder)
    for question in QUESTIONS[:3]:
        assert np.allclose(batcher.embed_query(question), embedder.embed_query(question), atol=1e-5)
    assert batcher.calls == 3


class Failing:
    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        raise RuntimeError("embedding model crashed")


def test_a_failing_model_fails_every_waiting_query_and_none_hangs() -> None:
    results = ask_together(QueryBatcher(Failing()), QUESTIONS[:8])
    assert all(isinstance(r, RuntimeError) for r in results)
    batcher = QueryBatcher(Failing())
    with pytest.raises(RuntimeError, match="crashed"):
        batcher.embed_query("still answers")

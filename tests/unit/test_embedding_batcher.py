"""Embeddings batched across threads: fewer model calls than requests, the same vectors."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from knowledge.batching import EmbeddingBatcher

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


def ask_together(batcher: EmbeddingBatcher, questions: list[str]) -> list:
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
    batcher = EmbeddingBatcher(embedder)
    vectors = ask_together(batcher, QUESTIONS)

    assert batcher.calls < len(QUESTIONS) / 3
    alone = {q: embedder.embed_query(q) for q in set(QUESTIONS)}
    for question, got in zip(QUESTIONS, vectors, strict=True):
        assert np.allclose(got, alone[question], atol=1e-5)


def test_one_query_at_a_time_is_one_call_each(embedder) -> None:
    batcher = EmbeddingBatcher(embedder)
    for question in QUESTIONS[:3]:
        assert np.allclose(batcher.embed_query(question), embedder.embed_query(question), atol=1e-5)
    assert batcher.calls == 3


class Failing:
    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        raise RuntimeError("embedding model crashed")


def test_a_failing_model_fails_every_waiting_query_and_none_hangs() -> None:
    results = ask_together(EmbeddingBatcher(Failing()), QUESTIONS[:8])
    assert all(isinstance(r, RuntimeError) for r in results)
    batcher = EmbeddingBatcher(Failing())
    with pytest.raises(RuntimeError, match="crashed"):
        batcher.embed_query("still answers")


def test_lists_of_texts_from_many_threads_each_get_their_own_vectors_in_order(embedder) -> None:
    # Requests of 1 to 5 texts, max_batch small enough that the leader must split the queue.
    requests = [QUESTIONS[i : i + 1 + i % 5] for i in range(12)]
    batcher = EmbeddingBatcher(embedder, max_batch=8)
    results: list = [None] * len(requests)
    start = threading.Barrier(len(requests))

    def ask(i: int) -> None:
        start.wait()
        results[i] = batcher.embed_texts(requests[i])

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(requests))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert batcher.calls < len(requests)
    for texts, got in zip(requests, results, strict=True):
        assert len(got) == len(texts)
        for text, vector in zip(texts, got, strict=True):
            assert np.allclose(vector, embedder.embed_query(text), atol=1e-5)
    assert batcher.embed_texts([]) == []


class Short:
    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [[1.0, 0.0]] * (len(texts) - 1)


def test_a_model_that_returns_too_few_vectors_is_an_error_not_a_shifted_answer() -> None:
    with pytest.raises(RuntimeError, match="1 vectors for 2 texts"):
        EmbeddingBatcher(Short()).embed_texts(["a", "b"])


def test_a_text_embedded_recently_is_not_embedded_again(embedder) -> None:
    # A turn embeds its question for the search, then again among the answer check's texts.
    batcher = EmbeddingBatcher(embedder, remember=2)
    question = QUESTIONS[0]
    first = batcher.embed_query(question)
    again = batcher.embed_texts([QUESTIONS[1], question])
    assert batcher.calls == 2
    assert again[1] == first
    assert np.allclose(again[0], embedder.embed_query(QUESTIONS[1]), atol=1e-5)
    # Only the last `remember` texts are kept.
    batcher.embed_query(QUESTIONS[2])
    batcher.embed_query(question)
    assert batcher.calls == 4

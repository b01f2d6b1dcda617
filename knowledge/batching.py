"""Embeddings batched across concurrent turns: the queries (and the answer check's few texts) that
arrive within a few milliseconds of each other share one `embed_documents` (one `encode`) call.

One model call for 32 queries costs far less CPU than 32 calls of one, and the calls no longer
queue behind each other under the GIL (or oversubscribe the cores with one thread pool each). The
first request to arrive leads: it waits `window_s` for others, embeds everything waiting (up to
`max_batch` texts, and at least one request), hands each its vectors, and passes the lead to a
request still waiting, if any. At one request at a time this adds `window_s`.

The vectors of the last `remember` texts are kept: a turn embeds its question for the search and
again for the answer check, and customers ask the same questions.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

import numpy as np


class _Slot:
    __slots__ = ("done", "error", "lead", "ready", "texts", "vectors")

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts
        self.vectors: list[list[float]] | None = None
        self.error: BaseException | None = None
        self.done = False
        self.lead = False
        self.ready = threading.Event()


class EmbeddingBatcher:
    """Wraps an embedder: `embed_documents` passes through (ingestion's long lists), `embed_query`
    and `embed_texts` (a few texts) are batched with other threads' (thread-safe)."""

    def __init__(
        self, embedder: object, *, window_s: float = 0.003, max_batch: int = 64, remember: int = 1024
    ) -> None:
        self._embedder = embedder
        self._embed: Callable[[list[str]], list[list[float]]] = embedder.embed_documents  # type: ignore[attr-defined]
        self.window_s = window_s
        self.max_batch = max_batch
        self.calls = 0  # model calls made for batched requests (for tests and benchmarks)
        self._lock = threading.Lock()
        self._pending: list[_Slot] = []
        self._leading = False
        self._remember = remember
        self._known: OrderedDict[str, np.ndarray] = OrderedDict()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._embed(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.embed_texts([text])[0]

    def embed_texts(self, texts: list[str]) -> list[list[float]]:
        """`embed_documents` for a few texts, sharing a model call with concurrent requests."""
        if not texts:
            return []
        with self._lock:
            known = {t: self._known[t] for t in texts if t in self._known}
            for text in known:
                self._known.move_to_end(text)
        missing = list(dict.fromkeys(t for t in texts if t not in known))
        if missing:
            for text, vector in zip(missing, self._embed_missing(missing), strict=True):
                known[text] = np.asarray(vector, dtype=np.float32)
            with self._lock:
                for text in missing:
                    self._known[text] = known[text]
                while len(self._known) > self._remember:
                    self._known.popitem(last=False)
        return [known[t].tolist() for t in texts]

    def _embed_missing(self, texts: list[str]) -> list[list[float]]:
        slot = _Slot(texts)
        with self._lock:
            self._pending.append(slot)
            lead = not self._leading
            self._leading = True
        if lead:
            time.sleep(self.window_s)
        else:
            slot.ready.wait()
            if not slot.done:  # handed the lead: embed what waits, this query first
                slot.ready.clear()
        if not slot.done:
            self._lead(slot)
        if slot.error is not None:
            raise slot.error
        assert slot.vectors is not None
        return slot.vectors

    def _lead(self, own: _Slot) -> None:
        while not own.done:
            with self._lock:
                taken, size = 0, 0
                while taken < len(self._pending) and (
                    taken == 0 or size + len(self._pending[taken].texts) <= self.max_batch
                ):
                    size += len(self._pending[taken].texts)
                    taken += 1
                batch = self._pending[:taken]
                del self._pending[:taken]
            self._run(batch)
        with self._lock:
            if self._pending:
                successor = self._pending[0]
                successor.lead = True
                successor.ready.set()
            else:
                self._leading = False

    def _run(self, batch: list[_Slot]) -> None:
        try:
            self.calls += 1
            texts = [text for s in batch for text in s.texts]
            vectors = self._embed(texts)
            if len(vectors) != len(texts):
                raise RuntimeError(f"the embedder returned {len(vectors)} vectors for {len(texts)} texts")
        except Exception as exc:  # every waiting request gets the failure, none hangs
            for slot in batch:
                slot.error = exc
        else:
            start = 0
            for slot in batch:
                slot.vectors = list(vectors[start : start + len(slot.texts)])
                start += len(slot.texts)
        for slot in batch:
            slot.done = True
            slot.ready.set()

"""Query embeddings batched across concurrent requests: the queries that arrive within a few
milliseconds of each other share one `embed_documents` (one `encode`) call.

One model call for 32 queries costs far less CPU than 32 calls of one, and the calls no longer
queue behind each other under the GIL. The first query to arrive leads: it waits `window_s` for
others, embeds everything waiting (up to `max_batch`), hands each its vector, and passes the lead
to a query still waiting, if any. At one request at a time this adds `window_s` to retrieval.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class _Slot:
    __slots__ = ("done", "error", "lead", "ready", "text", "vector")

    def __init__(self, text: str) -> None:
        self.text = text
        self.vector: list[float] | None = None
        self.error: BaseException | None = None
        self.done = False
        self.lead = False
        self.ready = threading.Event()


class QueryBatcher:
    """Wraps an embedder: `embed_documents` passes through, `embed_query` is batched (thread-safe)."""

    def __init__(self, embedder: object, *, window_s: float = 0.003, max_batch: int = 64) -> None:
        self._embedder = embedder
        self._embed: Callable[[list[str]], list[list[float]]] = embedder.embed_documents  # type: ignore[attr-defined]
        self.window_s = window_s
        self.max_batch = max_batch
        self.calls = 0  # model calls made for queries (for tests and benchmarks)
        self._lock = threading.Lock()
        self._pending: list[_Slot] = []
        self._leading = False

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._embed(texts)

    def embed_query(self, text: str) -> list[float]:
        slot = _Slot(text)
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
        assert slot.vector is not None
        return slot.vector

    def _lead(self, own: _Slot) -> None:
        while not own.done:
            with self._lock:
                batch = self._pending[: self.max_batch]
                del self._pending[: self.max_batch]
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
            vectors = self._embed([s.text for s in batch])
        except Exception as exc:  # every waiting query gets the failure, none hangs
            for slot in batch:
                slot.error = exc
        else:
            for slot, vector in zip(batch, vectors, strict=True):
                slot.vector = vector
        for slot in batch:
            slot.done = True
            slot.ready.set()

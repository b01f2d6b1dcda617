"""The answer check's embeddings: source sentences split and embedded once (LRU caches shared by the
threads that run checks, and with `stored`, the database's vectors shared by every process), and each
check's own texts embedded in the same model call."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import numpy as np

from grounding.extractive import SourceUnit
from grounding.sentences import Unit, checkable_units
from grounding.verdict import Embed, Source

if TYPE_CHECKING:
    from grounding.stored_vectors import StoredVectors


class SourceVectors:
    """Splits sources into sentences and embeds them, remembering both (`cache_size` entries each)."""

    def __init__(self, embed: Embed, *, cache_size: int = 4096, stored: StoredVectors | None = None) -> None:
        self.embed = embed
        self.stored = stored
        self._size = cache_size
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._splits: OrderedDict[str, list[Unit]] = OrderedDict()
        self._lock = threading.Lock()

    def units(self, sources: list[Source]) -> list[SourceUnit]:
        """Every sentence of `sources` worth checking against (two words or more), in order."""
        out: list[SourceUnit] = []
        for index, source in enumerate(sources):
            with self._lock:
                units = self._splits.get(source.text)
            if units is None:
                units = checkable_units(source.text)
                with self._lock:
                    self._remember(self._splits, source.text, units)
            out.extend(SourceUnit(u, index, n) for n, u in enumerate(units))
        return out

    def embed_with(self, texts: list[str], source_units: list[SourceUnit]) -> tuple[np.ndarray, np.ndarray]:
        """`texts`' vectors and the matrix of `source_units`' vectors (a row each), from one `embed`
        call that also embeds the source sentences not cached yet."""
        keys = [su.unit.context for su in source_units]
        with self._lock:
            known = {k: self._vectors[k] for k in keys if k in self._vectors}
        missing = list(dict.fromkeys(k for k in keys if k not in known))
        loaded = self.stored.load(missing) if self.stored is not None and missing else {}
        known.update(loaded)
        new = [k for k in missing if k not in loaded]
        batch = new + texts
        vectors = unit_rows(np.asarray(self.embed(batch), dtype=np.float32)) if batch else _empty()
        known.update(zip(new, vectors[: len(new)], strict=True))
        if self.stored is not None and new:
            self.stored.save({k: known[k] for k in new})
        with self._lock:
            for key in missing:
                self._remember(self._vectors, key, known[key])
            for key in keys:
                if key in self._vectors:
                    self._vectors.move_to_end(key)
        matrix = np.stack([known[k] for k in keys]) if keys else _empty()
        return vectors[len(new) :], matrix

    def _remember(self, cache: OrderedDict[str, Any], key: str, value: Any) -> None:
        cache[key] = value
        cache.move_to_end(key)
        while len(cache) > self._size:
            cache.popitem(last=False)


def _empty() -> np.ndarray:
    return np.zeros((0, 1), dtype=np.float32)


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    """Each row scaled to unit length (a zero row stays zero), as the check compares vectors."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return matrix / norms

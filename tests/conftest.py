"""Shared fixtures: a fresh data dir per test, and the expensive real parts loaded once per run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own FRONTDESK_DATA_DIR, so nothing leaks between tests."""
    path = tmp_path / "data"
    path.mkdir()
    monkeypatch.setenv("FRONTDESK_DATA_DIR", str(path))
    return path


@pytest.fixture(scope="session")
def embedder():
    from knowledge.embeddings import LocalEmbedder

    return LocalEmbedder()


@pytest.fixture(scope="session")
def gguf_path() -> Path:
    from llm import bundled_gguf_path

    return bundled_gguf_path()

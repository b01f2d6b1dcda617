"""The in-process embedder on ONNX Runtime gives sentence-transformers' vectors, and its export is
made once and reused."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from knowledge.embeddings import LocalEmbedder, bundled_minilm_path
from knowledge.onnx_export import onnx_model

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "knowledge" / "demo"


def demo_texts() -> list[str]:
    paragraphs = [p for f in sorted(DEMO.glob("*.md")) for p in f.read_text().split("\n\n") if p.strip()]
    # Edge cases too: empty, one letter, past the model's 256 tokens (truncated), accents and emoji.
    return [*paragraphs, "", "a", "refund " * 400, "Ünïcödé café: naïve résumé 🙂"]


def test_vectors_match_sentence_transformers(embedder: LocalEmbedder) -> None:
    from sentence_transformers import SentenceTransformer

    texts = demo_texts()
    reference = SentenceTransformer(str(bundled_minilm_path()), device="cpu").encode(
        texts, normalize_embeddings=True, show_progress_bar=False
    )
    ours = np.array(embedder.embed_documents(texts))
    assert ours.shape == reference.shape == (len(texts), 384)
    assert np.abs(ours - reference).max() < 1e-5
    # In the caller's order, whatever order the batches ran in.
    assert embedder.embed_query(texts[3]) == pytest.approx(list(ours[3]), abs=1e-6)
    assert np.linalg.norm(ours, axis=1) == pytest.approx(np.ones(len(texts)), abs=1e-5)


def test_the_export_is_made_once_and_reused(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = onnx_model(bundled_minilm_path(), cache=cache)
    made = first.stat().st_mtime_ns
    assert onnx_model(bundled_minilm_path(), cache=cache) == first
    assert first.stat().st_mtime_ns == made
    assert [p.name for p in cache.iterdir()] == [first.name]  # no partial file left behind
    # A process that finds the export embeds without importing torch.
    probe = (
        "import sys; from pathlib import Path; from knowledge.embeddings import LocalEmbedder\n"
        f"vector = LocalEmbedder(cache=Path({str(cache)!r})).embed_query('where is my order')\n"
        "print(len(vector), 'torch' in sys.modules)\n"
    )
    ran = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert ran.stdout.split() == ["384", "False"], ran.stdout + ran.stderr


def test_a_cache_that_cannot_be_written_gets_an_export_of_its_own(tmp_path: Path) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    made = onnx_model(bundled_minilm_path(), cache=blocked / "cache")
    assert made.is_file() and not made.is_relative_to(blocked)
    assert len(LocalEmbedder(cache=blocked / "cache").embed_query("refund")) == 384


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: ONNX Runtime starts no pool threads to spin")
def test_no_cpu_is_burnt_between_calls(embedder: LocalEmbedder) -> None:
    # Queries a few milliseconds apart, as a chat's are: ONNX Runtime's pool threads must sleep in
    # the gaps rather than spin (they would take the cores the chat model needs). Spinning threads
    # keep the process's CPU time near the wall time; sleeping ones leave it near the work done.
    for _ in range(3):
        embedder.embed_query("warm up")
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(50):
        embedder.embed_query("where is my order please")
        time.sleep(0.01)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    assert cpu < 0.75 * wall, f"{cpu:.2f} s of CPU in {wall:.2f} s"

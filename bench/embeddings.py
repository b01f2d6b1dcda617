"""CPU time of one embedding call, sentence-transformers on torch against the app's ONNX Runtime path.

    HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 .venv/bin/python bench/embeddings.py

Both embed the same help-center sentences with all-MiniLM-L6-v2 (normalised vectors), in batches of
the sizes a turn sends (its query: 1; its reply's sentences as they stream in, alone or a few at a
time; the check's preparation: up to a few dozen), and of one ingested document. Each size is
timed over `--repeat` calls, after one warm-up call; CPU time of this process (all threads), so
the figure holds whatever else runs. `OMP_NUM_THREADS=1` matches an app replica in bench/gpu/.
"""

from __future__ import annotations

import argparse
import re
import time
from collections.abc import Callable

import numpy as np
from _common import ROOT, machine, quiet, table


def sentences() -> list[str]:
    text = " ".join(p.read_text() for p in sorted((ROOT / "knowledge" / "demo").glob("*.md")))
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if len(s.split()) > 3]


def cpu_ms(embed: Callable[[list[str]], object], texts: list[str], repeat: int) -> float:
    embed(texts)
    started = time.process_time()
    for _ in range(repeat):
        embed(texts)
    return 1000 * (time.process_time() - started) / repeat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1,2,4,8,16,64")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    quiet()
    from sentence_transformers import SentenceTransformer

    from knowledge.embeddings import LocalEmbedder, bundled_minilm_path

    ours = LocalEmbedder()
    torch_model = SentenceTransformer(str(bundled_minilm_path()), device="cpu")

    def on_torch(texts: list[str]) -> object:
        return torch_model.encode(texts, normalize_embeddings=True, show_progress_bar=False)

    pool = sentences()
    rows = []
    for size in [int(s) for s in args.sizes.split(",")]:
        texts = pool[:size]
        drift = np.abs(np.array(ours.embed_documents(texts)) - on_torch(texts)).max()
        torch_ms, onnx_ms = (
            cpu_ms(on_torch, texts, args.repeat),
            cpu_ms(ours.embed_documents, texts, args.repeat),
        )
        rows.append([size, torch_ms, onnx_ms, f"{100 * onnx_ms / torch_ms:.0f} %", f"{drift:.0e}"])
    print(f"# embeddings — {machine()}\n")
    headers = ["texts per call", "torch CPU ms", "ONNX Runtime CPU ms", "ONNX / torch", "max |Δ|"]
    print(table(headers, rows))


if __name__ == "__main__":
    main()

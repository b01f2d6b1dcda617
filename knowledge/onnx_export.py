"""The ONNX export of a sentence-transformers model's transformer, made once and cached on disk.

`LocalEmbedder` runs the embedding model on ONNX Runtime: the same vectors as sentence-transformers'
torch path (to ~1e-7) for 46–82 % of its CPU time on the 1 to 8 sentences a turn embeds at once
(bench/README.md, "Embeddings on ONNX Runtime"). The export needs torch and transformers, so it
happens here, the first time a process asks for a model that has none cached; after that a process
embeds without importing torch at all. sentence-transformers' own ONNX backend would do the same
through Optimum, whose releases pin transformers below the version Frontdesk runs.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
import warnings
from pathlib import Path

log = logging.getLogger(__name__)

# Part of the cache key: a change to how the export is made must not reuse older files.
EXPORT_VERSION = 1
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def cache_dir() -> Path:
    """Where exports are kept: `$XDG_CACHE_HOME/frontdesk` (default `~/.cache/frontdesk`)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "frontdesk"


def onnx_model(model_dir: Path, *, cache: Path | None = None) -> Path:
    """The `.onnx` file of `model_dir`'s transformer (token embeddings out; pooling is the caller's),
    exported now if the cache has none for these weights. Safe for processes starting together:
    each writes its own temporary file and the last rename wins with identical content."""
    weights = model_dir / "model.safetensors"
    stat = weights.stat()
    key = f"{EXPORT_VERSION}|{weights.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    name = f"{model_dir.parent.name or model_dir.name}-{digest}.onnx"
    target = (cache or cache_dir()) / name
    if target.exists():
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        writable = os.access(target.parent, os.W_OK)
    except OSError:
        writable = False
    if not writable:  # a read-only home: this process exports for itself
        target = Path(tempfile.mkdtemp(prefix="frontdesk-onnx-")) / name
    partial = target.with_name(f"{target.name}.{os.getpid()}.part")
    started = time.perf_counter()
    _export(model_dir, partial)
    os.replace(partial, target)
    log.info("Exported %s to ONNX in %.1f s: %s", model_dir, time.perf_counter() - started, target)
    return target


def _export(model_dir: Path, out: Path) -> None:
    import torch
    from transformers import AutoModel

    class TokenEmbeddings(torch.nn.Module):
        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(
            self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
        ) -> torch.Tensor:
            ids = {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids}
            return self.model(**ids).last_hidden_state

    model = AutoModel.from_pretrained(str(model_dir)).eval()
    sample = torch.ones((2, 8), dtype=torch.long)
    axes = {name: {0: "batch", 1: "tokens"} for name in (*INPUTS, "token_embeddings")}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the tracer's notes on Python conditions in the model
        torch.onnx.export(
            TokenEmbeddings(model),
            (sample, sample, torch.zeros_like(sample)),
            str(out),
            input_names=list(INPUTS),
            output_names=["token_embeddings"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )

"""Shared helpers for the benchmarks: repo import path, quiet logging, temp knowledge bases, tables."""

from __future__ import annotations

import logging
import math
import os
import platform
import re
import sys
import warnings
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TQDM_DISABLE", "1")  # read when tqdm is imported

DEMO_DIR = ROOT / "knowledge" / "demo"


def quiet() -> None:
    """Keep library chatter (model loading, progress bars, warnings) out of the tables."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for name in ("frontdesk", "knowledge", "llm", "chromadb", "sentence_transformers", "httpx", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore")


def machine() -> str:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, {cpus} CPU cores, "
        f"Python {platform.python_version()}, {load()}"
    )


def load() -> str:
    """The 1/5/15-minute load average: other work on the machine inflates every timing."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "load average unknown"
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


def make_kb(
    data_dir: Path,
    *,
    embedder: Any,
    chroma: Any = None,
    k: int = 4,
    threshold: float = 0.35,
    mode: str = "dense",
    collection: str | None = None,
):
    """A KnowledgeBase as build_knowledge_base makes it, on a fresh SQLite file in `data_dir`."""
    from grounding.stored_vectors import StoredVectors
    from knowledge.store import COLLECTION, KnowledgeBase, make_chroma_client
    from settings import Settings
    from storage import make_engine, migrate

    data_dir.mkdir(parents=True, exist_ok=True)
    settings = Settings(data_dir=data_dir, chroma_url=None, database_url=None)
    engine = make_engine(settings.resolved_database_url)
    migrate(engine)
    return KnowledgeBase(
        engine=engine,
        sentence_vectors=StoredVectors(engine, model=settings.embedding_model),
        chroma=chroma if chroma is not None else make_chroma_client(settings),
        embedder=embedder,
        uploads_dir=data_dir / "uploads",
        max_upload_bytes=settings.max_upload_bytes,
        k=k,
        threshold=threshold,
        mode=mode,  # type: ignore[arg-type]
        collection=collection or COLLECTION,
    )


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100); NaN for no values."""
    if not values:
        return math.nan
    s = sorted(values)
    pos = (len(s) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


_NUMBER = re.compile(r"^([-+]?[\d,.]+(%|x| s| ms)?( \(.*\))?|-|[-+]\d+/[-+]\d+)$")


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, title: str | None = None) -> str:
    """Plain-text table: first column left-aligned, the rest right-aligned."""
    cells = [[str(h) for h in headers]] + [[c if isinstance(c, str) else fmt(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    numeric = [all(_NUMBER.match(row[i]) for row in cells[1:]) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        return "  ".join(
            (cell.rjust(w) if i and numeric[i] else cell.ljust(w))
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()

    out = []
    if title:
        out.append(title)
    out.append(line(cells[0]))
    out.append("  ".join("-" * w for w in widths))
    out.extend(line(r) for r in cells[1:])
    return "\n".join(out)

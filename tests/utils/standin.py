"""Starts bench/openai_standin.py (an OpenAI-compatible server in plain asyncio) for tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from settings import Settings
from tests.utils.server import PYTHON, ROOT, free_port, running


@contextmanager
def running_standin(log_dir: Path, *options: str, port: int | None = None) -> Iterator[str]:
    """The stand-in on loopback (a free port unless `port`) with `options` (see its --help); yields
    its /v1 URL."""
    port = port or free_port()
    args = [PYTHON, str(ROOT / "bench" / "openai_standin.py"), "--port", str(port), *options]
    with running(
        args, ready_url=f"http://127.0.0.1:{port}/v1/models", log=log_dir / f"standin-{port}.log", timeout=30
    ):
        yield f"http://127.0.0.1:{port}/v1"


def standin_settings(data_dir: Path, url: str, **overrides: Any) -> Settings:
    """The app's settings with the stand-in at `url` as its `openai` backend (model "standin")."""
    return Settings(
        data_dir=data_dir, llm_backend="openai", llm_base_url=url, llm_model="standin", **overrides
    )

"""Starts real servers for tests (the app, `chroma run`, `llama_cpp.server`) and stops them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen, *, timeout: float = 180.0, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = log.read_text() if log and log.exists() else ""
            raise RuntimeError(
                f"server exited with {process.returncode} before {url} answered:\n{output[-4000:]}"
            )
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


@contextmanager
def running(
    args: list[str], *, ready_url: str, env: dict[str, str] | None = None, log: Path, timeout: float = 180.0
) -> Iterator[subprocess.Popen]:
    """Run `args` until the block ends; output goes to `log` (shown if it fails to start)."""
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False", **(env or {})}
    with log.open("w") as out:
        process = subprocess.Popen(args, cwd=ROOT, env=full_env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for(ready_url, process, timeout=timeout, log=log)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def running_app_process(
    data_dir: Path, *, env: dict[str, str] | None = None, port: int | None = None
) -> Iterator[tuple[str, subprocess.Popen]]:
    """The real Frontdesk app (`python app.py`) on a free port; yields its base URL and process
    (a test may kill it to stand for a crash)."""
    port = port or free_port()
    base = f"http://127.0.0.1:{port}"
    app_env = {
        "FRONTDESK_DATA_DIR": str(data_dir),
        "FRONTDESK_ADMIN_PASSWORD": "test-admin-pw",
        **(env or {}),
    }
    with running(
        [PYTHON, "app.py", "--host", "127.0.0.1", "--port", str(port)],
        ready_url=f"{base}/healthz",
        env=app_env,
        log=data_dir.parent / f"app-{port}.log",
    ) as process:
        yield base, process


@contextmanager
def running_app(
    data_dir: Path, *, env: dict[str, str] | None = None, port: int | None = None
) -> Iterator[str]:
    """The real Frontdesk app (`python app.py`) on a free port; yields its base URL."""
    with running_app_process(data_dir, env=env, port=port) as (base, _):
        yield base


@contextmanager
def running_chroma(path: Path) -> Iterator[str]:
    """A `chroma run` server on loopback; yields its URL."""
    port = free_port()
    chroma = Path(PYTHON).parent / "chroma"
    with running(
        [str(chroma), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        ready_url=f"http://127.0.0.1:{port}/api/v2/heartbeat",
        log=path.parent / f"chroma-{port}.log",
    ):
        yield f"http://127.0.0.1:{port}"


@contextmanager
def running_llama_server(model_path: Path, *, n_ctx: int = 2048) -> Iterator[str]:
    """`python -m llama_cpp.server` serving a GGUF (an OpenAI-compatible server); yields its /v1 URL."""
    port = free_port()
    args = [
        PYTHON,
        "-m",
        "tests.utils.llama_server",  # llama_cpp.server, with the model loaded as the app loads it
        "--model",
        str(model_path),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        str(n_ctx),
        "--chat_format",
        "chatml-function-calling",
    ]
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"llama-server-{port}.log"
    with running(args, ready_url=f"http://127.0.0.1:{port}/v1/models", log=log):
        yield f"http://127.0.0.1:{port}/v1"

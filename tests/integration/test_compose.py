"""docker-compose.yml is valid and refuses to start without its secrets (no Docker engine here)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.utils.server import ROOT

REQUIRED = {"POSTGRES_PASSWORD": "pw", "FRONTDESK_ADMIN_PASSWORD": "admin-pw", "VLLM_MODEL": "org/model"}


@pytest.fixture
def compose() -> str:
    path = shutil.which("docker-compose")
    if path is None:
        pytest.skip("docker-compose is not installed (scripts/test.sh installs Debian's)")
    return path


def run(compose: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in REQUIRED}
    return subprocess.run(
        [compose, "config"], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=60
    )


def test_compose_file_is_valid_with_its_secrets(compose: str) -> None:
    done = run(compose, REQUIRED)
    assert done.returncode == 0, done.stderr
    for service in ("app:", "vllm:", "postgres:", "chroma:"):
        assert service in done.stdout
    assert "FRONTDESK_LLM_BASE_URL: http://vllm:8000/v1" in done.stdout
    # The app reads vLLM's Hugging Face cache (the served model's tokenizer), without writing to it.
    assert "hf-cache:/root/.cache/huggingface:ro" in done.stdout
    assert "hf-cache:/root/.cache/huggingface:rw" in done.stdout


@pytest.mark.parametrize("missing", sorted(REQUIRED))
def test_compose_fails_fast_without_a_secret(compose: str, missing: str) -> None:
    done = run(compose, {k: v for k, v in REQUIRED.items() if k != missing})
    assert done.returncode != 0 and f"set {missing}" in done.stderr

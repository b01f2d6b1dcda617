"""The backend probe and the context-length retry against a real OpenAI-compatible server on
loopback (bench/openai_standin.py): what /healthz and the log say, and what a customer gets."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from tests.utils.server import free_port
from tests.utils.standin import running_standin

FAST = ("--rate", "2000")


def openai_client(make_client, url: str, **overrides):
    values = {"llm_backend": "openai", "llm_base_url": url, "llm_model": "standin", "demo_data": False}
    return make_client(**{**values, **overrides})


def test_healthz_names_the_served_model_its_context_and_working_tools(make_client, tmp_path: Path) -> None:
    with running_standin(tmp_path, *FAST, "--max-model-len", "4096") as url:
        client = openai_client(make_client, url)
        body = client.get("/healthz").json()
        capped = openai_client(make_client, url, context_tokens=1024).get("/healthz").json()
    assert body["status"] == "ok"
    backend = body["backend"]
    assert (backend["model"], backend["max_model_len"]) == ("standin", 4096)
    assert backend["named_tool_calls"] is True and backend["auto_tool_calls"] is True
    # The FIFO budget follows the server, unless FRONTDESK_CONTEXT_TOKENS says less.
    assert backend["context_tokens"] == 4096
    assert capped["backend"]["context_tokens"] == 1024


def test_a_server_without_tool_flags_is_said_and_customers_still_get_answers(
    make_client, tmp_path: Path, caplog
) -> None:
    with running_standin(tmp_path, *FAST, "--no-tools") as url:
        with caplog.at_level(logging.WARNING, logger="llm.probe"):
            client = openai_client(make_client, url, answer_mode="generative")
        health = client.get("/healthz").json()
        response = client.post("/api/v1/chat", json={"message": "Do you ship to Canada?"})
    assert "--enable-auto-tool-choice" in caplog.text
    assert health["status"] == "degraded"
    assert health["backend"]["named_tool_calls"] is True and health["backend"]["auto_tool_calls"] is False
    assert "--enable-auto-tool-choice" in " ".join(health["backend"]["tool_problems"])
    # Without the probe the turn would send tool_choice="auto" and get the server's 400 (a 503).
    assert response.status_code == 200, response.text
    assert response.json()["reply"].startswith("t0 t1 t2")


def test_a_backend_down_at_start_is_reported_not_fatal(make_client) -> None:
    client = openai_client(make_client, f"http://127.0.0.1:{free_port()}/v1")
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.json()["status"] == "degraded" and health.json()["backend"]["reachable"] is False


def test_a_context_length_400_is_answered_by_trimming_the_window_and_trying_again(
    make_client, tmp_path: Path
) -> None:
    # The server enforces 1,000 tokens without saying so in /v1/models: the app's budget (2,048)
    # lets the third turn's whole conversation through, and the server refuses it.
    with running_standin(tmp_path, *FAST, "--max-model-len", "1000", "--hide-max-model-len") as url:
        client = openai_client(make_client, url, answer_mode="generative")
        session = None
        for word in ("apple", "berry", "cherry"):
            response = client.post("/api/v1/chat", json={"message": f"{word} " * 400, "session_id": session})
            assert response.status_code == 200, response.text
            session = response.json()["session_id"]
        store = client.app.state.services.store
        traces = [m.trace for m in store.messages(session) if m.role == "assistant"]
        # A message too long for the model on its own: the honest 413, and the message is kept.
        alone = client.post("/api/v1/chat", json={"message": "fig " * 900, "session_id": session})
    retried = [t["context_retry"] for t in traces if t.get("context_retry")]
    assert retried and retried[-1]["limit"] == 1000
    assert retried[-1]["messages_after"] < retried[-1]["messages_before"]
    assert alone.status_code == 413 and alone.json()["error"]["code"] == "context_overflow"
    assert alone.json()["session_id"] == session  # where the message was kept
    assert store.messages(session)[-1].content.startswith("fig")


def test_a_local_tokenizer_counts_without_asking_the_server() -> None:
    from tokenizers import Tokenizer

    from knowledge.embeddings import bundled_minilm_path
    from llm import build_chat_backend
    from settings import Settings

    folder = bundled_minilm_path()  # any tokenizer.json will do: the count must be its count
    settings = Settings(
        llm_backend="openai", llm_base_url=f"http://127.0.0.1:{free_port()}/v1", llm_tokenizer=folder
    )
    text = "Where is my order #A-1001? It was supposed to arrive Tuesday."
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.no_padding()  # this one pads every encoding to 128 tokens
    expected = len(tokenizer.encode(text, add_special_tokens=False).ids)
    # No server listens there: an HTTP count would fall back to the estimate (len // 3 + 1 = 21).
    assert build_chat_backend(settings).count_text(text) == expected != len(text) // 3 + 1


def test_the_served_models_tokenizer_in_the_hugging_face_cache_counts_without_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    import huggingface_hub.constants
    from tokenizers import Tokenizer

    from knowledge.embeddings import bundled_minilm_path
    from llm import build_chat_backend
    from settings import Settings

    # The cache as vLLM leaves it after downloading acme/support-7b (and as the app sees it when
    # it mounts the same cache): refs/main names the snapshot that holds tokenizer.json.
    source = bundled_minilm_path() / "tokenizer.json"
    repo = tmp_path / "hub" / "models--acme--support-7b"
    (repo / "snapshots" / "4f2a").mkdir(parents=True)
    shutil.copy(source, repo / "snapshots" / "4f2a" / "tokenizer.json")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("4f2a")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))

    text = "Where is my order #A-1001? It was supposed to arrive Tuesday."
    tokenizer = Tokenizer.from_file(str(source))
    tokenizer.no_padding()
    expected = len(tokenizer.encode(text, add_special_tokens=False).ids)
    dead = f"http://127.0.0.1:{free_port()}/v1"  # an HTTP count would fall back to the estimate (21)

    def count(model: str) -> int:
        return build_chat_backend(
            Settings(llm_backend="openai", llm_base_url=dead, llm_model=model)
        ).count_text(text)

    assert count("acme/support-7b") == expected != len(text) // 3 + 1
    assert count(str(repo / "snapshots" / "4f2a")) == expected  # vLLM serving a folder: its name is the path
    assert count("acme/not-downloaded") == len(text) // 3 + 1


def test_a_backend_that_comes_up_after_the_app_is_noticed_without_a_health_check(
    make_client, tmp_path: Path, caplog
) -> None:
    port = free_port()
    client = openai_client(make_client, f"http://127.0.0.1:{port}/v1")
    services = client.app.state.services
    services.backend.max_age_s = 0.5
    assert not services.backend.current().reachable
    with client, caplog.at_level(logging.INFO, logger="llm.probe"):  # the app serves: its watch runs
        with running_standin(tmp_path, *FAST, "--max-model-len", "3000", port=port):
            deadline = time.monotonic() + 15
            while "Model backend serves standin" not in caplog.text and time.monotonic() < deadline:
                time.sleep(0.2)
    assert "Model backend serves standin (max_model_len 3000" in caplog.text
    # The conversation window followed the server's context without anyone asking /healthz.
    assert services.agent.config.context_tokens == 3000

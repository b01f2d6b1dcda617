"""The async path over real sockets: the app served by uvicorn in this process, the bench's
OpenAI-compatible stand-in as the backend. Turns waiting for tokens hold no thread, and a client
that disconnects mid-stream cancels the generation and leaves its message stored, marked failed."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn

from app import build_services
from tests.integration.conftest import ADMIN
from tests.utils.server import free_port
from tests.utils.standin import running_standin, standin_settings
from web.server import create_app

pytestmark = pytest.mark.slow

# 32 tokens at 16 a second: every answer streams for two seconds.
SLOW = ("--tokens", "32", "--rate", "16")
CONVERSATIONS = 48


@contextmanager
def serving(app) -> Iterator[str]:
    """`app` on a real uvicorn server in a thread of this process; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_standin(tmp_path_factory.mktemp("standin"), *SLOW) as url:
        yield url


@pytest.fixture
def app_url(backend: str, embedder, tmp_path: Path) -> Iterator[str]:
    settings = standin_settings(
        tmp_path / "data",
        backend,
        admin_password=ADMIN[1],
        demo_data=False,
        answer_mode="generative",
        answer_tokens=32,
    )
    with serving(create_app(build_services(settings, embedder=embedder))) as url:
        yield url


def stats(backend: str) -> dict[str, int]:
    return httpx.get(backend.removesuffix("/v1") + "/stats").json()


async def chats(url: str, count: int) -> tuple[list[httpx.Response], int]:
    """`count` concurrent chats; their answers and the most threads this process had meanwhile."""
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        requests = [
            asyncio.create_task(client.post("/api/v1/chat", json={"message": "Where is my parcel, please?"}))
            for i in range(count)
        ]
        peak = threading.active_count()
        while not all(r.done() for r in requests):
            peak = max(peak, threading.active_count())
            await asyncio.sleep(0.05)
        return [r.result() for r in requests], peak


def test_concurrent_chats_wait_for_tokens_without_holding_threads(app_url: str, backend: str) -> None:
    # Two first rounds start the pools every request uses (database, worker threads, HTTP clients) to
    # the size such a load keeps them at (one round left some still growing: 27 threads more in CI).
    for _ in range(2):
        warm, _ = asyncio.run(chats(app_url, CONVERSATIONS))
        assert all(r.status_code == 200 for r in warm), [r.text for r in warm if r.status_code != 200][:3]
    before = threading.active_count()
    answers, peak = asyncio.run(chats(app_url, CONVERSATIONS))
    assert all(r.status_code == 200 and r.json()["reply"].startswith("t0 t1") for r in answers), [
        r.text for r in answers
    ][:2]
    assert stats(backend)["peak_in_flight"] >= CONVERSATIONS // 2  # the turns did overlap
    # A thread per waiting turn would add one per conversation (the code before the async path added
    # two); bounded pools may still start some of their threads meanwhile (the turns' worker threads,
    # the HTTP stack's resolver threads), depending on what ran in this process before.
    names = sorted({t.name.rstrip("0123456789_") for t in threading.enumerate()})
    assert peak - before < CONVERSATIONS // 2, (before, peak, names)
    time.sleep(1)
    assert threading.active_count() < before + CONVERSATIONS // 2, names  # the pools are bounded


def test_a_client_that_disconnects_mid_stream_cancels_the_generation(app_url: str, backend: str) -> None:
    closed_before = stats(backend)["closed_early"]
    threads_before = threading.active_count()
    with httpx.Client(base_url=app_url, timeout=30) as client:
        with client.stream("POST", "/api/v1/chat", json={"message": "Tell me a story?", "stream": True}) as r:
            assert r.status_code == 200
            session = r.headers["x-session-id"]
            lines = r.iter_lines()
            assert next(line for line in lines if line.startswith("event:")) == "event: token"
        # The stream is closed after its first token, a second before the answer would end.
        deadline = time.monotonic() + 10
        while stats(backend)["closed_early"] == closed_before:
            assert time.monotonic() < deadline, "the model server kept generating for a client that left"
            time.sleep(0.1)
        # The customer's message stays stored, marked failed, with no half reply stored as an answer.
        while (history := client.get(f"/api/v1/sessions/{session}/messages").json())["messages"][0][
            "status"
        ] != "failed":
            assert time.monotonic() < deadline, history
            time.sleep(0.1)
        assert [m["role"] for m in history["messages"]] == ["user"]
        # The session is free again: the next message is answered in full.
        reply = client.post("/api/v1/chat", json={"message": "Are you there?", "session_id": session})
        assert reply.status_code == 200 and reply.json()["reply"].startswith("t0 t1")
    assert stats(backend)["in_flight"] == 0
    assert threading.active_count() <= threads_before + 8


def test_a_client_that_leaves_before_the_first_event_cancels_the_generation(
    backend: str, embedder, tmp_path: Path
) -> None:
    # Found by a trial: in a mode that sends nothing until the reply is checked, a client that closed
    # its socket before any byte came was not noticed; the model ran on and the reply was stored.
    settings = standin_settings(
        tmp_path / "data", backend, admin_password=ADMIN[1], demo_data=False, answer_mode="extractive"
    )
    with serving(create_app(build_services(settings, embedder=embedder))) as url:
        first = httpx.post(f"{url}/api/v1/chat", json={"message": "Where is my parcel?"}, timeout=30)
        session = first.json()["session_id"]
        closed_before = stats(backend)["closed_early"]
        body = json.dumps({"message": "And my other parcel?", "session_id": session, "stream": True}).encode()
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port))) as raw:
            raw.sendall(
                b"POST /api/v1/chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            time.sleep(0.6)  # the answer takes two seconds; nothing is sent before it is checked
        deadline = time.monotonic() + 10
        while stats(backend)["closed_early"] == closed_before:
            assert time.monotonic() < deadline, "the model server kept generating for a client that left"
            time.sleep(0.1)
        while (history := httpx.get(f"{url}/api/v1/sessions/{session}/messages").json())["messages"][-1][
            "status"
        ] != "failed":
            assert time.monotonic() < deadline, history
            time.sleep(0.1)
        assert [m["role"] for m in history["messages"]] == ["user", "assistant", "user"]

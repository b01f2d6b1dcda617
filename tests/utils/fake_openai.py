"""A scripted OpenAI-compatible server on loopback, for the faults a real one shows (hangs, 5xx, stalls)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def _chunk(delta: dict, finish: str | None = None) -> bytes:
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "fake",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return b"data: " + json.dumps(body).encode() + b"\n\n"


class FakeOpenAI:
    """Answers each chat request with the next behaviour of `script` (the last one repeats).

    Behaviours: "ok" (streams a short answer), "500", "429", "hang" (accepts, never answers),
    "stall" (one token, then silence), "garbage" (200 with malformed SSE).
    """

    def __init__(self, script: list[str]) -> None:
        self.script = list(script)
        self.requests = 0
        # The JSON body of every chat request, in order (what the app really sent).
        self.bodies: list[dict] = []
        self._lock = threading.Lock()

    def next_behaviour(self) -> str:
        with self._lock:
            self.requests += 1
            return self.script.pop(0) if len(self.script) > 1 else self.script[0]


@contextmanager
def fake_openai(script: list[str]) -> Iterator[tuple[str, FakeOpenAI]]:
    """Serve `script` on a free loopback port; yields (base URL with /v1, the fake)."""
    fake = FakeOpenAI(script)
    stop = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("content-length") or 0))
            if not self.path.endswith("/chat/completions"):
                self.send_response(404)
                self.end_headers()
                return
            fake.bodies.append(json.loads(raw or b"{}"))
            behaviour = fake.next_behaviour()
            if behaviour == "hang":
                stop.wait(30)
                return
            if behaviour in ("500", "429"):
                self.send_response(int(behaviour))
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"error": {"message": "try later", "type": "server_error"}}')
                return
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.end_headers()
            if behaviour == "garbage":
                self.wfile.write(b'data: {"choices": [{"delta": {"content": "Hel\n\n')
                return
            self.wfile.write(_chunk({"role": "assistant", "content": "Hello"}))
            self.wfile.flush()
            if behaviour == "stall":
                stop.wait(30)
                return
            self.wfile.write(_chunk({"content": " there."}))
            self.wfile.write(_chunk({}, "stop"))
            self.wfile.write(b"data: [DONE]\n\n")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/v1", fake
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
        time.sleep(0.05)

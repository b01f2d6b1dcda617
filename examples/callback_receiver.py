"""Receive Frontdesk's signed callbacks, standard library only (no Frontdesk imports).

    python examples/callback_receiver.py "$SECRET" 8000

Verifies `Frontdesk-Signature` (any v1 may match: during a secret rotation there are two) within
5 minutes, answers 204, and prints each event once: deliveries are at least once, so a retried
event (same `event_id`) is acknowledged again but handled only the first time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOLERANCE_S = 300


def verify_signature(secret: str, header: str, body: bytes, *, tolerance_s: int = TOLERANCE_S) -> bool:
    """True when one of the header's v1 values signs `body` with `secret`, and t is recent."""
    fields = [part.strip().partition("=") for part in header.split(",")]
    timestamps = [value for key, _, value in fields if key == "t"]
    signatures = [value for key, _, value in fields if key == "v1"]
    if (
        len(timestamps) != 1
        or not timestamps[0].isdigit()
        or abs(time.time() - int(timestamps[0])) > tolerance_s
    ):
        return False
    expected = hmac.new(secret.encode(), f"{timestamps[0]}.".encode() + body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, candidate) for candidate in signatures)


class CallbackHandler(BaseHTTPRequestHandler):
    """Checks the signature, then hands each new event to `server.handle_event` once."""

    server: CallbackServer

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if not verify_signature(self.server.secret, self.headers.get("Frontdesk-Signature", ""), body):
            self.send_response(401)
            self.end_headers()
            return
        event = json.loads(body)
        with self.server.lock:
            new = event["event_id"] not in self.server.seen
            self.server.seen.add(event["event_id"])
        if new:
            self.server.handle_event(event)
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet


class CallbackServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, secret: str, host: str = "127.0.0.1", port: int = 0, handler: type = CallbackHandler):
        super().__init__((host, port), handler)
        self.secret = secret
        self.seen: set[str] = set()
        self.events: list[dict] = []
        self.lock = threading.Lock()

    def handle_event(self, event: dict) -> None:
        self.events.append(event)
        print(json.dumps(event, indent=2), flush=True)


if __name__ == "__main__":
    CallbackServer(sys.argv[1], port=int(sys.argv[2]) if len(sys.argv) > 2 else 8000).serve_forever()

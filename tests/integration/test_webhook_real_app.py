"""End to end on the real app process (`python app.py`, embedded SmolLM2, demo help center): the
examples' client signs webhooks, a callback that cannot be delivered survives a crash of the app,
and the restarted app delivers it to the examples' receiver, which verifies the signature."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

from examples.callback_receiver import CallbackServer
from examples.webhook_client import send_message
from tests.utils.server import free_port, running_app_process

pytestmark = pytest.mark.slow
ADMIN = ("admin", "test-admin-pw")
ENV = {"FRONTDESK_ANSWER_TOKENS": "48", "FRONTDESK_ALLOW_PRIVATE_CALLBACKS": "true"}


class Collector(CallbackServer):
    def handle_event(self, event: dict) -> None:
        self.events.append(event)


def deliveries(base: str) -> list[dict]:
    return httpx.get(f"{base}/api/v1/admin/deliveries", auth=ADMIN, timeout=10).json()["deliveries"]


def test_a_webhook_reply_waits_out_a_crash_and_reaches_the_receiver(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    receiver_port = free_port()
    callback = f"http://127.0.0.1:{receiver_port}/frontdesk"
    with running_app_process(data_dir, env=ENV) as (base, process):
        created = httpx.post(f"{base}/api/v1/admin/channels", json={"name": "widget"}, auth=ADMIN, timeout=30)
        assert created.status_code == 201, created.text
        secret = created.json()["secret"]

        status, reply = send_message(
            base,
            "widget",
            secret,
            "How many days do I have to return an item?",
            conversation_id="c1",
            user_id="u1",
        )
        assert status == 200 and reply["reply"].strip()
        assert reply["citations"][0]["document"] == "returns-policy"

        status, ack = send_message(
            base,
            "widget",
            secret,
            "How do I reset my password?",
            conversation_id="c2",
            user_id="u2",
            callback_url=callback,
        )
        assert status == 202 and ack["status"] == "accepted"
        # Nobody listens at the callback yet: the stored reply's delivery fails and waits for a retry.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not any(d["attempts"] for d in deliveries(base)):
            time.sleep(0.5)
        [pending] = deliveries(base)
        assert pending["status"] == "pending" and "Connect" in pending["last_error"]
        process.kill()  # a crash, not a clean stop
        process.wait()

    receiver = Collector(secret, port=receiver_port)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    try:
        with running_app_process(data_dir, env=ENV) as (base, _):
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not receiver.events:
                time.sleep(0.2)
            [event] = receiver.events
            assert event["type"] == "reply" and event["conversation_id"] == "c2"
            assert event["session_id"] == ack["session_id"] and event["text"].strip()
            assert deliveries(base)[0]["status"] == "delivered"
    finally:
        receiver.shutdown()
        receiver.server_close()

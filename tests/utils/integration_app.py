"""The app with integrations on a scripted chat model (the model is not the point there), a signed
webhook sender, and callback receivers on loopback that fail or hang on purpose."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

from agents.turn import AgentConfig, SupportAgent
from examples.callback_receiver import CallbackHandler, CallbackServer
from examples.webhook_client import signature_header
from handoff import HandoffService
from integrations.wiring import build_integrations
from memory import ConversationStore
from prompts import PromptLibrary
from settings import Settings
from storage import make_engine, migrate
from tests.utils.scripted import scripted_backend
from web.admin_auth import AdminAuth
from web.server import create_app
from web.services import Services

ADMIN = ("admin", "test-admin-pw")


def echo(delay_s: float = 0.0) -> Callable[[list[BaseMessage]], AIMessage]:
    """A scripted answer that repeats the customer's last message (after `delay_s`): the words after
    the turn's excerpts, which the newest message starts with."""

    def answer(messages: list[BaseMessage]) -> AIMessage:
        time.sleep(delay_s)
        last = next(m for m in reversed(messages) if isinstance(m, HumanMessage))
        return AIMessage(content=f"You said: {str(last.content).rsplit(chr(10) * 2, 1)[-1]}")

    return answer


def scripted_services(data_dir: Path, *, script: list | None = None, **overrides: Any) -> Services:
    data_dir.mkdir(parents=True, exist_ok=True)
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "admin_password": ADMIN[1],
        "demo_data": False,
        "allow_private_callbacks": True,  # the receivers run on loopback
        **overrides,
    }
    settings = Settings(**values)
    engine = make_engine(settings.resolved_database_url)
    migrate(engine)
    store, handoff = ConversationStore(engine), HandoffService(engine)
    agent = SupportAgent(
        store=store,
        backend=scripted_backend(script if script is not None else [echo()] * 200),
        prompts=PromptLibrary(),
        config=AgentConfig(tool_routing="rules"),
        handoff=handoff,
    )
    return Services(
        settings=settings,
        store=store,
        agent=agent,
        admin=AdminAuth.from_settings(ADMIN[1], data_dir),
        model_description="scripted",
        handoff=handoff,
        integrations=build_integrations(settings, engine, agent),
    )


def scripted_client(data_dir: Path, **kwargs: Any) -> TestClient:
    return TestClient(create_app(scripted_services(data_dir, **kwargs)))


def create_channel(client: TestClient, name: str = "shop", **body: Any) -> str:
    response = client.post("/api/v1/admin/channels", json={"name": name, **body}, auth=ADMIN)
    assert response.status_code == 201, response.text
    return response.json()["secret"]


def event_body(
    text: str = "Where is my parcel?",
    *,
    event_id: str = "evt-1",
    conversation_id: str = "conv-1",
    **extra: Any,
) -> bytes:
    return json.dumps(
        {
            "event_id": event_id,
            "conversation_id": conversation_id,
            "user": {"id": "u-1"},
            "text": text,
            **extra,
        }
    ).encode()


def post_signed(client: TestClient, channel: str, secret: str, body: bytes, **headers: str):
    return client.post(
        f"/api/v1/webhooks/{channel}",
        content=body,
        headers={
            "Content-Type": "application/json",
            "Frontdesk-Signature": signature_header(secret, body),
            **headers,
        },
    )


class FlakyHandler(CallbackHandler):
    """Answers 500 to the first `server.failures` tries; `server.hang_s` > 0 makes every try hang
    that long and then drop the connection unanswered."""

    def do_POST(self) -> None:
        server = self.server
        assert isinstance(server, Receiver)
        with server.lock:
            server.tries += 1
            failing = server.tries <= server.failures
        if server.hang_s:
            time.sleep(server.hang_s)  # the sender has given up by then: nothing is handled
            return
        if failing:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(500)
            self.end_headers()
            return
        super().do_POST()


class Receiver(CallbackServer):
    def __init__(self, secret: str, *, failures: int = 0, hang_s: float = 0.0, port: int = 0) -> None:
        super().__init__(secret, port=port, handler=FlakyHandler)
        self.failures = failures
        self.hang_s = hang_s
        self.tries = 0

    def handle_event(self, event: dict) -> None:
        self.events.append(event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/callback"

    def wait_for(self, count: int, timeout: float = 20.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.events) < count:
            time.sleep(0.05)
        return list(self.events)


@contextmanager
def receiving(secret: str, **kwargs: Any) -> Iterator[Receiver]:
    server = Receiver(secret, **kwargs)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()

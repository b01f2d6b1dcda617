"""The inbound webhook on the real app (real SQLite or PostgreSQL, real HTTP routes and middleware)
with a scripted model: signatures, bad input, idempotency, concurrent twins, rotation, SSRF."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from examples.webhook_client import signature_header
from storage.integration_models import WebhookEvent
from storage.models import ChatSession, Message
from tests.utils.integration_app import ADMIN, create_channel, echo, event_body, post_signed, scripted_client


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One app for the tests that need no settings of their own (each uses its own channel)."""
    client = scripted_client(tmp_path_factory.mktemp("webhooks") / "data", script=[echo()] * 1000)
    yield client
    client.close()


@pytest.fixture
def channel(shared: TestClient) -> tuple[str, str]:
    """A new channel on the shared app: (name, secret)."""
    name = f"shop-{uuid.uuid4().hex[:8]}"
    return name, create_channel(shared, name)


def counts(client: TestClient) -> tuple[int, ...]:
    """(sessions, messages, webhook events, model calls) so far."""
    engine = client.app.state.services.store.engine
    with engine.connect() as conn:
        stored = [
            conn.scalar(select(func.count()).select_from(t)) or 0
            for t in (ChatSession, Message, WebhookEvent)
        ]
    return (*stored, len(client.app.state.services.agent.backend.model.calls))


def added(client: TestClient, before: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(now - then for now, then in zip(counts(client), before, strict=True))


def test_an_event_without_callback_gets_the_reply_and_its_conversation_keeps_one_session(
    shared: TestClient, channel: tuple[str, str]
) -> None:
    name, secret = channel
    first = post_signed(shared, name, secret, event_body("Where is my parcel?"))
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["reply"] == "You said: Where is my parcel?"
    assert body["event_id"] == "evt-1" and body["state"] == "bot"

    second = post_signed(shared, name, secret, event_body("And my refund?", event_id="evt-2"))
    # The second turn's prompt held the first turn: one conversation, with its memory.
    second_prompt = shared.app.state.services.agent.backend.model.calls[-1]["messages"]
    assert any(getattr(m, "content", "") == "You said: Where is my parcel?" for m in second_prompt)
    other = post_signed(shared, name, secret, event_body("Hi", event_id="evt-3", conversation_id="conv-2"))
    assert second.json()["session_id"] == body["session_id"] != other.json()["session_id"]
    history = shared.get(f"/api/v1/sessions/{body['session_id']}/messages").json()["messages"]
    assert [m["content"] for m in history] == [
        "Where is my parcel?",
        "You said: Where is my parcel?",
        "And my refund?",
        "You said: And my refund?",
    ]


def test_a_message_after_a_person_closed_the_conversation_opens_a_new_one(
    shared: TestClient, channel: tuple[str, str]
) -> None:
    """On a channel and through the REST API alike: a closed conversation is not written to again
    (the bot would answer in it, and could not hand it to a person: nothing moves a closed one)."""
    name, secret = channel
    first = post_signed(shared, name, secret, event_body("Where is my parcel?")).json()
    closed = first["session_id"]
    shared.app.state.services.handoff.transition(closed, "queued", by="customer")
    done = shared.post(f"/api/v1/admin/conversations/{closed}/close", json={"agent": "ana"}, auth=ADMIN)
    assert done.status_code == 200, done.text
    before = shared.get(f"/api/v1/sessions/{closed}/messages").json()["messages"]

    again = post_signed(shared, name, secret, event_body("Is my parcel on its way?", event_id="evt-2"))
    assert again.status_code == 200, again.text
    reopened = again.json()
    assert reopened["session_id"] != closed and reopened["state"] == "bot"
    assert reopened["reply"] == "You said: Is my parcel on its way?"
    assert shared.get(f"/api/v1/sessions/{closed}/messages").json()["messages"] == before
    # The channel's conversation goes on in the new session, with its memory.
    later = post_signed(shared, name, secret, event_body("And my refund?", event_id="evt-3")).json()
    assert later["session_id"] == reopened["session_id"]
    history = shared.get(f"/api/v1/sessions/{later['session_id']}/messages").json()["messages"]
    assert [m["content"] for m in history if m["role"] == "user"] == [
        "Is my parcel on its way?",
        "And my refund?",
    ]

    chat = shared.post("/api/v1/chat", json={"message": "Can you check my refund?", "session_id": closed})
    assert chat.status_code == 200, chat.text
    assert chat.json()["session_id"] not in (closed, later["session_id"])
    assert chat.json()["reply"] == "You said: Can you check my refund?"
    assert shared.get(f"/api/v1/sessions/{closed}/messages").json()["messages"] == before


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("missing", "signature_missing"),
        ("malformed", "signature_malformed"),
        ("wrong_secret", "signature_mismatch"),
        ("stale", "signature_stale"),
        ("future", "signature_stale"),
        ("tampered", "signature_mismatch"),
    ],
)
def test_a_bad_signature_is_a_401_that_says_which_and_stores_nothing(
    shared: TestClient, channel: tuple[str, str], case: str, code: str
) -> None:
    name, secret = channel
    body = event_body()
    headers = {"Content-Type": "application/json"}
    if case == "malformed":
        headers["Frontdesk-Signature"] = "sha256=abc"
    elif case == "wrong_secret":
        headers["Frontdesk-Signature"] = signature_header("whsec_wrong", body)
    elif case in ("stale", "future"):
        skew = -301 if case == "stale" else 301
        headers["Frontdesk-Signature"] = signature_header(secret, body, int(time.time()) + skew)
    elif case == "tampered":
        headers["Frontdesk-Signature"] = signature_header(secret, body)
        body = body.replace(b"parcel", b"refund of 1000 dollars")
    before = counts(shared)
    response = shared.post(f"/api/v1/webhooks/{name}", content=body, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == code
    assert added(shared, before) == (0, 0, 0, 0)


def test_bad_input_gets_the_right_4xx_and_runs_nothing(shared: TestClient, channel: tuple[str, str]) -> None:
    name, secret = channel
    before = counts(shared)
    unknown = post_signed(shared, "no-such-channel", secret, event_body())
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_channel"
    not_json = post_signed(shared, name, secret, b"this is not json")
    assert not_json.status_code == 422 and not_json.json()["error"]["code"] == "invalid_request"
    no_text = post_signed(
        shared, name, secret, json.dumps({"event_id": "e", "conversation_id": "c"}).encode()
    )
    assert no_text.status_code == 422 and "text" in no_text.json()["error"]["message"]
    empty = post_signed(shared, name, secret, event_body("   "))
    assert empty.status_code == 422
    huge = b'{"text": "' + b"a" * (10 * 1024 * 1024) + b'"}'
    too_large = post_signed(shared, name, secret, huge)
    assert too_large.status_code == 413 and too_large.json()["error"]["code"] == "request_too_large"
    assert added(shared, before) == (0, 0, 0, 0)
    # The refused empty message left its event id free: the corrected event goes through.
    assert post_signed(shared, name, secret, event_body("Now with text")).status_code == 200


def test_a_replayed_event_answers_the_first_result_and_never_runs_twice(
    shared: TestClient, channel: tuple[str, str]
) -> None:
    name, secret = channel
    before = counts(shared)
    first = post_signed(shared, name, secret, event_body("Where is my parcel?"))
    again = post_signed(shared, name, secret, event_body("Where is my parcel?"))
    assert again.status_code == 200 and again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    changed = post_signed(shared, name, secret, event_body("Where is my parcel now?"))
    assert changed.status_code == 422 and changed.json()["error"]["code"] == "event_id_reused"
    assert added(shared, before) == (1, 2, 1, 1)  # one session, one message and its reply, one turn


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_concurrent_twins_run_exactly_one_turn(
    data_dir: Path, request: pytest.FixtureRequest, database: str
) -> None:
    url = request.getfixturevalue("postgres_url") if database == "postgresql" else None
    client = scripted_client(data_dir, script=[echo(delay_s=0.5)] * 20, database_url=url)
    secret = create_channel(client)
    body = event_body("Only once, please")
    statuses: list[int] = []
    gate = threading.Barrier(6)

    def send() -> None:
        gate.wait()
        statuses.append(post_signed(client, "shop", secret, body).status_code)

    threads = [threading.Thread(target=send) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    tally = Counter(statuses)
    assert tally[200] >= 1 and tally[200] + tally[409] == 6, tally
    assert counts(client) == (1, 2, 1, 1)  # one session, message, reply, event; one turn
    if url:
        client.app.state.services.store.engine.dispose()


def test_a_turn_that_failed_is_answered_by_a_retry_of_the_same_event(data_dir: Path) -> None:
    client = scripted_client(data_dir, script=[ConnectionError("model down"), echo()])
    secret = create_channel(client)
    down = post_signed(client, "shop", secret, event_body("Are you there?"))
    assert down.status_code == 503
    assert down.json()["error"]["code"] == "backend_unavailable" and down.json()["session_id"]
    retry = post_signed(client, "shop", secret, event_body("Are you there?"))
    assert retry.status_code == 200 and retry.json()["reply"] == "You said: Are you there?"
    messages = client.get(f"/api/v1/sessions/{retry.json()['session_id']}/messages").json()["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant"]  # one stored message, answered once


def test_a_rotated_secret_keeps_the_old_one_valid_for_the_grace_period(
    shared: TestClient, channel: tuple[str, str]
) -> None:
    name, old = channel
    rotated = shared.post(f"/api/v1/admin/channels/{name}/rotate", json={"grace_seconds": 3600}, auth=ADMIN)
    assert rotated.status_code == 200 and rotated.json()["previous_secret_valid_until"]
    new = rotated.json()["secret"]
    assert new != old
    assert post_signed(shared, name, old, event_body(event_id="a")).status_code == 200
    assert post_signed(shared, name, new, event_body(event_id="b")).status_code == 200
    newest = shared.post(f"/api/v1/admin/channels/{name}/rotate", json={"grace_seconds": 0}, auth=ADMIN)
    assert newest.status_code == 200
    assert post_signed(shared, name, new, event_body(event_id="c")).status_code == 401
    assert post_signed(shared, name, newest.json()["secret"], event_body(event_id="c")).status_code == 200
    listed = {c["name"]: c for c in shared.get("/api/v1/admin/channels", auth=ADMIN).json()["channels"]}
    assert "secret" not in listed[name]


def test_callbacks_to_loopback_are_refused_unless_allowed(data_dir: Path) -> None:
    client = scripted_client(data_dir, allow_private_callbacks=False)
    refused = client.post(
        "/api/v1/admin/channels", json={"name": "shop", "callback_url": "http://127.0.0.1:9/cb"}, auth=ADMIN
    )
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "callback_refused"
    secret = create_channel(client)
    for url in ("http://127.0.0.1:9/cb", "http://169.254.169.254/latest", "http://10.0.0.7/hook"):
        response = post_signed(client, "shop", secret, event_body(callback_url=url))
        assert response.status_code == 422 and response.json()["error"]["code"] == "callback_refused"
    assert counts(client) == (0, 0, 0, 0)


def test_the_admin_routes_need_the_admin_login(shared: TestClient, channel: tuple[str, str]) -> None:
    assert shared.post("/api/v1/admin/channels", json={"name": "x"}).status_code == 401
    assert shared.get("/api/v1/admin/deliveries").status_code == 401
    assert shared.post("/api/v1/admin/api-keys", json={"name": "x"}).status_code == 401
    again = shared.post("/api/v1/admin/channels", json={"name": channel[0]}, auth=ADMIN)
    assert again.status_code == 409
    bad = shared.post("/api/v1/admin/channels", json={"name": "Not OK!"}, auth=ADMIN)
    assert bad.status_code == 422

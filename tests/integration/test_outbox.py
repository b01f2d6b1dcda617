"""Async webhooks and the outbox, with real callback receivers on loopback (the examples' receiver,
which verifies signatures): delivery, retries after failures, a hanging receiver, giving up and the
admin's retry, a restart with pending rows, and a person's reply reaching the callback."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from storage.integration_models import OutboxDelivery, WebhookEvent
from tests.utils.integration_app import (
    ADMIN,
    create_channel,
    echo,
    event_body,
    post_signed,
    receiving,
    scripted_client,
    scripted_services,
)
from web.server import create_app


def fast_retries(client: TestClient, *, max_attempts: int = 8, timeout_s: float = 5.0) -> None:
    outbox = client.app.state.services.integrations.outbox
    outbox.backoff_initial_s, outbox.backoff_max_s = 0.1, 0.5
    outbox.max_attempts, outbox.timeout_s, outbox.poll_s = max_attempts, timeout_s, 0.05


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One app with its outbox worker running (the lifespan), for the delivery tests."""
    with scripted_client(tmp_path_factory.mktemp("outbox") / "data", script=[echo()] * 1000) as client:
        yield client


@pytest.fixture
def channel(live: TestClient) -> tuple[str, str]:
    """A new channel on the live app, with quick retries: (name, secret)."""
    fast_retries(live)
    name = f"shop-{uuid.uuid4().hex[:8]}"
    return name, create_channel(live, name)


def deliveries(client: TestClient, status: str | None = None, channel: str | None = None) -> list[dict]:
    params = {"status": status} if status else {}
    found = client.get("/api/v1/admin/deliveries", params=params, auth=ADMIN).json()["deliveries"]
    return [d for d in found if channel is None or d["channel"] == channel]


def test_an_event_with_a_callback_is_acknowledged_and_the_signed_reply_is_posted(
    live: TestClient, channel: tuple[str, str]
) -> None:
    name, secret = channel
    with receiving(secret) as receiver:
        ack = post_signed(live, name, secret, event_body("Where is order 1001?", callback_url=receiver.url))
        assert ack.status_code == 202, ack.text
        assert ack.json()["status"] == "accepted"
        [event] = receiver.wait_for(1)
    assert event["type"] == "reply" and event["in_reply_to"] == "evt-1" and event["channel"] == name
    assert event["text"] == "You said: Where is order 1001?"
    assert event["conversation_id"] == "conv-1" and event["session_id"] == ack.json()["session_id"]
    assert event["event_id"].startswith("evt_") and event["event_id"] != "evt-1"
    assert receiver.tries == 1  # the receiver answers 401 to a bad signature: this one verified


def test_a_receiver_that_fails_the_first_tries_gets_the_reply_once_it_recovers(
    live: TestClient, channel: tuple[str, str]
) -> None:
    name, secret = channel
    with receiving(secret, failures=3) as receiver:
        post_signed(live, name, secret, event_body("Where is my parcel?", callback_url=receiver.url))
        events = receiver.wait_for(1)
        assert [e["text"] for e in events] == ["You said: Where is my parcel?"]
        assert receiver.tries == 4
    [row] = deliveries(live, channel=name)
    assert row["status"] == "delivered" and row["attempts"] == 4


def test_a_hanging_receiver_is_given_up_on_and_the_admin_retry_delivers(
    live: TestClient, channel: tuple[str, str]
) -> None:
    name, secret = channel
    fast_retries(live, max_attempts=2, timeout_s=0.5)
    with receiving(secret, hang_s=3.0) as receiver:
        post_signed(live, name, secret, event_body("Where is my parcel?", callback_url=receiver.url))
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not deliveries(live, "failed", name):
            time.sleep(0.1)
        [failed] = deliveries(live, "failed", name)
        assert failed["attempts"] == 2 and "Timeout" in failed["last_error"]
        receiver.hang_s = 0.0
        retried = live.post(f"/api/v1/admin/deliveries/{failed['id']}/retry", auth=ADMIN)
        assert retried.status_code == 200 and retried.json()["status"] == "pending"
        assert [e["text"] for e in receiver.wait_for(1)] == ["You said: Where is my parcel?"]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and deliveries(live, channel=name)[0]["status"] != "delivered":
            time.sleep(0.05)
    assert deliveries(live, channel=name)[0]["status"] == "delivered"
    assert live.post(f"/api/v1/admin/deliveries/{failed['id']}/retry", auth=ADMIN).status_code == 404


def test_a_persons_reply_reaches_the_callback(live: TestClient, channel: tuple[str, str]) -> None:
    name, secret = channel
    with receiving(secret) as receiver:
        ack = post_signed(live, name, secret, event_body("Where is my parcel?", callback_url=receiver.url))
        receiver.wait_for(1)
        session_id = ack.json()["session_id"]
        live.app.state.services.handoff.transition(session_id, "queued", by="assistant", reason="test")
        assert live.post(f"/api/v1/admin/conversations/{session_id}/take", auth=ADMIN).status_code == 200
        reply = live.post(
            f"/api/v1/admin/conversations/{session_id}/reply", json={"text": "Hi, Sam here."}, auth=ADMIN
        )
        assert reply.status_code == 201, reply.text
        events = sorted(receiver.wait_for(3), key=lambda e: e["message_id"])
    # The channel's customer is told that a person joined, as the chat's customer is.
    assert [(e["type"], e["text"]) for e in events] == [
        ("reply", "You said: Where is my parcel?"),
        ("notice", "admin from our support team has joined the conversation."),
        ("human_reply", "Hi, Sam here."),
    ]
    assert events[2]["state"] == "human" and events[2]["handoff"] is True


def test_pending_deliveries_are_sent_after_a_restart(data_dir: Path) -> None:
    # First run: the reply is stored with its outbox row, but the worker never runs (a crash).
    first = TestClient(create_app(scripted_services(data_dir)))
    secret = create_channel(first)
    with receiving(secret) as receiver:
        url = receiver.url
    post_signed(first, "shop", secret, event_body("Where is my parcel?", callback_url=url))
    engine = first.app.state.services.store.engine
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            if conn.scalar(select(OutboxDelivery.status)) == "pending":
                break
        time.sleep(0.05)
    first.close()
    engine.dispose()

    # The receiver comes back on the same port; the restarted app delivers what was pending.
    with receiving(secret, port=int(url.rsplit(":", 1)[1].split("/")[0])) as receiver:
        with TestClient(create_app(scripted_services(data_dir))) as second:
            fast_retries(second)
            assert [e["text"] for e in receiver.wait_for(1)] == ["You said: Where is my parcel?"]
            assert deliveries(second)[0]["status"] == "delivered"


def test_an_acknowledged_event_whose_turn_a_crash_cut_short_is_answered_after_a_restart(
    data_dir: Path,
) -> None:
    # The state a crash leaves between the 202 and the turn: the event answered, its message waiting.
    services = scripted_services(data_dir)
    client = TestClient(create_app(services))
    secret = create_channel(client)
    with receiving(secret) as receiver:
        channel = services.integrations.channels.get("shop")
        stored = services.agent.accept("Still there?", session_id=services.store.create_session())
        with services.store.engine.begin() as conn:
            conn.execute(
                WebhookEvent.__table__.insert().values(
                    channel_id=channel.id,
                    event_id="evt-crash",
                    body_hash="x",
                    status="done",
                    conversation_id="conv-1",
                    session_id=stored.session_id,
                    message_id=stored.id,
                    callback_url=receiver.url,
                    response_status=202,
                    response_body={},
                    created_at=datetime.now(UTC),
                    updated_at=datetime.now(UTC),
                )
            )
        client.close()
        with TestClient(create_app(scripted_services(data_dir))) as restarted:
            fast_retries(restarted)
            [event] = receiver.wait_for(1)
    assert event["in_reply_to"] == "evt-crash" and event["text"] == "You said: Still there?"


def test_the_outbox_works_the_same_on_postgresql(data_dir: Path, postgres_url: str) -> None:
    with scripted_client(data_dir, database_url=postgres_url) as client:
        fast_retries(client)
        secret = create_channel(client)
        with receiving(secret, failures=1) as receiver:
            ack = post_signed(
                client, "shop", secret, event_body("Where is my parcel?", callback_url=receiver.url)
            )
            assert ack.status_code == 202
            assert [e["text"] for e in receiver.wait_for(1)] == ["You said: Where is my parcel?"]
            again = post_signed(
                client, "shop", secret, event_body("Where is my parcel?", callback_url=receiver.url)
            )
            assert again.json() == ack.json() and again.headers["Idempotent-Replayed"] == "true"
        [row] = deliveries(client)
        assert row["status"] == "delivered" and row["attempts"] == 2
    client.app.state.services.store.engine.dispose()

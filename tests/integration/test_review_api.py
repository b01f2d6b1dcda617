"""Feedback, the conversation browser, the turn inspector and the fine-tuning export through the real
REST API (real SQLite and PostgreSQL, the whole app in-process; a scripted chat model writes the replies
because the model is not the point here, tests/e2e/test_review_browser.py runs the real one)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from fastapi.testclient import TestClient
from langchain_core.messages import AIMessage
from sqlalchemy import inspect

from app import build_services
from commerce import seed_demo_store
from memory import ConversationStore
from review import FeedbackService
from settings import Settings
from storage import make_engine, migrate
from storage.db import MIGRATIONS_DIR
from tests.integration.conftest import ADMIN
from tests.utils.scripted import scripted_backend
from web.server import create_app


def numbered_replies() -> list:
    counter = itertools.count(1)
    return [lambda _messages: AIMessage(content=f"Here is answer number {next(counter)} for you.")] * 60


@pytest.fixture
def make_app(request: pytest.FixtureRequest, embedder, tmp_path: Path) -> Iterator[Callable[..., TestClient]]:
    """The app on a fresh database (SQLite, or PostgreSQL when parametrized so) with no documents;
    its chat model answers from a script."""
    clients: list[TestClient] = []

    def factory(**overrides) -> TestClient:
        values = {
            "data_dir": tmp_path / f"app{len(clients)}",
            "admin_password": ADMIN[1],
            "demo_data": False,
            "answer_mode": "generative",
            **overrides,
        }
        if getattr(request, "param", "sqlite") == "postgresql":
            values["database_url"] = request.getfixturevalue("postgres_url")
        services = build_services(Settings(**values), embedder=embedder)
        services.agent.backend = scripted_backend(numbered_replies())
        seed_demo_store(services.store.engine)  # orders to look up, without the help center
        client = TestClient(create_app(services))
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.close()


def chat(client: TestClient, message: str, session_id: str | None = None) -> dict:
    response = client.post("/api/v1/chat", json={"message": message, "session_id": session_id})
    assert response.status_code == 200, response.text
    return response.json()


def rate(client: TestClient, message_id: int, **body) -> tuple[int, dict]:
    response = client.post(f"/api/v1/messages/{message_id}/feedback", json=body)
    return response.status_code, response.json()


@pytest.mark.parametrize("make_app", ["sqlite", "postgresql"], indirect=True)
def test_a_customer_rates_their_own_replies_and_nothing_else(make_app) -> None:
    client = make_app()
    first = chat(client, "Do you sell kettles?")
    session, reply_id = first["session_id"], first["message_id"]
    other = chat(client, "Do you sell toasters?")

    status, body = rate(client, reply_id, session_id=session, rating="up", comment="  Helpful  ")
    assert status == 200, body
    assert body["rating"] == "up" and body["comment"] == "Helpful" and body["message_id"] == reply_id
    # Rating again replaces the rating: one per reply.
    status, body = rate(client, reply_id, session_id=session, rating="down")
    assert status == 200 and body["rating"] == "down" and body["comment"] == ""
    listed = client.get("/api/v1/admin/conversations", params={"state": "all"}, auth=ADMIN).json()
    counts = {c["session_id"]: c["feedback"] for c in listed["conversations"]}
    assert counts[session] == {"up": 0, "down": 1} and counts[other["session_id"]] == {"up": 0, "down": 0}

    # Someone else's reply answers exactly like an unknown id.
    assert rate(client, other["message_id"], session_id=session, rating="up")[0] == 404
    status, body = rate(client, 999_999, session_id=session, rating="up")
    assert status == 404 and body["error"]["code"] == "unknown_message"
    # The customer's own message is not an answer.
    status, body = rate(client, reply_id - 1, session_id=session, rating="up")
    assert status == 422 and body["error"]["code"] == "not_rateable"
    for bad in (
        {"session_id": session, "rating": "meh"},
        {"session_id": session},
        {"rating": "up"},
        {"session_id": session, "rating": "up", "comment": "x" * 2001},
        {"session_id": session, "rating": True},
        {"session_id": session, "rating": "up", "comment": "nul \u0000 inside"},
        {"session_id": "../" + session, "rating": "up"},
    ):
        status, body = rate(client, reply_id, **bad)
        assert status == 422 and "error" in body, bad
    assert client.post("/api/v1/messages/abc/feedback", json={}).status_code == 422
    body_text = json.dumps({"session_id": session, "rating": "up", "comment": "lone SURROGATE"})
    lone_surrogate = body_text.replace("SURROGATE", "\\ud800").encode()
    headers = {"content-type": "application/json"}
    surrogate = client.post(f"/api/v1/messages/{reply_id}/feedback", content=lone_surrogate, headers=headers)
    assert surrogate.status_code == 422 and "error" in surrogate.json()
    assert client.post(f"/api/v1/messages/{reply_id}/feedback", content=b"{not json").status_code == 422
    # Nothing above changed the stored rating.
    messages = client.get(f"/api/v1/admin/conversations/{session}", auth=ADMIN).json()["messages"]
    assert [m["feedback"]["rating"] for m in messages if m["feedback"]] == ["down"]


@pytest.mark.parametrize("make_app", ["sqlite", "postgresql"], indirect=True)
def test_the_conversation_list_searches_pages_and_keeps_the_inbox(make_app) -> None:
    client = make_app()
    sessions = [
        chat(client, f"Question about {topic} please")["session_id"] for topic in ("kettles", "lamps", "rugs")
    ]
    chat(client, "And how about a red kettle?", sessions[2])
    handed = chat(client, "I want to talk to a human agent please.")["session_id"]

    page1 = client.get(
        "/api/v1/admin/conversations", params={"state": "all", "page_size": 3}, auth=ADMIN
    ).json()
    assert page1["total"] == 4 and page1["page"] == 1 and len(page1["conversations"]) == 3
    # Newest activity first.
    assert [c["session_id"] for c in page1["conversations"]] == [handed, sessions[2], sessions[1]]
    page2 = client.get(
        "/api/v1/admin/conversations", params={"state": "all", "page_size": 3, "page": 2}, auth=ADMIN
    ).json()
    assert [c["session_id"] for c in page2["conversations"]] == [sessions[0]]
    row = page1["conversations"][1]
    assert row["messages"] == 4 and row["customer_messages"] == 2 and row["state"] == "bot"
    assert (
        row["started_at"] <= row["last_message_at"]
        and row["last_customer_message"] == "And how about a red kettle?"
    )

    found = client.get(
        "/api/v1/admin/conversations", params={"state": "all", "q": "KETTLE"}, auth=ADMIN
    ).json()
    assert {c["session_id"] for c in found["conversations"]} == {sessions[0], sessions[2]} and found[
        "total"
    ] == 2
    literal = client.get("/api/v1/admin/conversations", params={"state": "all", "q": "%"}, auth=ADMIN).json()
    assert literal["total"] == 0
    by_id = client.get("/api/v1/admin/conversations", params={"state": "all", "q": sessions[1]}, auth=ADMIN)
    assert [c["session_id"] for c in by_id.json()["conversations"]] == [sessions[1]]

    # The inbox (no state) still lists only what waits for a person.
    inbox = client.get("/api/v1/admin/conversations", auth=ADMIN).json()
    assert [(c["session_id"], c["state"]) for c in inbox["conversations"]] == [(handed, "queued")]
    assert inbox["conversations"][0]["summary"]

    for params in ({"state": "nope"}, {"page": 0}, {"page_size": 0}, {"page_size": 5000}, {"q": "x" * 201}):
        response = client.get("/api/v1/admin/conversations", params=params, auth=ADMIN)
        assert response.status_code == 422 and "error" in response.json(), params
    assert client.get("/api/v1/admin/conversations", params={"state": "all"}).status_code == 401
    assert client.get("/api/v1/admin/conversations/nope", auth=ADMIN).status_code == 404


def test_both_histories_list_each_reply_after_the_message_it_answers(make_app) -> None:
    client = make_app()
    agent = client.app.state.services.agent  # type: ignore[attr-defined]
    first = agent.accept("Where is my parcel?", session_id=None)
    session = first.session_id
    # The customer wrote again before the first answer was stored: question, question, answer, answer.
    second = agent.accept("Is it insured?", session_id=session)
    list(agent.respond(session, second.id))
    public = client.get(f"/api/v1/sessions/{session}/messages").json()["messages"]
    admin = client.get(f"/api/v1/admin/conversations/{session}", auth=ADMIN).json()["messages"]
    for messages in (public, admin):
        assert [(m["role"], m["reply_to"]) for m in messages] == [
            ("user", None),
            ("assistant", first.id),
            ("user", None),
            ("assistant", second.id),
        ]
        assert [m["id"] for m in messages] == [first.id, second.id + 1, second.id, second.id + 2]


def test_the_inspector_shows_what_the_fifo_window_dropped(make_app) -> None:
    client = make_app(context_tokens=256, answer_tokens=64)
    session = None
    questions = [
        f"Question {word}: tell me about your {word} policy in some detail please, thanks a lot"
        for word in ("alpha", "bravo", "charlie", "delta")
    ]
    for question in questions:
        session = chat(client, question, session)["session_id"]
    computed = chat(client, "What is 3 × 19.99 minus 10 %?", session)

    transcript = client.get(f"/api/v1/admin/conversations/{session}", auth=ADMIN).json()["messages"]
    replies = [m for m in transcript if m["inspectable"]]
    assert len(replies) == 5 and not any(m["inspectable"] for m in transcript if m["role"] == "user")
    trace = client.get(f"/api/v1/admin/messages/{computed['message_id']}/trace", auth=ADMIN).json()
    window = trace["window"]
    assert window["budget"] > 0 and window["system_tokens"] > 0
    kept = [m["content"] for m in window["kept"]]
    dropped = [m["content"] for m in window["dropped"]]
    # FIFO: the oldest turns left, the newest question stayed, and nothing is in both.
    assert questions[0] in dropped and kept[-1] == "What is 3 × 19.99 minus 10 %?"
    assert not set(kept) & set(dropped)
    assert window["kept_tokens"] <= window["budget"]
    ids = [m["id"] for m in window["dropped"] + window["kept"]]
    assert ids == sorted(ids)
    # The routed calculator call: arguments, result and its time; the model step's tokens and time.
    call = trace["tool_calls"][0]
    assert call["name"] == "calculator" and "53.97" in call["result"] and call["ms"] >= 0
    assert trace["steps"] and trace["steps"][0]["model_ms"] >= 0
    assert trace["timings_ms"]["total"] >= trace["timings_ms"]["model"]
    assert (
        trace["reply"] == computed["reply"] and trace["prompt_versions"]["system"] == 1
    )  # the seeded live version
    assert [m["role"] for m in window["this_turn"]] == ["assistant", "tool"]

    first_reply = replies[0]["id"]
    early = client.get(f"/api/v1/admin/messages/{first_reply}/trace", auth=ADMIN).json()
    assert early["window"]["dropped"] == [] and early["window"]["kept"][0]["content"] == questions[0]

    user_message = next(m["id"] for m in transcript if m["role"] == "user")
    for message_id in (user_message, 999_999):
        response = client.get(f"/api/v1/admin/messages/{message_id}/trace", auth=ADMIN)
        assert response.status_code == 404 and response.json()["error"]["code"] == "unknown_message"
    assert client.get("/api/v1/admin/messages/0/trace", auth=ADMIN).status_code == 422
    assert client.get(f"/api/v1/admin/messages/{first_reply}/trace").status_code == 401


def lines(response) -> list[dict]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    assert "attachment" in response.headers["content-disposition"]
    return [json.loads(line) for line in response.text.splitlines()]


def test_the_export_gives_sft_transcripts_and_dpo_pairs(make_app) -> None:
    client = make_app()
    # An empty store: an empty file, not an error.
    assert lines(client.get("/api/v1/admin/export", params={"kind": "sft"}, auth=ADMIN)) == []
    assert lines(client.get("/api/v1/admin/export", params={"kind": "dpo"}, auth=ADMIN)) == []

    liked = chat(client, "Where is order NW-10042? I am maria.lopez@example.com")
    rate(client, liked["message_id"], session_id=liked["session_id"], rating="up")
    disliked = chat(client, "Can I return a used kettle?")
    session = disliked["session_id"]
    rate(client, disliked["message_id"], session_id=session, rating="down")
    chat(client, "I want to talk to a human agent please.", session)
    client.post(f"/api/v1/admin/conversations/{session}/take", json={"agent": "Ana"}, auth=ADMIN)
    client.post(
        f"/api/v1/admin/conversations/{session}/reply",
        json={"text": "Yes, within 30 days if it is unused.", "agent": "Ana"},
        auth=ADMIN,
    )

    sft = lines(client.get("/api/v1/admin/export", auth=ADMIN))
    assert len(sft) == 2
    for example in sft:
        assert set(example) == {"messages"}
        assert {m["role"] for m in example["messages"]} <= {"user", "assistant"}
        assert all(set(m) == {"role", "content"} for m in example["messages"])
    dumped = json.dumps(sft)
    # Only conversation text: no session or client ids, no tool results with the customer's record.
    assert liked["session_id"] not in dumped and session not in dumped
    assert "1Z999AA10123456784" not in dumped
    assert "Where is order NW-10042? I am maria.lopez@example.com" in dumped
    assert "Yes, within 30 days if it is unused." in dumped

    up_only = lines(client.get("/api/v1/admin/export", params={"rating": "up"}, auth=ADMIN))
    assert [e["messages"][0]["content"] for e in up_only] == [
        "Where is order NW-10042? I am maria.lopez@example.com"
    ]
    assert lines(client.get("/api/v1/admin/export", params={"prompt_version": 3}, auth=ADMIN)) == []
    assert lines(client.get("/api/v1/admin/export", params={"prompt_version": 1}, auth=ADMIN))
    assert lines(client.get("/api/v1/admin/export", params={"until": "2020-01-01"}, auth=ADMIN)) == []

    pairs = lines(
        client.get("/api/v1/admin/export", params={"kind": "dpo", "since": "2020-01-01"}, auth=ADMIN)
    )
    assert pairs == [
        {
            "prompt": [{"role": "user", "content": "Can I return a used kettle?"}],
            "chosen": "Yes, within 30 days if it is unused.",
            "rejected": disliked["reply"],
        }
    ]
    summary = client.get("/api/v1/admin/feedback", auth=ADMIN).json()
    assert summary["by_prompt_version"] == [
        {"prompt_version": 1, "up": 1, "down": 1, "rated": 2, "share_up": 0.5}
    ]

    for params in (
        {"kind": "csv"},
        {"since": "yesterday"},
        {"since": "2026-02-01", "until": "2026-01-01"},
        {"rating": "meh"},
        {"kind": "dpo", "rating": "up"},
        {"prompt_version": 0},
    ):
        response = client.get("/api/v1/admin/export", params=params, auth=ADMIN)
        assert response.status_code == 422 and "error" in response.json(), params
    assert client.get("/api/v1/admin/export").status_code == 401


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migration_0006_adds_the_feedback_table_and_removes_only_it(
    request: pytest.FixtureRequest, data_dir: Path, backend: str
) -> None:
    url = (
        f"sqlite:///{data_dir / 'fb.db'}" if backend == "sqlite" else request.getfixturevalue("postgres_url")
    )
    engine = make_engine(url)
    migrate(engine)
    store = ConversationStore(engine)
    asked = store.add_message(session_id=store.create_session(), role="user", content="hi")
    reply = store.add_message(
        session_id=asked.session_id, role="assistant", content="hello", reply_to=asked.id
    )
    FeedbackService(engine).rate(session_id=asked.session_id, message_id=reply.id, rating="up")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0004")
    assert "feedback" not in inspect(engine).get_table_names()
    assert [m.content for m in store.messages(asked.session_id)] == ["hi", "hello"]
    migrate(engine)
    assert FeedbackService(engine).for_messages([reply.id]) == {}
    engine.dispose()

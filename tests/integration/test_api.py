"""The REST contract on the real app: embedded SmolLM2, demo help center in embedded Chroma, SQLite."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from tests.integration.conftest import ADMIN


def sse_events(body: str) -> list[tuple[str, dict]]:
    events = []
    for block in body.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def test_health_reports_the_model_and_documents(demo_client: TestClient) -> None:
    body = demo_client.get("/healthz").json()
    assert body["status"] == "ok"
    assert "SmolLM2" in body["model"]
    assert body["documents"] == 18


def test_a_demo_question_is_answered_with_the_right_citation(demo_client: TestClient) -> None:
    response = demo_client.post(
        "/api/v1/chat", json={"message": "How many days do I have to return something?"}
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"session_id", "message_id", "reply", "citations", "tool_calls", "handoff", "state"}
    assert body["reply"].strip()
    assert body["citations"][0]["document"] == "returns-policy"
    assert body["citations"][0]["title"] == "Returns Policy"
    assert body["citations"][0]["chunk_id"].startswith("returns-policy:")
    assert 0 < body["citations"][0]["score"] <= 1

    history = demo_client.get(f"/api/v1/sessions/{body['session_id']}/messages").json()
    assert [(m["role"], m["content"]) for m in history["messages"]] == [
        ("user", "How many days do I have to return something?"),
        ("assistant", body["reply"]),
    ]
    assert history["messages"][1]["id"] == body["message_id"]
    assert history["messages"][1]["citations"] == body["citations"]


def test_a_question_the_documents_do_not_answer_gets_an_honest_i_dont_know(demo_client: TestClient) -> None:
    body = demo_client.post("/api/v1/chat", json={"message": "Do you sell used cars?"}).json()
    assert body["citations"] == []
    assert "don't know" in body["reply"] and "human" in body["reply"]


def test_the_second_turn_continues_the_same_session(demo_client: TestClient) -> None:
    first = demo_client.post("/api/v1/chat", json={"message": "Which carriers do you ship with?"}).json()
    second = demo_client.post(
        "/api/v1/chat",
        json={"message": "And how much does shipping cost?", "session_id": first["session_id"]},
    ).json()
    assert second["session_id"] == first["session_id"]
    messages = demo_client.get(f"/api/v1/sessions/{first['session_id']}/messages").json()["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]


def test_streaming_sends_tokens_then_the_whole_result(demo_client: TestClient) -> None:
    with demo_client.stream(
        "POST", "/api/v1/chat", json={"message": "How do I reset my password?", "stream": True}
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        body = "".join(response.iter_text())
    events = sse_events(body)
    kinds = [kind for kind, _ in events]
    assert kinds[-1] == "done" and kinds.count("token") >= 3
    done = events[-1][1]
    assert "".join(data["text"] for kind, data in events if kind == "token").strip() == done["reply"]
    assert done["citations"][0]["document"] == "account-and-login"


@pytest.mark.parametrize(
    ("request_kwargs", "status", "code"),
    [
        ({"json": {"message": ""}}, 422, "empty_message"),
        ({"json": {"message": "   "}}, 422, "empty_message"),
        ({"json": {"message": "x" * 4001}}, 413, "message_too_large"),
        ({"json": {"message": 12}}, 422, "invalid_request"),
        ({"json": {"message": ["a"]}}, 422, "invalid_request"),
        ({"json": {"message": "hi", "stream": "yes"}}, 422, "invalid_request"),
        ({"json": {}}, 422, "invalid_request"),
        ({"json": {"message": "hi\u0000"}}, 422, "invalid_characters"),
        ({"json": {"message": "hi", "session_id": "not-a-session"}}, 404, "unknown_session"),
        ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 422, "invalid_request"),
        (
            {"content": b"x" * 300_000, "headers": {"content-type": "application/json"}},
            413,
            "request_too_large",
        ),
    ],
)
def test_bad_input_gets_a_clear_json_error(demo_client: TestClient, request_kwargs, status, code) -> None:
    response = demo_client.post("/api/v1/chat", **request_kwargs)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]


def test_unknown_session_history_is_404(demo_client: TestClient) -> None:
    response = demo_client.get("/api/v1/sessions/nope/messages")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_session"


def test_unknown_route_is_a_json_404(demo_client: TestClient) -> None:
    response = demo_client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_admin_api_needs_the_admin_password(demo_client: TestClient) -> None:
    assert demo_client.get("/api/v1/admin/documents").status_code == 401
    assert demo_client.get("/api/v1/admin/documents", auth=("admin", "wrong")).status_code == 401
    assert demo_client.get("/api/v1/admin/documents", auth=("root", ADMIN[1])).status_code == 401
    listed = demo_client.get("/api/v1/admin/documents", auth=ADMIN)
    assert listed.status_code == 200 and len(listed.json()["documents"]) == 18


def test_a_dead_backend_answers_503_and_keeps_the_message(make_client) -> None:
    client = make_client(
        llm_backend="openai", llm_base_url="http://127.0.0.1:9/v1", llm_timeout_s=3, demo_data=False
    )
    session_id = None
    for n, stream in enumerate((False, True)):
        response = client.post(
            "/api/v1/chat",
            json={"message": f"Hello, anyone? ({n})", "stream": stream, "session_id": session_id},
        )
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "backend_unavailable"
        assert "saved" in response.json()["error"]["message"]
        session_id = response.json()["session_id"]

    history = client.get(f"/api/v1/sessions/{session_id}/messages").json()["messages"]
    assert [(m["role"], m["content"]) for m in history] == [
        ("user", "Hello, anyone? (0)"),
        ("user", "Hello, anyone? (1)"),
    ]


def test_demo_data_can_be_turned_off(make_client) -> None:
    client = make_client(demo_data=False)
    assert client.get("/healthz").json()["documents"] == 0
    assert client.get("/api/v1/admin/documents", auth=ADMIN).json() == {"documents": []}


def test_documents_through_the_admin_api(make_client) -> None:
    client = make_client(demo_data=False)
    article = b"# Gift Wrapping\n\nWe wrap any order in recycled kraft paper for $4.50 per item."
    added = client.post("/api/v1/admin/documents", auth=ADMIN, files={"file": ("gift-wrapping.md", article)})
    assert added.status_code == 201 and added.json()["status"] == "added"
    same = client.post("/api/v1/admin/documents", auth=ADMIN, files={"file": ("gift-wrapping.md", article)})
    assert same.status_code == 200 and same.json()["status"] == "unchanged"
    dup = client.post("/api/v1/admin/documents", auth=ADMIN, files={"file": ("copy.md", article)})
    assert dup.status_code == 409 and dup.json()["error"]["code"] == "duplicate_document"
    bad = client.post("/api/v1/admin/documents", auth=ADMIN, files={"file": ("x.exe", b"MZ")})
    assert bad.status_code == 415 and bad.json()["error"]["code"] == "unsupported_type"
    empty = client.post("/api/v1/admin/documents", auth=ADMIN, files={"file": ("e.md", b"")})
    assert empty.status_code == 422

    body = client.post("/api/v1/chat", json={"message": "How much does gift wrapping cost?"}).json()
    assert body["citations"][0]["document"] == "gift-wrapping"
    hits = client.get("/api/v1/admin/kb/search", params={"q": "kraft paper", "k": 1}, auth=ADMIN).json()
    assert hits["results"][0]["chunk_id"] == "gift-wrapping:0"

    assert client.post("/api/v1/admin/documents/gift-wrapping/reindex", auth=ADMIN).json()["chunks"] == 1
    assert client.delete("/api/v1/admin/documents/gift-wrapping", auth=ADMIN).status_code == 204
    assert client.delete("/api/v1/admin/documents/gift-wrapping", auth=ADMIN).status_code == 404
    assert client.get("/api/v1/admin/kb/search", params={"q": "kraft"}, auth=ADMIN).json()["results"] == []

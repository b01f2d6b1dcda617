"""API keys, rate limits and CORS on the real app's HTTP surface (scripted model)."""

from __future__ import annotations

from pathlib import Path

from tests.utils.integration_app import ADMIN, create_channel, event_body, post_signed, scripted_client


def chat(client, message: str = "Where is my parcel?", key: str | None = None, **body):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return client.post("/api/v1/chat", json={"message": message, **body}, headers=headers)


def test_once_a_key_exists_the_public_api_needs_one_and_a_revoked_key_stops_working(data_dir: Path) -> None:
    client = scripted_client(data_dir)
    anonymous = chat(client)
    assert anonymous.status_code == 200  # no key exists yet: the API is open, as before

    created = client.post("/api/v1/admin/api-keys", json={"name": "website"}, auth=ADMIN)
    assert created.status_code == 201
    key = created.json()["key"]
    assert key.startswith("fd_") and created.json()["prefix"] == key[:10]
    listed = client.get("/api/v1/admin/api-keys", auth=ADMIN).json()["keys"]
    assert [k["name"] for k in listed] == ["website"] and "key" not in listed[0]

    refused = chat(client)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "api_key_required"
    assert refused.headers["WWW-Authenticate"] == "Bearer"
    session = anonymous.json()["session_id"]
    assert client.get(f"/api/v1/sessions/{session}/messages").status_code == 401
    ok = chat(client, key=key)
    assert ok.status_code == 200 and ok.json()["reply"] == "You said: Where is my parcel?"
    history = client.get(f"/api/v1/sessions/{session}/messages", headers={"Authorization": f"Bearer {key}"})
    assert history.status_code == 200
    assert chat(client, key="fd_not-a-real-key").json()["error"]["code"] == "invalid_api_key"

    # Webhooks authenticate by signature only; the chat page stays open to anonymous visitors.
    secret = create_channel(client)
    assert post_signed(client, "shop", secret, event_body()).status_code == 200
    assert client.get("/").status_code == 200

    assert client.delete("/api/v1/admin/api-keys/website", auth=ADMIN).status_code == 200
    revoked = chat(client, key=key)
    assert revoked.status_code == 401 and revoked.json()["error"]["code"] == "invalid_api_key"
    assert client.delete("/api/v1/admin/api-keys/website", auth=ADMIN).status_code == 404


def test_configured_keys_work_without_any_admin_key(data_dir: Path) -> None:
    client = scripted_client(data_dir, api_keys="key-one, key-two")
    assert chat(client).status_code == 401
    assert chat(client, key="key-two").status_code == 200
    assert chat(client, key="key-three").status_code == 401


def test_floods_get_429_with_retry_after_per_address_and_per_conversation(data_dir: Path) -> None:
    client = scripted_client(data_dir, rate_limit_per_ip="3/minute", rate_limit_per_session="2/minute")
    statuses = [chat(client).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    flood = chat(client)
    assert flood.json()["error"]["code"] == "too_many_requests" and int(flood.headers["Retry-After"]) >= 1

    keyed = scripted_client(data_dir / "keyed", rate_limit_per_session="2/minute", api_keys="k")
    session = chat(keyed, key="k").json()["session_id"]
    # The limit counts the requests that name the conversation.
    assert [chat(keyed, key="k", session_id=session).status_code for _ in range(2)] == [200, 200]
    limited = chat(keyed, key="k", session_id=session)
    assert limited.status_code == 429 and "conversation" in limited.json()["error"]["message"]
    assert chat(keyed, key="k").status_code == 200  # another conversation is not held back


def test_cors_allows_only_the_configured_widget_origins(data_dir: Path) -> None:
    client = scripted_client(data_dir, cors_origins="https://shop.example")
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    allowed = client.options("/api/v1/chat", headers={"Origin": "https://shop.example", **preflight})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://shop.example"
    other = client.options("/api/v1/chat", headers={"Origin": "https://evil.example", **preflight})
    assert "access-control-allow-origin" not in other.headers
    answered = client.post("/api/v1/chat", json={"message": "Hi"}, headers={"Origin": "https://shop.example"})
    assert answered.headers["access-control-allow-origin"] == "https://shop.example"

"""The admin prompt routes on the real app (SQLite, Chroma with the demo help center, embedded model):
list, read, save drafts (409, 422 with the line, a 100 kB prompt), publish, restore and try."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.integration.conftest import ADMIN

BASE = "/api/v1/admin/prompts"
OUT_OF_SCOPE = "What is the capital of France?"


def newest(client: TestClient, name: str) -> int:
    response = client.get(f"{BASE}/{name}", auth=ADMIN)
    assert response.status_code == 200, response.text
    return max(v["version"] for v in response.json()["versions"])


def save(client: TestClient, name: str, template: str, **extra: Any) -> Any:
    body = {"template": template, "note": "test", "base_version": newest(client, name), **extra}
    return client.post(f"{BASE}/{name}/versions", json=body, auth=ADMIN)


def live_version(client: TestClient, name: str) -> int:
    return client.get(f"{BASE}/{name}", auth=ADMIN).json()["live"]["version"]


def chat(client: TestClient, message: str) -> str:
    response = client.post("/api/v1/chat", json={"message": message})
    assert response.status_code == 200, response.text
    return response.json()["reply"]


def test_the_prompts_are_listed_and_need_the_admin_login(demo_client: TestClient) -> None:
    assert demo_client.get(BASE).status_code == 401
    response = demo_client.get(BASE, auth=ADMIN)
    assert response.status_code == 200
    prompts = {p["name"]: p for p in response.json()["prompts"]}
    assert {"system", "no_answer", "handoff"} <= set(prompts)
    assert all(p["live_version"] >= 1 for p in prompts.values())
    assert "company" in prompts["system"]["variables"]


def test_one_prompt_shows_its_live_version_and_an_unknown_name_is_a_404(demo_client: TestClient) -> None:
    body = demo_client.get(f"{BASE}/system", auth=ADMIN).json()
    assert body["name"] == "system" and "{{ company }}" in body["live"]["template"]
    assert body["live"]["settings"]["company"] == "Northwind Goods"
    assert {"version", "template", "note", "settings", "author", "created_at"} <= set(body["live"])
    assert all("template" not in v for v in body["versions"])
    missing = demo_client.get(f"{BASE}/nope", auth=ADMIN)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "unknown_prompt"
    for path in (f"{BASE}/nope/versions", f"{BASE}/handoff/versions/999/publish"):
        response = demo_client.post(path, json={"template": "x", "base_version": 1}, auth=ADMIN)
        assert response.status_code in (404, 422) and "error" in response.json()
    assert demo_client.post(f"{BASE}/handoff/versions/999/publish", auth=ADMIN).status_code == 404
    assert demo_client.get(f"{BASE}/handoff/versions/999", auth=ADMIN).status_code == 404


def test_a_second_save_on_the_same_base_is_a_409_with_the_newer_version(demo_client: TestClient) -> None:
    base = newest(demo_client, "handoff")
    first = demo_client.post(
        f"{BASE}/handoff/versions",
        json={"template": "A person will reply soon.", "note": "mine", "base_version": base},
        auth=ADMIN,
    )
    assert first.status_code == 201, first.text
    assert first.json()["version"] == base + 1 and first.json()["status"] == "draft"
    second = demo_client.post(
        f"{BASE}/handoff/versions",
        json={"template": "Someone will reply.", "note": "theirs", "base_version": base},
        auth=ADMIN,
    )
    assert second.status_code == 409
    body = second.json()
    assert body["error"]["code"] == "version_conflict"
    assert body["newest"]["version"] == base + 1 and body["newest"]["template"] == "A person will reply soon."
    assert newest(demo_client, "handoff") == base + 1  # nothing lost, nothing overwritten


def test_saving_the_newest_version_unchanged_is_a_200_and_stores_nothing(demo_client: TestClient) -> None:
    base = newest(demo_client, "system")
    current = demo_client.get(f"{BASE}/system/versions/{base}", auth=ADMIN).json()
    for extra in ({"settings": current["settings"]}, {}):  # the same settings, or the base's kept
        same = save(demo_client, "system", current["template"], **extra)
        assert same.status_code == 200, same.text
        assert same.json()["version"] == base and same.json()["template"] == current["template"]
        assert newest(demo_client, "system") == base
    changed = save(demo_client, "system", current["template"], settings={**current["settings"], "top_p": 0.5})
    assert changed.status_code == 201 and changed.json()["version"] == base + 1
    documented = demo_client.get("/openapi.json").json()["paths"][f"{BASE}/{{name}}/versions"]["post"]
    assert {"200", "201"} <= set(documented["responses"])


@pytest.mark.parametrize(
    ("template", "settings", "line"),
    [
        ("Sorry.\n{% if company %}\nWe at {{ company }", None, 3),
        ("Sorry.\n\nAsk {{ agent_name }}.", None, 3),
        ("Sorry.", {"temperature": 5}, None),
    ],
)
def test_a_template_that_does_not_render_or_bad_settings_are_a_422_and_nothing_is_saved(
    demo_client: TestClient, template: str, settings: dict | None, line: int | None
) -> None:
    name = "system" if settings else "no_answer"
    before = newest(demo_client, name)
    response = save(demo_client, name, template, **({"settings": settings} if settings else {}))
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"]["code"] == ("invalid_settings" if settings else "invalid_template")
    if line:
        assert body["line"] == line and f"line {line}" in body["error"]["message"]
    assert newest(demo_client, name) == before


def test_a_100_kb_prompt_is_kept_whole_but_not_published_and_a_bigger_one_is_refused(
    demo_client: TestClient,
) -> None:
    live = live_version(demo_client, "system")
    template = "You are the assistant. " + "Be brief. " * 10_000  # ~100 kB
    response = save(demo_client, "system", template)
    assert response.status_code == 201, response.text
    version = response.json()["version"]
    stored = demo_client.get(f"{BASE}/system/versions/{version}", auth=ADMIN).json()
    assert stored["template"] == template
    # Every turn would overflow the model's context: publishing it is refused, customers keep the live one.
    refused = demo_client.post(f"{BASE}/system/versions/{version}/publish", auth=ADMIN)
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "prompt_too_long"
    assert "2048-token context" in refused.json()["error"]["message"]
    assert live_version(demo_client, "system") == live
    too_big = save(demo_client, "handoff", "x" * 200_000)
    assert too_big.status_code == 422 and "at most" in too_big.json()["error"]["message"]
    assert save(demo_client, "handoff", "x" * 300_000).status_code == 413


def test_publish_try_and_restore_change_the_next_customer_turn(demo_client: TestClient) -> None:
    original = live_version(demo_client, "no_answer")
    old_reply = chat(demo_client, OUT_OF_SCOPE)
    assert "I don't know" in old_reply

    draft = save(demo_client, "no_answer", "Beats me! Ask {{ company }} something else.").json()["version"]
    tried = demo_client.post(
        f"{BASE}/no_answer/versions/{draft}/try", json={"message": OUT_OF_SCOPE}, auth=ADMIN
    )
    assert tried.status_code == 200, tried.text
    trial = tried.json()
    assert trial["reply"] == "Beats me! Ask Northwind Goods something else."
    assert trial["prompt_versions"] == {"no_answer": draft}
    # A trial is not a customer conversation, and customers still get the live version.
    assert demo_client.get(f"/api/v1/sessions/{trial['session_id']}/messages").status_code == 404
    assert chat(demo_client, OUT_OF_SCOPE) == old_reply
    again = demo_client.post(
        f"{BASE}/no_answer/versions/{draft}/try",
        json={"message": "And the capital of Peru?", "session_id": trial["session_id"]},
        auth=ADMIN,
    )
    assert again.status_code == 200 and again.json()["session_id"] == trial["session_id"]
    assert again.json()["handoff"] is True
    # A second "I don't know" in a row hands the trial over, in the scratch database: no inbox entry.
    queued = demo_client.get("/api/v1/admin/conversations?state=queued", auth=ADMIN).json()["conversations"]
    assert trial["session_id"] not in {c["session_id"] for c in queued}

    published = demo_client.post(f"{BASE}/no_answer/versions/{draft}/publish", auth=ADMIN)
    assert published.status_code == 200 and published.json()["status"] == "live"
    assert chat(demo_client, OUT_OF_SCOPE) == "Beats me! Ask Northwind Goods something else."

    restored = demo_client.post(f"{BASE}/no_answer/versions/{original}/publish", auth=ADMIN)
    assert restored.status_code == 200
    assert chat(demo_client, OUT_OF_SCOPE) == old_reply
    versions = {
        v["version"]: v["status"] for v in demo_client.get(f"{BASE}/no_answer", auth=ADMIN).json()["versions"]
    }
    assert versions[original] == "live" and versions[draft] == "retired"


def test_try_answers_404_for_an_unknown_version_or_a_customer_session(demo_client: TestClient) -> None:
    live = live_version(demo_client, "no_answer")
    unknown = demo_client.post(f"{BASE}/no_answer/versions/999/try", json={"message": "hi"}, auth=ADMIN)
    assert unknown.status_code == 404
    customer = demo_client.post("/api/v1/chat", json={"message": OUT_OF_SCOPE}).json()["session_id"]
    foreign = demo_client.post(
        f"{BASE}/no_answer/versions/{live}/try", json={"message": "hi", "session_id": customer}, auth=ADMIN
    )
    assert foreign.status_code == 404
    empty = demo_client.post(f"{BASE}/no_answer/versions/{live}/try", json={"message": "  "}, auth=ADMIN)
    assert empty.status_code == 422


def test_the_prompt_routes_are_documented(demo_client: TestClient) -> None:
    paths = demo_client.get("/openapi.json").json()["paths"]
    assert {
        BASE,
        f"{BASE}/{{name}}",
        f"{BASE}/{{name}}/versions",
        f"{BASE}/{{name}}/versions/{{version}}/publish",
        f"{BASE}/{{name}}/versions/{{version}}/try",
    } <= set(paths)
    conflict = paths[f"{BASE}/{{name}}/versions"]["post"]["responses"]["409"]
    assert "ConflictBody" in str(conflict)

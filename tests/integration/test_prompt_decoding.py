"""Decoding settings published with the system prompt reach both backends: what the `openai` backend
sends over a real socket, and what the real embedded model (llama.cpp) does with them."""

from __future__ import annotations

import pytest
from langchain_core.messages import HumanMessage
from pydantic import ValidationError

from llm import build_chat_backend
from llm.decoding import Decoding
from settings import Settings
from tests.integration.conftest import ADMIN
from tests.utils.fake_openai import fake_openai

BASE = "/api/v1/admin/prompts"


def test_decoding_settings_are_validated() -> None:
    for bad in (
        {"temperature": -0.1},
        {"top_p": 0},
        {"max_answer_tokens": 2},
        {"stop": ["x"] * 5},
        {"stop": [""]},
    ):
        with pytest.raises(ValidationError):
            Decoding(**bad)


def test_a_published_system_version_decodes_the_next_turn_on_the_openai_backend(make_client) -> None:
    with fake_openai(["ok"]) as (url, fake):
        client = make_client(
            llm_backend="openai", llm_base_url=url, demo_data=False, answer_mode="generative"
        )
        client.post("/api/v1/chat", json={"message": "Where is my parcel?"})
        assert fake.bodies[-1]["temperature"] == 0.2  # FRONTDESK_TEMPERATURE until a version says otherwise
        assert "stop" not in fake.bodies[-1]

        live = client.get(f"{BASE}/system", auth=ADMIN).json()["live"]
        settings = {
            **live["settings"],
            "temperature": 0,
            "top_p": 0.5,
            "max_answer_tokens": 40,
            "stop": ["END"],
        }
        too_long = {**settings, "max_answer_tokens": 4000}
        refused = client.post(
            f"{BASE}/system/versions",
            json={"template": live["template"], "base_version": live["version"], "settings": too_long},
            auth=ADMIN,
        )
        assert refused.status_code == 422 and "max_answer_tokens" in refused.json()["error"]["message"]
        draft = client.post(
            f"{BASE}/system/versions",
            json={
                "template": live["template"],
                "note": "greedy",
                "base_version": live["version"],
                "settings": settings,
            },
            auth=ADMIN,
        )
        assert draft.status_code == 201, draft.text
        assert (
            client.post(f"{BASE}/system/versions/{draft.json()['version']}/publish", auth=ADMIN).status_code
            == 200
        )

        client.post("/api/v1/chat", json={"message": "And my refund?"})
        sent = fake.bodies[-1]
        assert (sent["temperature"], sent["top_p"], sent["stop"]) == (0, 0.5, ["END"])
        assert sent["max_tokens"] == 40 and sent["max_completion_tokens"] == 40


@pytest.mark.slow
def test_the_embedded_model_follows_the_decoding_settings() -> None:
    backend = build_chat_backend(Settings(answer_tokens=64))
    question = [HumanMessage("Write three sentences about the sea.")]
    decoding = Decoding(temperature=0, top_p=0.5, max_answer_tokens=16, stop=["."])
    model = backend.with_decoding(decoding).model
    sent = model._request(question, None)  # type: ignore[attr-defined]
    assert (sent["temperature"], sent["top_p"], sent["max_tokens"], sent["stop"]) == (0, 0.5, 16, ["."])
    answer = model.invoke(question)
    assert answer.text.strip() and "." not in answer.text
    assert answer.usage_metadata is not None and answer.usage_metadata["output_tokens"] <= 16
    assert backend.model.temperature == 0.2  # type: ignore[attr-defined]  # the shared model is unchanged

"""A slow, failing or dead OpenAI-compatible backend, over real sockets: retries, deadlines, breaker."""

from __future__ import annotations

import time

import pytest

from tests.utils.fake_openai import fake_openai

pytestmark = pytest.mark.slow


def chat(client, message: str = "Where is my parcel?", **extra):
    started = time.monotonic()
    response = client.post("/api/v1/chat", json={"message": message, **extra})
    return response, time.monotonic() - started


def test_transient_server_errors_are_retried_before_the_first_token(make_client) -> None:
    with fake_openai(["500", "429", "ok"]) as (url, fake):
        client = make_client(llm_backend="openai", llm_base_url=url, demo_data=False)
        response, _ = chat(client)
    assert response.status_code == 200, response.text
    assert response.json()["reply"] == "Hello there."
    assert fake.requests == 3


def test_a_server_that_never_answers_is_a_503_within_the_first_token_deadline(make_client) -> None:
    with fake_openai(["hang"]) as (url, _):
        client = make_client(
            llm_backend="openai", llm_base_url=url, llm_first_token_s=1, llm_timeout_s=10, demo_data=False
        )
        response, took = chat(client)
    assert response.status_code == 503 and response.json()["session_id"]
    assert took < 9  # three tries of one second each, with short backoff — not 240 s


def test_a_stream_that_stalls_after_the_first_token_is_cut_off(make_client) -> None:
    with fake_openai(["stall"]) as (url, _):
        client = make_client(
            llm_backend="openai", llm_base_url=url, llm_first_token_s=1, llm_timeout_s=10, demo_data=False
        )
        response, took = chat(client)
    assert response.status_code == 503
    assert took < 5


def test_after_repeated_failures_the_next_customers_get_their_answer_at_once(make_client) -> None:
    with fake_openai(["500"]) as (url, fake):
        client = make_client(llm_backend="openai", llm_base_url=url, demo_data=False)
        for _ in range(3):
            assert chat(client)[0].status_code == 503
        asked = fake.requests
        response, took = chat(client)
    assert response.status_code == 503 and response.json()["session_id"]
    assert fake.requests == asked  # the open breaker did not call the backend at all
    assert took < 1

"""Scale-out: two real app processes on one PostgreSQL database and one `chroma run` server, over one
OpenAI-compatible backend (bench/openai_standin.py), answer the same session alternately."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from memory.store import ConversationStore
from storage import make_engine
from tests.utils.server import running_app, running_chroma
from tests.utils.standin import running_standin

pytestmark = pytest.mark.slow

QUESTIONS = [
    "How long does standard shipping take?",
    "Can I return a lamp I bought two weeks ago?",
    "Which payment methods do you accept?",
    "Do gift cards expire?",
]
HELP = """# Store help

## Shipping times
Standard shipping takes 3 to 7 business days. Express shipping takes 1 to 2 business days.

## Returns
You can return a lamp or any other item within 30 days of delivery for a full refund.

## Payment methods
We accept Visa, Mastercard, PayPal and Apple Pay as payment methods.

## Gift cards
Gift cards never expire and can be used for any order.
"""


def test_two_app_processes_answer_one_session_alternately(postgres_url: str, tmp_path: Path) -> None:
    with running_standin(tmp_path, "--rate", "2000") as llm, running_chroma(tmp_path / "chroma") as chroma:
        env = {
            "FRONTDESK_DATABASE_URL": postgres_url,
            "FRONTDESK_CHROMA_URL": chroma,
            "FRONTDESK_LLM_BACKEND": "openai",
            "FRONTDESK_LLM_BASE_URL": llm,
            "FRONTDESK_LLM_MODEL": "standin",
            "FRONTDESK_ANSWER_MODE": "generative",
            "FRONTDESK_ANSWER_TOKENS": "24",
            "FRONTDESK_DEMO_DATA": "false",
        }
        with running_app(tmp_path / "a", env=env) as first, running_app(tmp_path / "b", env=env) as second:
            # Uploaded through the first process; the second finds it in the shared stores.
            upload = httpx.post(
                f"{first}/api/v1/admin/documents",
                files={"file": ("help.md", HELP.encode(), "text/markdown")},
                auth=("admin", "test-admin-pw"),
                timeout=120,
            )
            assert upload.status_code in (200, 201), upload.text
            session = None
            replies = []
            for i, question in enumerate(QUESTIONS):
                base = (first, second)[i % 2]
                response = httpx.post(
                    f"{base}/api/v1/chat", json={"message": question, "session_id": session}, timeout=60
                )
                assert response.status_code == 200, response.text
                session = response.json()["session_id"]
                replies.append(response.json())
            history = httpx.get(f"{first}/api/v1/sessions/{session}/messages").json()["messages"]
            assert history == httpx.get(f"{second}/api/v1/sessions/{session}/messages").json()["messages"]

    # Both processes answered from the shared knowledge base.
    assert all(r["citations"] for r in replies)
    users = [m for m in history if m["role"] == "user"]
    finals = [m for m in history if m["role"] == "assistant"]
    assert [m["content"] for m in users] == QUESTIONS
    assert [m["reply_to"] for m in finals] == [m["id"] for m in users]
    assert {m["status"] for m in users} == {"answered"}
    # Each turn saw the whole conversation so far, whichever process wrote it.
    stored = ConversationStore(make_engine(postgres_url)).messages(session)
    totals = [m.trace["window"]["messages_total"] for m in stored if m.role == "assistant"]
    assert totals == [1, 3, 5, 7]

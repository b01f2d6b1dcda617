"""A process whose database stays busy (every pooled connection in use, SQLite's writer lock held
past its timeout) answers 503 "overloaded", never a 500."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from tests.utils.server import free_port

BUSY = [
    PoolTimeoutError("QueuePool limit of size 5 overflow 10 reached, connection timed out, timeout 30.00"),
    OperationalError("INSERT INTO chat_sessions …", {}, Exception("database is locked")),
]


@pytest.mark.parametrize("error", BUSY, ids=["pool", "sqlite-locked"])
def test_a_busy_database_is_a_503_with_retry_after(make_client, monkeypatch, error: Exception) -> None:
    client = make_client(
        demo_data=False, llm_backend="openai", llm_base_url=f"http://127.0.0.1:{free_port()}/v1"
    )
    store = client.app.state.services.store

    def exhausted(**_: object) -> str:
        raise PoolTimeoutError(
            "QueuePool limit of size 5 overflow 10 reached, connection timed out, timeout 30.00"
        )

    monkeypatch.setattr(store, "create_session", exhausted)
    response = client.post("/api/v1/chat", json={"message": "Hello?"})
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "overloaded"
    assert response.headers["retry-after"] == "5"

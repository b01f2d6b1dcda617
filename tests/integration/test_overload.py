"""A process whose database stays busy (every pooled connection in use, SQLite's writer lock held
past its timeout) answers 503 "overloaded", and one whose PostgreSQL refuses connections 503
"database_unavailable": never a 500, and the same process answers again once the database does."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from tests.integration.conftest import POSTGRES_ADMIN_URL
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
        raise error

    monkeypatch.setattr(store, "start_session", exhausted)
    response = client.post("/api/v1/chat", json={"message": "Where is my parcel?"})
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "overloaded"
    assert response.headers["retry-after"] == "5"


def test_a_postgresql_that_refuses_connections_is_a_503_until_it_is_back(
    make_client, postgres_url: str
) -> None:
    client = make_client(
        demo_data=False,
        llm_backend="openai",
        llm_base_url=f"http://127.0.0.1:{free_port()}/v1",
        database_url=postgres_url,
        db_pool_size=1,
        db_max_overflow=0,
    )
    # The pool follows the settings: one connection, none on top, for this process.
    assert client.app.state.services.store.engine.pool.size() == 1
    name = postgres_url.rsplit("/", 1)[1]
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")

    def connections(allowed: bool) -> None:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(allowed).lower()}'))
            if not allowed:  # and drop the app's pooled connection
                conn.execute(
                    text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                    {"n": name},
                )

    try:
        connections(False)
        for response in (
            client.post("/api/v1/chat", json={"message": "Where is my parcel?"}),
            client.get("/api/v1/sessions/nope/messages"),
        ):
            assert response.status_code == 503
            assert response.json()["error"]["code"] == "database_unavailable"
            assert response.headers["retry-after"] == "5"
        connections(True)
        # Back: the same process stores the message again (the model server is absent here, so the
        # turn itself is the backend's 503, which names the session the message went to).
        response = client.post("/api/v1/chat", json={"message": "Where is my parcel?"})
        assert response.json()["error"]["code"] == "backend_unavailable"
        session = response.json()["session_id"]
        history = client.get(f"/api/v1/sessions/{session}/messages").json()["messages"]
        assert [m["content"] for m in history] == ["Where is my parcel?"]
    finally:
        connections(True)
        admin.dispose()

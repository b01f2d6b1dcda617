"""A process whose database connections all stay busy answers 503 "overloaded", never a 500."""

from __future__ import annotations

from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from tests.utils.server import free_port


def test_an_exhausted_connection_pool_is_a_503_with_retry_after(make_client, monkeypatch) -> None:
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

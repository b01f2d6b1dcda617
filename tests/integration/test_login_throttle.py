"""Admin password guessing is slowed on both doors, the REST API and the Gradio console's login,
and failed logins are logged without the password."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app import build_services
from settings import Settings
from tests.integration.conftest import ADMIN
from web.login_throttle import PER_CLIENT
from web.server import create_app

FREE_TRIES = int(PER_CLIENT.split("/")[0])


@pytest.fixture
def client(embedder, tmp_path) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path / "data", admin_password=ADMIN[1], demo_data=False)
    with TestClient(create_app(build_services(settings, embedder=embedder))) as client:
        yield client


def assert_throttled(response) -> None:
    assert response.status_code == 429, response.text
    assert int(response.headers["retry-after"]) >= 1
    assert response.json()["error"]["code"] == "too_many_requests"


def test_the_admin_api_answers_429_after_repeated_wrong_passwords(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    for n in range(FREE_TRIES):
        wrong = client.get("/api/v1/admin/documents", auth=("admin", f"guess-{n}"))
        assert wrong.status_code == 401
    assert_throttled(client.get("/api/v1/admin/documents", auth=("admin", "guess-x")))
    # While throttled even the right password waits: nothing is checked.
    assert_throttled(client.get("/api/v1/admin/documents", auth=ADMIN))

    failures = [r for r in caplog.records if "Failed admin login" in r.getMessage()]
    assert len(failures) == FREE_TRIES
    assert all("guess" not in r.getMessage() for r in caplog.records)


def test_requests_without_credentials_are_not_counted(client: TestClient) -> None:
    for _ in range(FREE_TRIES * 2):
        assert client.get("/api/v1/admin/documents").status_code == 401
    assert client.get("/api/v1/admin/documents", auth=ADMIN).status_code == 200


def test_a_right_password_clears_the_clients_failures(client: TestClient) -> None:
    for _ in range(FREE_TRIES - 1):
        assert client.get("/api/v1/admin/documents", auth=("admin", "typo")).status_code == 401
    assert client.get("/api/v1/admin/documents", auth=ADMIN).status_code == 200
    for _ in range(FREE_TRIES - 1):
        assert client.get("/api/v1/admin/documents", auth=("admin", "typo")).status_code == 401
    assert client.get("/api/v1/admin/documents", auth=ADMIN).status_code == 200


def test_the_admin_console_login_is_throttled_too(client: TestClient) -> None:
    for n in range(FREE_TRIES):
        wrong = client.post("/admin/login", data={"username": "admin", "password": f"guess-{n}"})
        assert wrong.status_code == 400  # what Gradio's login page expects for a wrong password
    assert_throttled(client.post("/admin/login", data={"username": "admin", "password": "guess-x"}))
    # The two doors share the count: the REST API is throttled for this client as well.
    assert_throttled(client.get("/api/v1/admin/documents", auth=("admin", "guess-y")))


def test_the_admin_console_login_still_works(client: TestClient) -> None:
    response = client.post("/admin/login", data={"username": "admin", "password": ADMIN[1]})
    assert response.status_code == 200 and response.json() == {"success": True}
    assert client.get("/admin/config").status_code == 200

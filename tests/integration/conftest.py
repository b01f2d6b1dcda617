"""Integration fixtures: the real app in-process (real SQLite/PostgreSQL, Chroma, embedded model)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from app import build_services
from settings import Settings
from web.server import create_app

POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
ADMIN = ("admin", "test-admin-pw")


@pytest.fixture
def make_client(embedder, tmp_path: Path) -> Iterator[Callable[..., TestClient]]:
    """Builds the whole app on real parts with the given settings; closed after the test."""
    clients: list[TestClient] = []

    def factory(**overrides) -> TestClient:
        values = {
            "data_dir": tmp_path / f"app{len(clients)}",
            "admin_password": ADMIN[1],
            "answer_tokens": 48,
            **overrides,
        }
        client = TestClient(create_app(build_services(Settings(**values), embedder=embedder)))
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.close()


@pytest.fixture(scope="module")
def demo_client(embedder, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One app with the demo help center and the embedded model, shared by a module's tests."""
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("demo") / "data", admin_password=ADMIN[1], answer_tokens=48
    )
    with TestClient(create_app(build_services(settings, embedder=embedder))) as client:
        yield client


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database on the local server, dropped afterwards."""
    name = f"frontdesk_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        pytest.fail(f"PostgreSQL at 127.0.0.1:5432 is required for this test: {exc}")
    yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()

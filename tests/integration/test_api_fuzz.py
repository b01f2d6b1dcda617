"""Schemathesis fuzzes the cheap REST routes from the app's own OpenAPI spec: no 5xx, ever, and
every error in the `{"error": {"code", "message"}}` shape. Turns that would run the model are never
sent: the chat route only gets bodies that break its schema."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from app import build_services
from settings import Settings
from tests.integration.conftest import ADMIN
from web.server import create_app

pytestmark = [pytest.mark.slow, pytest.mark.fuzz]

EXAMPLES = 20
BASIC = "Basic " + base64.b64encode(f"{ADMIN[0]}:{ADMIN[1]}".encode()).decode()
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.function_scoped_fixture,
    ],
)
CHEAP = [
    ("/healthz", "GET"),
    ("/api/v1/sessions/{session_id}/messages", "GET"),
    ("/api/v1/admin/documents", "GET"),
    ("/api/v1/admin/documents/{doc_id}", "DELETE"),
    ("/api/v1/admin/documents/{doc_id}/reindex", "POST"),
    ("/api/v1/admin/kb/search", "GET"),
    ("/api/v1/messages/{message_id}/feedback", "POST"),
    ("/api/v1/admin/conversations", "GET"),
    ("/api/v1/admin/messages/{message_id}/trace", "GET"),
    ("/api/v1/admin/feedback", "GET"),
    ("/api/v1/admin/export", "GET"),
    ("/api/v1/webhooks/{channel}", "POST"),
    ("/api/v1/admin/channels", "GET"),
    ("/api/v1/admin/deliveries", "GET"),
    ("/api/v1/admin/api-keys", "GET"),
    ("/api/v1/admin/prompts", "GET"),
    ("/api/v1/admin/prompts/{name}", "GET"),
    ("/api/v1/admin/prompts/{name}/versions", "POST"),
    ("/api/v1/admin/prompts/{name}/versions/{version}", "GET"),
    ("/api/v1/admin/prompts/{name}/versions/{version}/publish", "POST"),
]


@pytest.fixture(scope="module")
def app(embedder, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    settings_ = Settings(
        data_dir=tmp_path_factory.mktemp("fuzz") / "data", admin_password=ADMIN[1], demo_data=False
    )
    app = create_app(build_services(settings_, embedder=embedder))
    with TestClient(app):  # runs the lifespan, as a server would
        yield app


@pytest.fixture(scope="module")
def schema(app) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def check(case, response) -> None:
    case.validate_response(response, checks=[not_a_server_error])
    if response.status_code >= 400:
        error = response.json()["error"]
        assert isinstance(error["code"], str) and isinstance(error["message"], str), response.text


def would_run_the_model(body: object) -> bool:
    return isinstance(body, dict) and isinstance(body.get("message"), str)


@pytest.mark.parametrize(("path", "method"), CHEAP)
@pytest.mark.parametrize("login", [True, False], ids=["admin", "anonymous"])
def test_cheap_routes_never_fail_on_our_side(schema, path: str, method: str, login: bool) -> None:
    operation = schema[path][method]
    headers = {"Authorization": BASIC} if login else {}

    @FUZZ
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        mode = data.draw(st.sampled_from([GenerationMode.POSITIVE, GenerationMode.NEGATIVE]))
        case = data.draw(operation.as_strategy(generation_mode=mode))
        if path.endswith("/reindex") and mode is GenerationMode.POSITIVE:
            case.path_parameters = {"doc_id": "no-such-document"}  # re-indexing a real one embeds it
        check(case, case.call(headers=headers))

    run()


def test_chat_with_invalid_bodies_is_a_clear_4xx(schema) -> None:
    operation = schema["/api/v1/chat"]["POST"]

    @FUZZ
    @given(case=operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))
    def run(case) -> None:
        if would_run_the_model(case.body):
            return
        response = case.call()
        check(case, response)
        assert 400 <= response.status_code < 500

    run()
